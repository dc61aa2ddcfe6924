"""Java .properties: a real resource bundle (Apache Tomcat) and the syntax Properties.load documents."""

import shutil
from pathlib import Path

import pytest

from bayling_cat.connectors import open_document
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "properties"
SYNTAX = ("# Greeting shown on the home page\nhello = Hello {0}, it''s {1,number} o''clock\n! a bang comment\n"
          "multi: first \\\n    second line\\n\nkey\\ with\\=sep value with caf\\u00e9\n\n  spaced\tTab separated\n"
          "empty=\n")


def java_load(text: str) -> dict:
    """What java.util.Properties.load reads (the connector's own reader is what is under test elsewhere)."""
    from translate.storage import properties

    store = properties.javafile.parsestring(text.encode("latin-1"))
    return {u.name: u.source for u in store.units if u.name}


def run(path, lang, script=None):
    translator = ScriptedTranslator(script or {})
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def test_real_bundle_round_trip_and_translation(tmp_path):
    source = tmp_path / "LocalStrings.properties"
    shutil.copy(DATA / "LocalStrings.properties", source)
    connector = open_document(source)
    connector.set_target_language("de")
    assert connector.segments() and connector.serialize() == source.read_bytes()
    result, translator = run(source, "de")
    assert result.output == tmp_path / "LocalStrings_de.properties"  # ResourceBundle's naming
    assert "Invalid expression [<1/>]" in translator.calls[0][0]
    before, after = java_load(source.read_text()), java_load(result.output.read_text())
    assert list(after) == list(before)
    assert after["ssiFsize.noSize"] == "[de] Cannot get size for file [{0}]"
    assert result.output.read_text().startswith("# Licensed to the Apache Software Foundation")


def test_syntax_escapes_messageformat_apostrophes_and_comments(tmp_path):
    path = tmp_path / "app_en.properties"
    path.write_bytes(SYNTAX.encode("latin-1"))
    connector = open_document(path)
    connector.set_target_language("fr")
    segments = {s.key: s for s in connector.segments()}
    assert connector.serialize() == path.read_bytes()
    assert segments["hello"].source == "Hello <1/>, it's <2/> o'clock"  # '' is one apostrophe for the model
    assert segments["hello"].hint.context == "Greeting shown on the home page"
    assert segments["multi"].source == "first second line<1/>"
    assert segments["key with=sep"].source == "value with café"
    result, _ = run(path, "pt-BR", {"Hello <1/>, it's <2/> o'clock": "Olá <1/>, são <2/> horas — l'été"})
    assert result.output == tmp_path / "app_pt_BR.properties"
    data = result.output.read_bytes()
    assert data.isascii()  # an ASCII file stays ASCII: \\uXXXX escapes, as Java 8 reads it
    loaded = java_load(data.decode("latin-1"))
    assert loaded["hello"] == "Ol\u00e1 {0}, s\u00e3o {1,number} horas \u2014 l''\u00e9t\u00e9"  # MessageFormat quoting
    assert loaded["multi"] == "[pt-BR] first second line\n"
    assert loaded["key\\ with\\=sep"] == "[pt-BR] value with caf\u00e9" and loaded["empty"] == ""
    assert b"! a bang comment\n" in data and b"  spaced\t[pt-BR] Tab separated\n" in data


def test_a_utf8_bundle_stays_utf8(tmp_path):
    path = tmp_path / "messages.properties"
    path.write_bytes("title=Caf\u00e9 menu\n".encode("utf-8"))
    result, _ = run(path, "ja")
    assert result.output.read_bytes() == "title=[ja] Caf\u00e9 menu\n".encode("utf-8")
    assert result.output.name == "messages_ja.properties"


def test_binary_input_is_refused(tmp_path):
    from bayling_cat.errors import UserError

    path = tmp_path / "x.properties"
    path.write_bytes(b"a=b\nc=\x00d\n")
    with pytest.raises(UserError, match=r"x.properties: line 2: a NUL character"):
        open_document(path)
