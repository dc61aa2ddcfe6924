"""The tiny random-weight model with sampling throws junk at every writer: whatever it answers, each output
is read back by the format's own reader, with its keys, order and placeholders as in the source."""

import json
import shutil
from pathlib import Path

import pytest

from bayling_cat.connectors import icu
from bayling_cat.pipeline import Options, Pipeline

DATA = Path(__file__).parent / "data" / "formats"


def _json_check(source: Path, output: Path) -> None:
    before, after = json.loads(source.read_text()), json.loads(output.read_text())
    assert list(after) == list(before)
    for key, value in after.items():
        if isinstance(value, str) and icu.looks_like_icu(before[key]) and not key.startswith("@"):
            icu.parse(value)


def _android_check(source: Path, output: Path) -> None:
    import re

    from lxml import etree

    def names(path):
        return [(el.tag, el.get("name")) for el in etree.parse(str(path)).getroot()
                if isinstance(el.tag, str) and el.get("translatable") != "false"]

    assert names(output) == names(source)
    for el in etree.parse(str(output)).getroot().iter("string", "item"):
        text = "".join(el.itertext())
        assert not re.search(r"(?<!\\)'", text.strip('"')), text  # aapt refuses an unescaped apostrophe


def _properties_check(source: Path, output: Path) -> None:
    from translate.storage import properties

    def keys(path):
        return [u.name for u in properties.javafile.parsestring(path.read_bytes()).units if u.name]

    assert keys(output) == keys(source)
    assert all("{0}" in u.source for u in properties.javafile.parsestring(output.read_bytes()).units
               if u.name.endswith((".invalidExpression", ".noFile")))


def _yaml_check(source: Path, output: Path) -> None:
    import yaml

    before, after = yaml.safe_load(source.read_text()), yaml.safe_load(output.read_text())
    assert list(after) == ["ru"] and list(after["ru"]) == list(before["en"])


def _plist_check(source: Path, output: Path) -> None:
    import plistlib

    before, after = plistlib.loads(source.read_bytes()), plistlib.loads(output.read_bytes())
    assert list(after) == list(before)


def _xcstrings_check(source: Path, output: Path) -> None:
    before, after = json.loads(source.read_text()), json.loads(output.read_text())
    assert list(after["strings"]) == list(before["strings"])


def _strings_check(source: Path, output: Path) -> None:
    from translate.storage import properties

    def keys(path):
        return [u.getid() for u in properties.stringsutf8file.parsestring(path.read_bytes()).units]

    assert keys(output) == keys(source)


def _subtitle_check(source: Path, output: Path) -> None:
    import re

    timing = re.compile(r"^.*-->.*$", re.M)
    assert timing.findall(output.read_text()) == timing.findall(source.read_text())
    assert output.read_text().count("\n\n") == source.read_text().count("\n\n")  # no cue added or merged


def _resx_check(source: Path, output: Path) -> None:
    from lxml import etree

    def names(path):
        return [d.get("name") for d in etree.parse(str(path)).getroot().iter("data")]

    assert names(output) == names(source)


def _html_check(source: Path, output: Path) -> None:
    from lxml import html

    def tags(path):
        return [el.tag for el in html.document_fromstring(path.read_text()).iter() if isinstance(el.tag, str)]

    assert tags(output) == tags(source)


def _markdown_check(source: Path, output: Path) -> None:
    import re

    from markdown_it import MarkdownIt

    def blocks(path):
        return re.findall(r"</?[a-z0-9]+", MarkdownIt("commonmark").enable("table").render(path.read_text()))

    assert blocks(output) == blocks(source)


def _pptx_check(source: Path, output: Path) -> None:
    import pptx

    def shapes(path):
        return [(s.shape_type, s.has_text_frame) for slide in pptx.Presentation(str(path)).slides for s in slide.shapes]

    assert shapes(output) == shapes(source)


def _xlsx_check(source: Path, output: Path) -> None:
    import openpyxl

    assert openpyxl.load_workbook(str(output)).sheetnames == openpyxl.load_workbook(str(source)).sheetnames


def _odt_check(source: Path, output: Path) -> None:
    from odf.opendocument import load
    from odf.text import P

    assert len(load(str(output)).getElementsByType(P)) == len(load(str(source)).getElementsByType(P))


CHECKS = {  # file -> (target language, check(source, output))
    "office/txt-text.pptx": ("de", _pptx_check),
    "office/test_comments_excel.xlsx": ("ru", _xlsx_check),
    "office/serious_poem.odt": ("fr", _odt_check),
    "markdown/README.md": ("ja", _markdown_check),
    "html/index.html": ("es", _html_check),
    "resx/Resources.resx": ("ko", _resx_check),
    "subtitles/sample.srt": ("fr", _subtitle_check),
    "subtitles/cue_tags.vtt": ("zh", _subtitle_check),
    "apple/en.lproj/Localizable.strings": ("ja", _strings_check),
    "apple/en.lproj/Localizable.stringsdict": ("ar", _plist_check),
    "apple/Localizable.xcstrings": ("de", _xcstrings_check),
    "yaml/rails/en.yml": ("ru", _yaml_check),
    "yaml/devise/en.yml": ("ru", _yaml_check),
    "properties/LocalStrings.properties": ("de", _properties_check),
    "android/values/strings.xml": ("ru", _android_check),
    "i18next/en/common.json": ("ru", _json_check),
    "i18next-icu/en/translations.json": ("ar", _json_check),
    "arb/intl_en_US.arb": ("pl", _json_check),
}


@pytest.fixture(scope="module")
def sampler(tiny_model):
    from bayling_cat.engines.ctranslate2 import Engine

    return Engine(tiny_model, device="cpu", threads=1).with_decoding(sampling_temperature=1.5, sampling_topk=0,
                                                                      sampling_topp=0.98)


@pytest.mark.parametrize("name", sorted(CHECKS))
def test_sampled_junk_never_breaks_a_file(sampler, tmp_path, name):
    lang, check = CHECKS[name]
    shutil.copytree(DATA, tmp_path / "d")
    source = tmp_path / "d" / name
    result = Pipeline(sampler, Options(target_lang=lang, checks=False, output=tmp_path / "out" / source.name)).run(
        [str(source)])[0]
    assert result.error is None, result.error
    assert result.segments and all(s.action for s in result.segments)
    check(source, result.output)
