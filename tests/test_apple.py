"""Apple string tables: a real app's Localizable.strings (BSImagePicker) in UTF-8 and in Xcode's UTF-16,
and the .strings syntax (comments as context, escapes, %@ placeholders, bare keys)."""

import shutil
from pathlib import Path

import pytest

from bayling_cat.connectors import open_document
from bayling_cat.errors import UserError
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "apple"


def read_strings(data: bytes) -> dict:
    """An independent reader: translate-toolkit's stringsfile (what Weblate and Pootle read .strings with)."""
    from translate.storage import properties

    kind = properties.stringsfile if data[:2] in (b"\xff\xfe", b"\xfe\xff") else properties.stringsutf8file
    return {u.getid(): u.source for u in kind.parsestring(data).units}


def run(path, lang, translator=None):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


@pytest.mark.parametrize("codec, bom", [("utf-8", b""), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_strings_round_trip_and_translation_in_each_encoding(tmp_path, codec, bom):
    text = (DATA / "en.lproj" / "Localizable.strings").read_text(encoding="utf-8")
    path = tmp_path / "en.lproj" / "Localizable.strings"
    path.parent.mkdir()
    path.write_bytes(bom + text.encode(codec))
    connector = open_document(path)
    connector.set_target_language("de")
    segments = {s.key: s for s in connector.segments()}
    assert connector.serialize() == path.read_bytes()
    assert segments["title_alert"].hint.context == "Alert"
    result, translator = run(path, "de")
    assert result.output == tmp_path / "de.lproj" / "Localizable.strings"
    data = result.output.read_bytes()
    assert data.startswith(bom) and data[len(bom):].decode(codec).startswith("/* \n  Localizable.strings\n")
    before, after = read_strings(path.read_bytes()), read_strings(data)
    assert list(after) == list(before)
    assert after["cancel"] == "[de] Cancel"
    assert "title_alert" not in " ".join(translator.calls[0][0])  # keys never translated


SYNTAX = ('/* Shown when %@ uploads */\n"upload %@" = "%1$@ uploaded \\"%2$lld\\" files\\nnow";\n'
          'bare_key = "Tab\\there";\n"unicode" = "caf\\U00e9";\n')


def test_syntax_placeholders_escapes_and_bare_keys(tmp_path):
    path = tmp_path / "Base.lproj" / "Main.strings"
    path.parent.mkdir()
    path.write_text(SYNTAX, encoding="utf-8")
    connector = open_document(path)
    segments = {s.key: s for s in connector.segments()}
    assert segments["upload %@"].source == '<1/> uploaded "<2/>" files<3/>now'
    assert segments["upload %@"].hint.context == "Shown when %@ uploads"
    assert segments["bare_key"].source == "Tab<1/>here" and segments["unicode"].source == "café"
    result, _ = run(path, "fr", ScriptedTranslator({'<1/> uploaded "<2/>" files<3/>now':
                                                     '<1/> a envoyé « <2/> » fichiers<3/>maintenant'}))
    assert result.output == tmp_path / "fr.lproj" / "Main.strings"
    assert result.output.read_text().splitlines()[1] == \
        '"upload %@" = "%1$@ a envoyé « %2$lld » fichiers\\nmaintenant";'


@pytest.mark.parametrize("data, message", [
    (b'"a" = "b";\n"c" = "unterminated;\n', "line 2: not a .strings entry"),
    (b'"a" = "b"\n"c" = "d";\n', 'line 1: expected "key" = "value";'),
])
def test_malformed_strings_are_refused(tmp_path, data, message):
    path = tmp_path / "x.strings"
    path.write_bytes(data)
    with pytest.raises(UserError, match=message):
        open_document(path)


def test_stringsdict_plurals_follow_cldr(tmp_path):
    shutil.copytree(DATA, tmp_path / "apple")
    source = tmp_path / "apple" / "en.lproj" / "Localizable.stringsdict"
    connector = open_document(source)
    connector.set_target_language("ru")
    assert connector.segments() and connector.serialize() == source.read_bytes()
    result, translator = run(source, "ru")
    assert result.output == tmp_path / "apple" / "ru.lproj" / "Localizable.stringsdict"
    import plistlib

    before, after = plistlib.loads(source.read_bytes()), plistlib.loads(result.output.read_bytes())
    entry = after["Imported %d car(s) with %d fuel event(s)."]
    assert list(after) == list(before)
    assert entry["NSStringLocalizedFormatKey"] == "[ru] Imported %#@cars@ with %#@events@."
    cars = entry["cars"]
    assert [k for k in cars if not k.startswith("NS")] == ["one", "few", "many", "other"]
    assert cars["NSStringFormatValueTypeKey"] == "d" and all("%d" in cars[c] for c in ("one", "few", "many", "other"))
    assert "one car" not in translator.calls[0][0]  # no source for Russian 'one' (1, 21, 31)
    into_japanese, _ = run(source, "ja")
    cars = plistlib.loads(into_japanese.output.read_bytes())["Imported %d car(s) with %d fuel event(s)."]["cars"]
    assert [k for k in cars if not k.startswith("NS")] == ["other"]


def test_xcstrings_adds_the_language_marked_for_review(tmp_path):
    import json

    source = tmp_path / "Localizable.xcstrings"
    shutil.copy(DATA / "Localizable.xcstrings", source)
    connector = open_document(source)
    connector.set_target_language("de")
    assert connector.segments() and connector.serialize() == source.read_bytes()
    result, translator = run(source, "de")
    assert result.output == tmp_path / "Localizable.de.xcstrings"
    before, after = json.loads(source.read_text()), json.loads(result.output.read_text())
    assert list(after["strings"]) == list(before["strings"])  # keys never translated, order kept
    sent = translator.calls[0][0]
    assert "ERROR" not in sent and "DinnerConnect" not in sent  # shouldTranslate: false
    unit = after["strings"]["Allow notifications"]["localizations"]["de"]["stringUnit"]
    assert unit == {"state": "needs_review", "value": "[de] Allow notifications"}
    assert after["strings"]["About me"]["localizations"]["nl"] == before["strings"]["About me"]["localizations"]["nl"]
    # the source language's own override is the source ("%1$@, %2$@" for the key "%@, %@")
    assert after["strings"]["Login (fast)"]["localizations"]["de"]["stringUnit"]["value"] == "[de] Login (fast) 🚀"
    from bayling_cat.connectors.jsonres import scan

    def entries(text):
        strings = next(v for k, _, v in scan(text)[0].members if k == "strings")
        return {k: text[v.start:v.end] for k, _, v in strings.members}

    old, new = entries(source.read_text()), entries(result.output.read_text())
    untouched = [k for k in before["strings"] if "de" not in after["strings"][k].get("localizations", {})]
    assert len(untouched) > 10 and all(old[k] == new[k] for k in untouched)  # byte for byte the source's
    assert result.output.read_text().count('"state" : "needs_review"') == len(
        [s for s in result.segments if s.action in ("translated", "copied")])


XC_PLURAL = {"sourceLanguage": "en", "version": "1.0", "strings": {"%lld files": {"comment": "File count",
             "localizations": {"en": {"variations": {"plural": {
                 "one": {"stringUnit": {"state": "translated", "value": "%lld file"}},
                 "other": {"stringUnit": {"state": "translated", "value": "%lld files"}}}}}}}}}


def test_xcstrings_plural_variations_follow_cldr(tmp_path):
    import json

    source = tmp_path / "Localizable.xcstrings"
    source.write_text(json.dumps(XC_PLURAL, indent=2, separators=(",", " : ")))
    result, translator = run(source, "pl")
    plural = json.loads(result.output.read_text())["strings"]["%lld files"]["localizations"]["pl"]["variations"]["plural"]
    assert list(plural) == sorted(["one", "few", "many", "other"])  # Xcode's order: sorted keys
    assert all(v["stringUnit"]["state"] == "needs_review" and "%lld" in v["stringUnit"]["value"] for v in plural.values())
    assert all(h.context == "File count" for h in translator.hints)
