"""DOCX through the pipeline: formatting follows the words, every part is translated once, nothing else in
the document changes, and the result opens in python-docx and LibreOffice."""

import io
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.connectors import open_document
from bayling_cat.pipeline import Options, Pipeline
from tests.conftest import SHARED
from tests.docx_fixture import build
from tests.fakes import ScriptedTranslator

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
CORPUS = SHARED / "corpus" / "docx"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("docx") / "features.docx")


def run(path, out, translator=None, **options):
    translator = translator or ScriptedTranslator()
    options.setdefault("target_lang", "de-DE")
    result = Pipeline(translator, Options(output=out, checks=False, **options)).run([str(path)])[0]
    return result, translator


def parts(path: Path) -> dict[str, etree._Element]:
    with zipfile.ZipFile(path) as z:
        return {n: etree.fromstring(z.read(n)) for n in z.namelist()
                if n.startswith("word/") and n.endswith(".xml")}


def structure(path: Path) -> dict:
    """What must not change when a document is translated."""
    counts: dict[str, int] = {}
    for name, root in parts(path).items():
        for label, xpath in {
            "paragraphs": ".//w:p", "tables": ".//w:tbl", "rows": ".//w:tr", "cells": ".//w:tc",
            "sections": ".//w:sectPr", "hyperlinks": ".//w:hyperlink", "bookmarks": ".//w:bookmarkStart",
            "fields": ".//w:fldChar[@w:fldCharType='begin'] | .//w:fldSimple", "instructions": ".//w:instrText",
            "images": ".//*[local-name()='blip'] | .//*[local-name()='imagedata']",
            "drawings": ".//w:drawing | .//w:pict", "text boxes": ".//w:txbxContent",
            "footnote refs": ".//w:footnoteReference", "comment refs": ".//w:commentReference",
            "comments": ".//w:comment", "footnotes": ".//w:footnote", "numbering": ".//w:numPr",
            "paragraph styles": ".//w:pStyle",
        }.items():
            n = len(root.xpath(xpath, namespaces={"w": W[1:-1]}))
            counts[f"{name} {label}"] = n
    with zipfile.ZipFile(path) as z:
        counts["entries"] = sorted(z.namelist())
    return counts


def formats(path: Path, part="word/document.xml") -> list[set[str]]:
    """Per paragraph, the distinct formattings of its text runs."""
    from bayling_cat.connectors.docx import _fmt_key

    root = parts(path)[part]
    return [{_fmt_key(r.find(f"{W}rPr")) for r in p if r.tag == f"{W}r" and r.findtext(f"{W}t")}
            | {_fmt_key(r.find(f"{W}rPr")) for h in p if h.tag == f"{W}hyperlink" for r in h.iter(f"{W}r")
               if r.findtext(f"{W}t")} for p in root.iter(f"{W}p")]


def texts(path: Path, part="word/document.xml") -> list[str]:
    root = parts(path)[part]
    return ["".join(t.text or "" for t in p.iter(f"{W}t")) for p in root.iter(f"{W}p")]


def test_formatting_follows_the_words(sample, tmp_path):
    script = {"Click <1>Save</1> to keep your <2>changes</2> now.":
              "Klicken Sie auf <1>Speichern</1>, um Ihre <2>Änderungen</2> zu behalten.",
              "Read the <1><2>user guide</2></1> first.": "Lesen Sie zuerst das <1><2>Handbuch</2></1>."}
    out = tmp_path / "out.docx"
    result, _ = run(sample, out, ScriptedTranslator(script))
    assert result.error is None
    body = parts(out)["word/document.xml"]
    first = next(body.iter(f"{W}p"))
    runs = [(r.findtext(f"{W}t"), r.find(f"{W}rPr/{W}b") is not None, r.find(f"{W}rPr/{W}i") is not None)
            for r in first.iter(f"{W}r")]
    assert runs == [("Klicken Sie auf ", False, False), ("Speichern", True, False), (", um Ihre ", False, False),
                    ("Änderungen", False, True), (" zu behalten.", False, False)]
    for r in first.iter(f"{W}r"):  # spell-checking in Word follows the target language
        assert r.find(f"{W}rPr/{W}lang").get(f"{W}val") == "de-DE"
    link = body.find(f".//{W}hyperlink")
    assert link.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id").startswith("rId")
    assert [(r.findtext(f"{W}t"), r.find(f"{W}rPr/{W}u") is not None) for r in link.iter(f"{W}r")] == \
        [("Handbuch", True)]


