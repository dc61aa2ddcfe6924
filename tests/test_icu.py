"""ICU MessageFormat: branches translated one by one, the selector, keywords and braces kept, plural branches
laid out for the target language's CLDR categories; and Angular's ICU units in XLIFF (issue 25, item 20)."""

import re
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.connectors import icu, open_document
from bayling_cat.pipeline import Options, Pipeline
from tests.conftest import SHARED
from tests.fakes import ScriptedTranslator

ANGULAR = SHARED / "corpus" / "xliff12" / "algorea_angular_messages.fr.xlf"
X = "{urn:oasis:names:tc:xliff:document:1.2}"


def shape(message: str):
    """The skeleton of a message: selectors, kinds and branch keys, nested."""
    def walk(parts):
        return [(p.name, p.kind, [(k, walk(b)) for k, b in p.branches]) for p in parts if isinstance(p, icu.Select)]
    return walk(icu.parse(message))


def test_plural_branches_follow_the_target_languages_categories():
    text = "{count, plural, =0 {No files} one {# file} other {# files}}"
    laid = icu.plan(text, "en", "ru")
    assert [leaf.path for leaf in laid.leaves] == [("=0",), ("one",), ("few",), ("many",), ("other",)]
    # Russian 'one' serves 1, 21, 31: English 'one' ("# file") has the same placeholder as 'other', so it fits
    assert [leaf.raw for leaf in laid.leaves] == ["No files", "# file", "# files", "# files", "# files"]
    assert "2, 3, 4" in laid.leaves[2].hint and "'few'" in laid.leaves[2].hint
    assert [leaf.path for leaf in icu.plan(text, "en", "ja").leaves] == [("=0",), ("other",)]
    one = icu.plan("{n, plural, one {One file} other {# files}}", "en", "ru").leaves
    assert one[0].raw == "# files"  # "One file" cannot say 21: Russian 'one' is made from 'other'


def test_text_around_a_selector_moves_into_every_branch_and_renders_the_same():
    laid = icu.plan("You have {n, plural, one {# file} other {# files}} in {g, select, a {A} other {B}}.", "en", "de")
    assert [leaf.raw for leaf in laid.leaves] == ["You have # file in A.", "You have # file in B.",
                                                  "You have # files in A.", "You have # files in B."]
    out = icu.render(laid, {leaf.path: leaf.raw for leaf in laid.leaves})
    assert shape(out) == [("n", "plural", [("one", [("g", "select", [("a", []), ("other", [])])]),
                                           ("other", [("g", "select", [("a", []), ("other", [])])])])]


def test_model_text_is_escaped_so_the_message_stays_valid():
    assert icu.escape("l'{x} #1 it's", plural=True) == "l'''{'x'}' '#'1 it's"
    laid = icu.plan("{n, plural, one {# x} other {# y}}", "en", "en")
    out = icu.render(laid, {leaf.path: icu.escape("{oops} # '", True) for leaf in laid.leaves})
    assert shape(out) == [("n", "plural", [("one", []), ("other", [])])]


@pytest.mark.parametrize("bad", ["{n, plural, one {x}}", "{n, plural, one {x} other {y}", "{n, select, other {a}}}"])
def test_malformed_messages_are_refused(bad):
    with pytest.raises(icu.IcuError):
        icu.plan(bad, "en", "de")


def test_no_selector_is_no_icu_message():
    assert icu.plan("Hello {name}, {n, number} items", "en", "de") is None


def _template(tmp_path: Path) -> Path:
    """The Angular catalogue without its French targets: what a project starting a language hands over."""
    data = re.sub(rb"<target[^>]*>.*?</target>", b"", ANGULAR.read_bytes(), flags=re.S)
    path = tmp_path / "messages.xlf"
    path.write_bytes(data)
    return path


