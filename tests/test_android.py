"""Android strings.xml: a real app's resources (android/sunflower) and the escapes, markup and structures
Android documents (string-array, CDATA, \\' and \\", xliff:g, quoted values, translatable="false")."""

import re
import shutil
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.connectors import icu, open_document
from bayling_cat.errors import UserError
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "android"
DOCUMENTED = """<?xml version="1.0" encoding="utf-8"?>
<resources xmlns:xliff="urn:oasis:names:tc:xliff:document:1.2">
    <string name="app_name" translatable="false">Sunflower</string>
    <!-- Shown on the welcome screen -->
    <string name="welcome">Don\\'t forget to say \\"hello\\" to <b>%1$s</b>!</string>
    <string name="countdown"><xliff:g id="time" example="5 days">%1$s</xliff:g> until holiday</string>
    <string name="quoted">"This'll keep   its spaces"</string>
    <string name="at">\\@home is where the heart is</string>
    <string name="html"><![CDATA[Tap <a href="https://example.com">here</a> now]]></string>
    <string-array name="planets">
        <item>Mercury</item>
        <item>Venus</item>
    </string-array>
    <plurals name="songs">
        <item quantity="one">%d song found.</item>
        <item quantity="other">%d songs found.</item>
    </plurals>
</resources>
"""


@pytest.fixture
def res(tmp_path) -> Path:
    shutil.copytree(DATA, tmp_path / "res")
    (tmp_path / "res" / "values" / "documented.xml").write_text(DOCUMENTED, encoding="utf-8")
    return tmp_path / "res"


def run(path, lang, translator=None):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def strings(path: Path) -> dict:
    """What Android reads: name -> text (items of arrays and plurals by index or quantity)."""
    root = etree.parse(str(path)).getroot()
    out = {}
    for el in root:
        if not isinstance(el.tag, str):
            continue
        if el.tag == "string":
            out[el.get("name")] = "".join(el.itertext())
        else:
            for i, item in enumerate(el):
                if isinstance(item.tag, str):
                    out[f"{el.get('name')}[{item.get('quantity') or i}]"] = "".join(item.itertext())
    return out


@pytest.mark.parametrize("name", ["strings.xml", "documented.xml"])
def test_no_change_round_trip_is_byte_identical(res, name):
    path = res / "values" / name
    connector = open_document(path)
    connector.set_target_language("ru")
    assert connector.segments()
    assert connector.serialize() == path.read_bytes()


def test_real_app_into_russian(res):
    result, translator = run(res / "values" / "strings.xml", "ru")
    assert result.output == res / "values-ru" / "strings.xml"  # Android's own layout
    before, after = strings(res / "values" / "strings.xml"), strings(result.output)
    assert "app_name" not in after  # translatable="false" stays in values/ only
    assert after["share_text_plant"] == "[ru] Check out the %1$s plant in the Android Sunflower app \\n%2$s"
    root = etree.parse(str(result.output)).getroot()
    quantities = [i.get("quantity") for i in root.find("plurals[@name='watering_needs_suffix']")]
    assert quantities == ["one", "few", "many", "other"] == list(icu.categories("ru"))
    assert all(v.startswith("[ru] ") for v in after.values())
    hints = dict(zip(translator.calls[0][0], translator.hints))
    assert hints["Filter by grow zone"].context.startswith("The label for the menu item")
    # the model never sees the English singular "every day" as the source of Russian 'one' (1, 21, 31...)
    assert "every day" not in translator.calls[0][0]
    names = [el.get("name") for el in etree.parse(str(result.output)).getroot() if isinstance(el.tag, str)]
    assert names == [el.get("name") for el in etree.parse(str(res / "values" / "strings.xml")).getroot()
                     if isinstance(el.tag, str) and el.get("name") != "app_name"]  # order kept
    assert set(before) - set(after) == {"app_name"}


def test_documented_escapes_markup_and_structures(res):
    result, translator = run(res / "values" / "documented.xml", "de")
    assert result.output == res / "values-de" / "documented.xml"
    sent = translator.calls[0][0]
    assert "Don't forget to say \"hello\" to <1><2/></1>!" in sent  # plain quotes for the model, %1$s a code
    assert "<1/> until holiday" in sent and "This'll keep   its spaces" in sent
    assert "<1/>home is where the heart is" in sent and "Tap <1/>here<2/> now" in sent
    data = result.output.read_text()
    assert "<string name=\"welcome\">[de] Don\\'t forget to say \\\"hello\\\" to <b>%1$s</b>!</string>" in data
    assert '<xliff:g id="time" example="5 days">%1$s</xliff:g> until holiday' in data
    assert '<string name="quoted">"[de] This\\\'ll keep   its spaces"</string>' in data  # still quoted
    assert "<![CDATA[[de] Tap <a href=\"https://example.com\">here</a> now]]>" in data
    assert '<string name="at">\\@[de] home is where the heart is</string>' not in data
    after = strings(result.output)
    assert after["planets[0]"] == "[de] Mercury" and after["planets[1]"] == "[de] Venus"
    assert [k for k in after if k.startswith("songs")] == ["songs[one]", "songs[other]"]


class Quotes(ScriptedTranslator):
    def translate(self, texts, source_lang, target_lang, progress=None, hints=None, examples=None):
        from bayling_cat.engines.base import Generation

        self.calls.append((list(texts), source_lang, target_lang))
        return [Generation("@l'a \"b\" \\ c & <d> " + t, []) for t in texts]


def test_apostrophes_and_quotes_from_the_model_are_escaped(res):
    result, _ = run(res / "values" / "documented.xml", "fr", Quotes())
    root = etree.parse(str(result.output)).getroot()
    for el in root.iter("string", "item"):
        text = "".join(el.itertext())
        if el.get("name") == "quoted":
            continue
        # Android: an unescaped apostrophe is an aapt error, an unescaped quote disappears, a leading @ is a reference
        assert not re.search(r"(?<!\\)'", text), text
        assert not re.search(r'(?<!\\)"', text.replace('href="https://example.com"', "")), text
        assert not text.startswith("@"), text


def test_entities_are_refused(tmp_path):
    path = tmp_path / "values" / "strings.xml"
    path.parent.mkdir()
    path.write_text('<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><resources><string name="x">&a;</string>'
                    '</resources>')
    with pytest.raises(UserError, match="strings.xml: .*entit"):
        open_document(path)
