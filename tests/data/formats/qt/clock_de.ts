<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="de_DE">
<context>
    <name>Main</name>
    <message>
        <location filename="../Main.qml" line="15"/>
        <source>Digital Clock</source>
        <translation>Digitale Uhr</translation>
    </message>
    <message numerus="yes">
        <location filename="../Main.qml" line="33"/>
        <source>%n second(s)</source>
        <comment>seconds</comment>
        <translation>
            <numerusform>%n Sekunde</numerusform>
            <numerusform>%n Sekunden</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../Main.qml" line="43"/>
        <source>Locale: %1</source>
        <translation>Gebietsschema: %1</translation>
    </message>
</context>
</TS>