def test_every_part_once_and_nothing_else_changes(sample, tmp_path):
    out = tmp_path / "out.docx"
    result, translator = run(sample, out)
    [(sent, src, tgt)] = translator.calls
    assert (src, tgt) == ("en-US", "de-DE")  # source language from the document's default language
    assert sent.count("Text in a box.") == 1  # DrawingML and VML copies: one translation for both
    assert "Company confidential" in sent and "Footer text" in sent  # header and footer
    assert "<1/> A footnote with <2>italics</2>." in sent and "<1/>Check this wording." in sent
    assert "Merged vertically" in sent and "42" not in sent  # numbers are copied, not translated
    assert "Page <1/> of the report, see the bookmark<2/><3/>." in sent  # field and bookmark are codes
    assert structure(out) == structure(sample)
    for before_fmt, after_fmt in zip(formats(sample), formats(out)):
        assert before_fmt <= after_fmt
    assert texts(out).count("[de-DE] Text in a box.") == 2
    assert parts(out)["word/header1.xml"].findtext(f".//{W}t") == "[de-DE] Company confidential"
    field = parts(out)["word/document.xml"].xpath(".//w:instrText", namespaces={"w": W[1:-1]})[0]
    assert field.text == " PAGE "
    with zipfile.ZipFile(sample) as a, zipfile.ZipFile(out) as b:
        for name in a.namelist():  # parts without text are copied byte for byte
            if name not in {"word/document.xml", "word/header1.xml", "word/footer1.xml", "word/footnotes.xml",
                            "word/comments.xml"}:
                assert a.read(name) == b.read(name), name


def test_output_opens_in_python_docx(sample, tmp_path):
    import docx

    out = tmp_path / "out.docx"
    run(sample, out)
    doc = docx.Document(str(out))
    assert doc.paragraphs[0].text == "[de-DE] Click Save to keep your changes now."
    assert doc.tables[0].cell(1, 0).text == doc.tables[0].cell(2, 0).text == "[de-DE] Merged vertically"
    assert doc.sections[1].header.is_linked_to_previous
    assert doc.sections[0].header.paragraphs[0].text == "[de-DE] Company confidential"
    assert len(doc.inline_shapes) == 1


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (.ci/run installs it)")
def test_output_opens_in_libreoffice(sample, tmp_path):
    out = tmp_path / "out.docx"
    run(sample, out)
    done = subprocess.run([SOFFICE, "--headless", "--convert-to", "txt:Text", "--outdir", str(tmp_path), str(out)],
                          capture_output=True, text=True, timeout=180)
    text = (tmp_path / "out.txt").read_text(encoding="utf-8-sig")
    assert done.returncode == 0
    assert "[de-DE] Click Save to keep your changes now." in text and "[de-DE] Second section body." in text


def test_tracked_changes_are_refused(sample, tmp_path):
    data = io.BytesIO()
    with zipfile.ZipFile(sample) as src, zipfile.ZipFile(data, "w") as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "word/document.xml":
                content = content.replace(b"<w:t>Bullet item</w:t>", b'<w:t>Bullet</w:t></w:r><w:ins w:id="9" '
                                          b'w:author="A" w:date="2026-01-01T00:00:00Z"><w:r><w:t> item</w:t>', 1)
                content = content.replace(b"<w:t> item</w:t></w:r>", b"<w:t> item</w:t></w:r></w:ins>", 1)
            dst.writestr(info, content)
    path = tmp_path / "tracked.docx"
    path.write_bytes(data.getvalue())
    out = tmp_path / "out.docx"
    result, translator = run(path, out)
    assert "contains tracked changes (w:ins); accept or reject them in Word first" in result.error
    assert not out.exists() and translator.calls == []


@pytest.mark.parametrize("name,data,message", [
    ("encrypted.docx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "password-protected"),
    ("renamed.docx", None, "not an Office document"),
    ("truncated.docx", "truncate", "damaged or truncated ZIP"),
    ("sheet.docx", "xlsx", "not a Word document"),
])
def test_not_a_docx(name, data, message, sample, tmp_path):
    path = tmp_path / name
    if data is None:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("readme.txt", "just a zip")
        data = buf.getvalue()
    elif data == "truncate":
        data = sample.read_bytes()[:3000]
    elif data == "xlsx":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                       'package/2006/content-types"><Override PartName="/xl/workbook.xml" ContentType="application/'
                       'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/></Types>')
        data = buf.getvalue()
    path.write_bytes(data)
    out = tmp_path / "out.docx"
    result, translator = run(path, out)
    assert result.error and message in result.error and str(path) in result.error and "\n" not in result.error
    assert not out.exists()


def corpus():
    if not CORPUS.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason="../shared/corpus is absent"))]
    return [pytest.param(p, id=p.name) for p in sorted(CORPUS.iterdir())]


