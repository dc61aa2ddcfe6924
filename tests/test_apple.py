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
