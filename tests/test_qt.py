"""Qt Linguist .ts: Qt's own localizedclock example, as lupdate hands it over (unfinished) and finished."""

import re
from pathlib import Path

from lxml import etree

from bayling_cat.connectors import open_document
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "qt"


def unfinished(text: str) -> str:
    """The file as lupdate writes it for a language nobody translated yet."""
    text = re.sub(r"<translation>([^<]+)</translation>", '<translation type="unfinished"></translation>', text)
    text = re.sub(r"<numerusform>[^<]*</numerusform>", "<numerusform></numerusform>", text)
    return text.replace("<translation>\n", '<translation type="unfinished">\n')


def run(path, lang=None):
    translator = ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False, output=path.with_name("out.ts"))).run(
        [str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def test_finished_file_round_trips_and_is_left_alone(tmp_path):
    connector = open_document(DATA / "clock_de.ts")
    segments = connector.segments()
    assert [s.key for s in segments] == ["Main/1", "Main/2[0]", "Main/2[1]", "Main/3"]
    assert connector.target_lang == "de-DE" and all(s.target for s in segments)
    assert connector.serialize() == (DATA / "clock_de.ts").read_bytes()


def test_lupdate_output_into_russian(tmp_path):
    path = tmp_path / "clock_ru.ts"
    path.write_text(unfinished((DATA / "clock_de.ts").read_text()).replace('language="de_DE"', 'language="ru_RU"'))
    result, translator = run(path)
    sent = translator.calls[0][0]
    assert sorted(sent) == ["<1/> second(s)"] * 3 + ["Digital Clock", "Locale: <1/>"]  # %n and %1 are codes
    hints = [h for t, h in zip(sent, translator.hints) if t == "<1/> second(s)"]
    assert [f"plural form {k} of 3" in h for k, h in zip((1, 2, 3), hints)] == [True] * 3
    assert all(h.context == "seconds" for h in hints)  # the disambiguating comment
    root = etree.parse(str(result.output)).getroot()
    messages = root.findall(".//message")
    assert [m.find("translation").get("type") for m in messages] == ["unfinished"] * 3  # for a person to accept
    forms = [f.text for f in messages[1].iter("numerusform")]
    assert forms == ["[ru-RU] %n second(s)"] * 3
    assert [m.find("location").get("line") for m in messages] == ["15", "33", "43"]
    assert messages[2].findtext("translation") == "[ru-RU] Locale: %1"


def test_accelerators_are_codes(tmp_path):
    path = tmp_path / "menu_fr.ts"
    path.write_text('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE TS>\n<TS version="2.1" language="fr_FR">\n'
                    '<context>\n    <name>Menu</name>\n    <message>\n        <source>&amp;Open &amp;&amp; close</source>\n'
                    '        <translation type="unfinished"></translation>\n    </message>\n</context>\n</TS>\n')
    [segment] = open_document(path).segments()
    assert segment.source == "<1/>Open && close"
    result, _ = run(path)
    assert "<translation type=\"unfinished\">[fr-FR] &amp;Open &amp;&amp; close</translation>" in result.output.read_text()