@pytest.mark.skipif(not ANGULAR.exists(), reason="the shared corpus is not beside the checkout")
def test_angular_icu_units_keep_selector_keywords_and_codes(tmp_path):
    source = _template(tmp_path)
    out = tmp_path / "messages.ru.xlf"
    translator = ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang="ru", checks=False, output=out)).run([str(source)])[0]
    assert result.error is None
    sent = translator.calls[0][0]
    assert not any("VAR_PLURAL" in t or "VAR_SELECT" in t or "plural," in t for t in sent)  # never the skeleton
    units = {u.get("id"): u for u in etree.parse(str(out)).iter(f"{X}trans-unit")}
    source_units = {u.get("id"): u for u in etree.parse(str(source)).iter(f"{X}trans-unit")}
    plural = units["6651741734374467259"].find(f"{X}target")
    assert plural.text == ("{VAR_PLURAL, plural, =1 {[ru] via group} one {[ru] via groups} few {[ru] via groups} "
                           "many {[ru] via groups} other {[ru] via groups}}")
    select = units["2796668005826272208"].find(f"{X}target").text
    assert shape(select) == [("VAR_SELECT", "select", [("Users", []), ("Teams", []), ("other", [])])]
    checked = 0
    for uid, unit in units.items():  # every ICU unit: a valid message, its codes kept in every branch
        src = source_units[uid].find(f"{X}source")
        if src is None or src.text is None or not src.text.startswith("{VAR_"):
            continue
        target = unit.find(f"{X}target")
        shape(target.text + "".join("X" + (c.tail or "") for c in target))  # a valid message around the codes
        codes = {etree.tostring(c, with_tail=False) for c in src}
        assert {etree.tostring(c, with_tail=False) for c in target} == codes, uid
        checked += 1
    assert checked >= 15


@pytest.mark.skipif(not ANGULAR.exists(), reason="the shared corpus is not beside the checkout")
def test_angular_file_round_trips_and_translated_icu_units_are_left_alone(tmp_path):
    connector = open_document(ANGULAR)
    segments = connector.segments()
    assert connector.serialize() == ANGULAR.read_bytes()
    leaves = [s for s in segments if s.key.startswith("6651741734374467259#")]
    assert [s.key.split("#")[1] for s in leaves] == ["=1", "one", "many", "other"]  # French
    assert [s.target for s in leaves][0] == "via le groupe"
    result = Pipeline(ScriptedTranslator(), Options(checks=False, output=tmp_path / "o.xlf")).run([str(ANGULAR)])[0]
    assert all(s.action == "skipped" for s in result.segments if "#" in s.key)


def test_a_branch_without_translation_leaves_the_message_unwritten(tmp_path):
    path = tmp_path / "icu.xlf"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" '
                    'xmlns="urn:oasis:names:tc:xliff:document:1.2"><file source-language="en" target-language="de" '
                    'datatype="plaintext" original="x"><body><trans-unit id="1"><source>{VAR_PLURAL, plural, '
                    '=1 {Activity} other {Activities}}</source></trans-unit></body></file></xliff>\n', encoding="utf-8")
    translator = ScriptedTranslator(flags={"Activities": ["empty"]})
    result = Pipeline(translator, Options(checks=False, output=tmp_path / "o.xlf")).run([str(path)])[0]
    assert result.error is None
    unit = etree.parse(str(tmp_path / "o.xlf")).find(f".//{X}trans-unit")
    assert unit.find(f"{X}target") is None  # nothing half translated
    notes = [n.text for n in unit.findall(f"{X}note")]
    assert any("ICU message not written" in n for n in notes)


def test_suggest_mode_offers_the_whole_message(tmp_path):
    path = tmp_path / "icu.xlf"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" '
                    'xmlns="urn:oasis:names:tc:xliff:document:1.2"><file source-language="en" target-language="ru" '
                    'datatype="plaintext" original="x"><body><trans-unit id="1"><source>{VAR_PLURAL, plural, '
                    '=1 {Activity} other {Activities}}</source></trans-unit></body></file></xliff>\n', encoding="utf-8")
    result = Pipeline(ScriptedTranslator(), Options(checks=False, mode="suggest", output=tmp_path / "o.xlf")).run(
        [str(path)])[0]
    assert result.error is None
    unit = etree.parse(str(tmp_path / "o.xlf")).find(f".//{X}trans-unit")
    [alt] = unit.findall(f"{X}alt-trans")
    assert alt.findtext(f"{X}target") == ("{VAR_PLURAL, plural, =1 {[ru] Activity} one {[ru] Activities} "
                                          "few {[ru] Activities} many {[ru] Activities} other {[ru] Activities}}")
    assert unit.find(f"{X}target") is None