@pytest.mark.parametrize("path", corpus())
def test_corpus_documents(path, tmp_path):
    import docx

    out = tmp_path / path.name
    result, translator = run(path, out, source_lang="en")
    if "ENCRYPTED" in path.name:
        assert "password-protected" in result.error and not out.exists()
        return
    if path.name == "okapi_OpenXML_text_reference_v1_2.docx":  # it has tracked changes
        assert "tracked changes" in result.error and not out.exists()
        return
    assert result.error is None, result.error
    assert structure(out) == structure(path)
    docx.Document(str(out))  # python-docx reads it
    for before_fmt, after_fmt in zip(formats(path), formats(out)):
        assert before_fmt <= after_fmt  # every formatting of the source is still there
    before = [t for t in texts(path) if t.strip()]
    after = [t for t in texts(out) if t.strip()]
    assert len(after) >= len(before)
    translated = {s.key for s in result.segments if s.action == "translated"}
    assert translated and all(t.startswith("[de-DE]") or not any(c.isalpha() for c in t) or t in before
                              for t in after)


@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice is not installed (.ci/run installs it)")
def test_corpus_documents_open_in_libreoffice(tmp_path):
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is absent")
    outputs = []
    for path in sorted(CORPUS.iterdir()):
        result, _ = run(path, tmp_path / "in" / path.name, source_lang="en")
        if result.error is None:
            outputs.append(str(tmp_path / "in" / path.name))
    done = subprocess.run([SOFFICE, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"),
                           *outputs], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert sorted(p.stem for p in (tmp_path / "pdf").iterdir()) == sorted(Path(p).stem for p in outputs)


def test_language_of_the_document_and_output_name(sample, tmp_path):
    connector = open_document(sample)
    assert connector.format == "docx" and connector.source_lang == "en-US" and connector.target_lang is None
    copy = tmp_path / "report.docx"
    copy.write_bytes(sample.read_bytes())
    result = Pipeline(ScriptedTranslator(), Options(target_lang="fr")).run([str(copy)])[0]
    assert result.output == tmp_path / "report.fr.docx" and result.output.is_file()
    missing = Pipeline(ScriptedTranslator(), Options()).run([str(copy)])[0]
    assert "names no target language" in missing.error


# -- issue 25 ------------------------------------------------------------------------------------------------

def _rewrite(source: Path, out: Path, change=None, extra=()) -> Path:
    """``source`` with word/document.xml passed through ``change`` and the ``extra`` (name, bytes) entries added."""
    import warnings

    with zipfile.ZipFile(source) as z, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as o:
        for info in z.infolist():
            data = z.read(info)
            if change and info.filename == "word/document.xml":
                data = change(data)
            o.writestr(info, data)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns of the duplicate name these tests add on purpose
            for name, data in extra:
                o.writestr(zipfile.ZipInfo(name), data)
    return out


@pytest.mark.parametrize("name", ["../../x", "/tmp/x", "..\\x", "word/../../x", "C:x", "word//x", "./x",
                                  "word/document.xml", "WORD/Document.XML", "bad\x01name"])
def test_a_package_with_a_dangerous_or_duplicate_entry_name_is_refused(sample, tmp_path, name):
    """Entry names are copied into the translated package: a zip slip (``../../x``) would reach whoever unpacks
    the output. Such packages are refused in one line and nothing is written."""
    bad = _rewrite(sample, tmp_path / "bad.docx", extra=[(name, b"<x/>")])
    out = tmp_path / "out.docx"
    result, translator = run(bad, out)
    assert result.error and "the package holds an entry named" in result.error and "\n" not in result.error
    assert repr(name) in result.error and not out.exists() and translator.calls == []


def test_a_text_box_and_its_fallback_copy_get_one_translation(sample, tmp_path):
    """Word writes a text box twice: DrawingML in mc:Choice, VML in mc:Fallback. Where the copies' runs differ
    (here the fallback's last word bold), they were two sources with two translations."""
    def bold_fallback(data: bytes) -> bytes:
        before, after = data.split(b"<mc:Fallback>")
        after = after.replace(b"<w:r><w:t>Text in a box.</w:t></w:r>",
                              b"<w:r><w:t xml:space=\"preserve\">Text in a </w:t></w:r><w:r><w:rPr><w:b/></w:rPr>"
                              b"<w:t>box.</w:t></w:r>", 1)
        assert b"<w:b/></w:rPr><w:t>box.</w:t>" in after
        return before + b"<mc:Fallback>" + after

    doc = _rewrite(sample, tmp_path / "box.docx", bold_fallback)
    out = tmp_path / "out.docx"
    script = {"Text in a box.": "Text in einem Kasten.", "Text in a <1>box.</1>": "Text in einer <1>Box.</1>"}
    result, translator = run(doc, out, ScriptedTranslator(script))
    assert result.error is None
    sent = [t for call in translator.calls for t in call[0]]
    assert "Text in a box." in sent and "Text in a <1>box.</1>" not in sent  # translated once
    body = parts(out)["word/document.xml"]
    mc = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
    for branch in ("Choice", "Fallback"):
        [p] = body.findall(f".//{mc}AlternateContent/{mc}{branch}//{W}p")
        assert "".join(t.text for t in p.iter(f"{W}t")) == "Text in einem Kasten.", branch
    skipped = [s for s in result.segments if s.flags and "fallback" in s.flags[0]]
    assert len(skipped) == 1
