"""Inline codes as placeholders: flattening, repair of what the model did to them, and rebuilding."""

from lxml import etree

from bayling_cat.connectors.xliff1 import classify
from bayling_cat.document import Segment, flatten, rebuild, repair

NS = "urn:oasis:names:tc:xliff:document:1.2"


def source(xml):
    return etree.fromstring(f'<source xmlns="{NS}">{xml}</source>')


def test_flatten_numbers_codes_in_order():
    el = source('A <g id="1">bold <x id="2"/> word</g> and <ph id="3">{0}<sub>s</sub></ph>.')
    text, codes = flatten(el, classify)
    assert text == "A <1>bold <2/> word</1> and <3/>."
    assert [codes[n].paired for n in (1, 2, 3)] == [True, False, False]


def test_literal_placeholder_text_is_protected():
    text, codes = flatten(source("Type &lt;1&gt; then <x id='9'/>"), classify)
    assert text == "Type <1/> then <2/>"
    target = source("")
    rebuild(target, "Tippen Sie <1/> dann <2/>", codes)
    assert etree.tostring(target).decode().endswith('>Tippen Sie &lt;1&gt; dann <x id="9"/></source>')


def test_repair_keeps_a_correct_translation():
    _, codes = flatten(source('A <g id="1">b</g> <x id="2"/>'), classify)
    assert repair("X <1>y</1> <2/>", codes) == ("X <1>y</1> <2/>", False)
    assert repair("<2/> X <1>y</1>", codes) == ("<2/> X <1>y</1>", False)  # reordering is allowed


def test_repair_lost_duplicated_invented_and_unbalanced_codes():
    _, codes = flatten(source('A <g id="1">b</g> <x id="2"/> <g id="3">c</g>'), classify)
    assert repair("X y", codes) == ("X y<1></1><2/><3></3>", True)  # lost: appended in source order
    # a dropped placeholder takes one of the spaces around it along: never a double space
    assert repair("X <2/> <2/> <1>y</1> <3>z</3>", codes) == ("X <2/> <1>y</1> <3>z</3>", True)
    assert repair("X <7/> <1>y</1><2/><3>z</3>", codes) == ("X <1>y</1><2/><3>z</3>", True)
    # misnested: the pair closed properly wins, the other is dropped and re-added at the end
    assert repair("<1>a <3>b</1> c</3><2/>", codes) == ("a <3>b c</3><2/><1></1>", True)
    assert repair("<1>open <2/><3>z</3>", codes) == ("open <2/><3>z</3><1></1>", True)


def test_repair_never_leaves_a_double_space_nor_a_space_before_punctuation():
    _, codes = flatten(source('Click <ph id="1">&lt;b&gt;</ph> to <x id="2"/> continue.'), classify)
    # issue 10, item 25: "weiß  zu klicken.<ph…>"
    assert repair("Sie weiß <9/> zu klicken.", codes) == ("Sie weiß zu klicken.<1/><2/>", True)
    assert repair("Sie weiß <1> zu <2/> klicken <1/>.", codes) == ("Sie weiß zu <2/> klicken <1/>.", True)
    assert repair("Klicken <2/> <7/> <1/> weiter", codes) == ("Klicken <2/> <1/> weiter", True)
    assert repair("Klicken <2/> <1/> weiter. ", codes) == ("Klicken <2/> <1/> weiter. ", False)
    assert repair("Weiter. ", codes) == ("Weiter.<1/><2/> ", True)  # lost codes go before trailing space
    assert repair("a\u00a0<8/>\u00a0b", codes)[0] == "a\u00a0b<1/><2/>"


def test_the_double_space_check_sees_spaces_doubled_around_a_removed_code():
    from bayling_cat.quality import plain, run_checks

    text, codes = flatten(source('Click <x id="1"/> to continue.'), classify)
    assert plain(text, codes) == "Click to continue."
    assert "doublespacing" in run_checks(plain(text, codes), plain("Klicken  <1/> weiter.", codes), "de")
    assert "doublespacing" not in run_checks(plain(text, codes), plain("Klicken <1/> weiter.", codes), "de")


def test_rebuild_restores_elements_with_attributes_and_content():
    el = source('Open <bpt id="3" ctype="link">&lt;a&gt;</bpt>help<ept id="3">&lt;/a&gt;</ept> <g id="1" ctype="bold">now</g>')
    text, codes = flatten(el, classify)
    seg = Segment("u", text, codes)
    target = etree.SubElement(el.getparent() if el.getparent() is not None else etree.Element("x"), "target")
    rebuild(target, "<1/>Hilfe<2/> <3>jetzt</3> öffnen", seg.codes)
    xml = etree.tostring(target, encoding="unicode")
    assert xml == ('<target><bpt xmlns="urn:oasis:names:tc:xliff:document:1.2" id="3" ctype="link">&lt;a&gt;</bpt>'
                   'Hilfe<ept xmlns="urn:oasis:names:tc:xliff:document:1.2" id="3">&lt;/a&gt;</ept> '
                   '<g xmlns="urn:oasis:names:tc:xliff:document:1.2" id="1" ctype="bold">jetzt</g> öffnen</target>')


def test_has_text():
    assert Segment("a", "3.14 <1/> (%)").has_text is False
    assert Segment("a", "Save <1/>").has_text is True


def test_repair_drops_every_malformed_placeholder():
    """Seen in real output: ``Audacity <1/2/>``, ``msgstr[1] "<1/2>%d"``, ``G</1.``: written literally before."""
    from bayling_cat.document import Code

    one = {1: Code(1, None, paired=False, can_delete=False, literal="%d")}
    assert repair("Audacity <1/2/>", {}) == ("Audacity", True)
    assert repair("<1/2><1/> Dateien", one) == ("<1/> Dateien", True)
    assert repair("<1/2>Dateien", one) == ("Dateien<1/>", True)
    assert repair("G</1.", {}) == ("G.", True)
    assert repair("a <1/ b", one) == ("a b<1/>", True)
    assert repair("x </1 y <1/>", one) == ("x y <1/>", True)
    assert repair("Ich <3 dich <1/>", one) == ("Ich <3 dich <1/>", False)  # a bare "<3" is text
    assert repair("a < 1 b <1/>", one) == ("a < 1 b <1/>", False)
