""".NET .resx on a real resource file (dotnet/samples) and the WinForms entries a form's .resx holds."""

import shutil
from pathlib import Path

from lxml import etree

from bayling_cat.connectors import open_document
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator

DATA = Path(__file__).parent / "data" / "formats" / "resx"
FORM = """<?xml version="1.0" encoding="utf-8"?>
<root>
  <resheader name="resmimetype">
    <value>text/microsoft-resx</value>
  </resheader>
  <data name="button1.Text" xml:space="preserve">
    <value>&amp;Save {0} files</value>
    <comment>The main button</comment>
  </data>
  <data name="button1.Location" type="System.Drawing.Point, System.Drawing">
    <value>12, 40</value>
  </data>
  <data name="&gt;&gt;button1.Name" xml:space="preserve">
    <value>button1</value>
  </data>
  <data name="$this.Text" xml:space="preserve">
    <value>Settings — {0:N2} MB free</value>
  </data>
</root>
"""


def values(path: Path) -> dict:
    """What ResXResourceReader returns for string resources: name -> value."""
    root = etree.parse(str(path)).getroot()
    return {d.get("name"): d.findtext("value") for d in root.iter("data") if not d.get("type")}


def run(path, lang):
    translator = ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


def test_real_resx_round_trip_and_satellite_naming(tmp_path):
    source = tmp_path / "Resources.resx"
    shutil.copy(DATA / "Resources.resx", source)
    connector = open_document(source)
    connector.set_target_language("de")
    assert len(connector.segments()) == 9 and connector.serialize() == source.read_bytes()
    result, _ = run(source, "de")
    assert result.output == tmp_path / "Resources.de.resx"
    before, after = values(source), values(result.output)
    assert list(after) == list(before) and after["ExInvalidContextId"] == "[de] Invalid context id."
    original, translated = source.read_text(), result.output.read_text()
    head = original.index('<data name="ExChannelNotSupported"')
    assert translated[:head] == original[:head]  # schema, comment and resheaders byte for byte


def test_winforms_entries(tmp_path):
    path = tmp_path / "Form1.en.resx"
    path.write_text(FORM, encoding="utf-8")
    result, translator = run(path, "fr")
    assert result.output == tmp_path / "Form1.fr.resx"
    sent = translator.calls[0][0]
    assert sent == ["&Save <1/> files", "Settings — <1/> MB free"]  # sizes and designer names never sent
    assert translator.hints[0].context == "The main button"
    after = values(result.output)
    assert after["button1.Text"] == "[fr] &Save {0} files" and after[">>button1.Name"] == "button1"
    assert after["$this.Text"] == "[fr] Settings — {0:N2} MB free"
    assert "<value>12, 40</value>" in result.output.read_text()
