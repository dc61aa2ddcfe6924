"""PowerPoint, Excel and OpenDocument text: real files from python-pptx's, xlrd's and odfpy's test suites and
documents built with python-pptx and openpyxl, opened after translation in python-pptx, openpyxl and odfpy;
nothing but text changes (formulas, numbers, dates, sheet names, layout untouched); ZIP bombs refused."""

import datetime
import shutil
import zipfile
from pathlib import Path

import pytest

from bayling_cat.connectors import open_document
from bayling_cat.errors import UserError
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator
from tests.test_pipeline import _declare

DATA = Path(__file__).parent / "data" / "formats" / "office"
FILES = sorted(p.name for p in DATA.iterdir())


def run(path, lang="de", translator=None):
    translator = translator or ScriptedTranslator()
    result = Pipeline(translator, Options(target_lang=lang, checks=False)).run([str(path)])[0]
    assert result.error is None, result.error
    return result, translator


@pytest.mark.parametrize("name", FILES)
def test_no_change_round_trip_is_byte_identical(name):
    connector = open_document(DATA / name)
    connector.set_target_language("de")
    assert connector.segments()
    assert connector.serialize() == (DATA / name).read_bytes()


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".pptx")])
def test_real_decks_open_in_python_pptx(tmp_path, name):
    import pptx

    shutil.copy(DATA / name, tmp_path / name)
    result, _ = run(tmp_path / name)
    before, after = pptx.Presentation(str(DATA / name)), pptx.Presentation(str(result.output))

    def texts(deck):
        out = []
        for slide in deck.slides:
            for shape in slide.shapes:
                out += [("shape", shape.shape_type, p.text) for p in shape.text_frame.paragraphs] \
                    if shape.has_text_frame else []
                if shape.has_table:
                    out += [("cell", c.text) for row in shape.table.rows for c in row.cells]
            if slide.has_notes_slide:
                out += [("notes", p.text) for p in slide.notes_slide.notes_text_frame.paragraphs]
        return out

    old, new = texts(before), texts(after)
    assert len(old) == len(new)
    for a, b in zip(old, new):
        assert a[:-1] == b[:-1]
        if any(ch.isalpha() for ch in a[-1]):
            assert b[-1].startswith("[de] ") or "[de] " in b[-1], (a, b)
            assert a[-1].count("\x0b") == b[-1].count("\x0b")  # line breaks kept
        else:
            assert a[-1] == b[-1]


def _deck(path: Path) -> Path:
    import pptx
    from pptx.util import Inches

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Quarterly results"
    para = slide.placeholders[1].text_frame.paragraphs[0]
    for text, bold, link in (("Revenue grew ", False, None), ("twelve percent", True, None), (" — see ", False, None),
                             ("the report", False, "https://example.com")):
        run = para.add_run()
        run.text, run.font.bold = text, bold
        if link:
            run.hyperlink.address = link
    table = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(6), Inches(1)).table
    for r, row in enumerate([("Region", "Sales"), ("North", "42")]):
        for c, value in enumerate(row):
            table.cell(r, c).text = value
    slide.notes_slide.notes_text_frame.text = "Mention the new office."
    deck.save(str(path))
    return path


def test_built_deck_formatting_table_notes_and_language(tmp_path):
    import pptx

    path = _deck(tmp_path / "results.pptx")
    script = {"Revenue grew <1>twelve percent</1> — see <2>the report</2>":
              "Der Umsatz stieg um <1>zwölf Prozent</1> — siehe <2>den Bericht</2>"}
    result, translator = run(path, "de-DE", ScriptedTranslator(script))
    assert "42" not in translator.calls[0][0]  # a number is copied, never sent
    deck = pptx.Presentation(str(result.output))
    slide = deck.slides[0]
    runs = [(r.text, bool(r.font.bold), r.hyperlink.address) for r in slide.placeholders[1].text_frame.paragraphs[0].runs]
    assert runs == [("Der Umsatz stieg um ", False, None), ("zwölf Prozent", True, None), (" — siehe ", False, None),
                    ("den Bericht", False, "https://example.com")]
    table = next(s for s in slide.shapes if s.has_table).table
    assert [c.text for c in table.rows[1].cells] == ["[de-DE] North", "42"]
    assert slide.notes_slide.notes_text_frame.text == "[de-DE] Mention the new office."
    xml = zipfile.ZipFile(result.output).read("ppt/slides/slide1.xml").decode()
    assert 'lang="de-DE"' in xml
    with zipfile.ZipFile(path) as a, zipfile.ZipFile(result.output) as b:
        assert a.namelist() == b.namelist()
        for name in a.namelist():  # masters, layouts, media, rels: byte for byte
            if not name.startswith(("ppt/slides/slide", "ppt/notesSlides/")):
                assert a.read(name) == b.read(name), name


def _workbook(path: Path) -> Path:
    import openpyxl
    from openpyxl.comments import Comment

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sales 2024"
    ws["A1"], ws["B1"], ws["C1"] = "Product", "Units", "Shipped on"
    ws["A2"], ws["B2"], ws["C2"] = "Blue chair", 12, datetime.date(2024, 3, 1)
    ws["A3"], ws["B3"] = "Blue chair", 3.5  # the same shared string twice
    ws["A4"], ws["B4"] = "Total", "=SUM(B2:B3)"
    ws["D2"] = True
    ws["A2"].comment = Comment("Discontinued in spring", "Ana")
    wb.create_sheet("Notes")["A1"] = "Prices exclude tax."
    wb.save(str(path))
    return path


def test_built_workbook_formulas_numbers_dates_untouched(tmp_path):
    import openpyxl

    path = _workbook(tmp_path / "sales.xlsx")
    result, translator = run(path, "fr")
    sent = translator.calls[0][0]
    assert sent.count("Blue chair") == 1 and "Sales 2024" not in sent and not any("SUM" in t for t in sent)
    wb = openpyxl.load_workbook(str(result.output))
    ws = wb["Sales 2024"]  # sheet names never change: formulas refer to them
    assert [ws[c].value for c in ("A1", "A2", "A3", "A4")] == ["[fr] Product", "[fr] Blue chair", "[fr] Blue chair",
                                                               "[fr] Total"]
    assert ws["B2"].value == 12 and ws["B3"].value == 3.5 and ws["B4"].value == "=SUM(B2:B3)"
    assert ws["C2"].value == datetime.datetime(2024, 3, 1) and ws["D2"].value is True
    assert ws["A2"].comment.text.endswith("[fr] Discontinued in spring")
    assert wb["Notes"]["A1"].value == "[fr] Prices exclude tax."


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".xlsx")])
def test_real_workbooks_comments(tmp_path, name):
    import openpyxl

    shutil.copy(DATA / name, tmp_path / name)
    result, _ = run(tmp_path / name)
    wb = openpyxl.load_workbook(str(result.output))
    comments = [c.comment.text for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.comment]
    if comments:
        assert all("[de] " in t for t in comments if any(ch.isalpha() for ch in t))
    with zipfile.ZipFile(result.output) as z:
        assert any(b"[de] " in z.read(n) for n in z.namelist() if "comments" in n)


@pytest.mark.parametrize("name", [n for n in FILES if n.endswith(".odt")])
def test_odt_opens_in_odfpy_with_spaces_tabs_and_breaks_kept(tmp_path, name):
    from odf import teletype
    from odf.opendocument import load
    from odf.text import H, P

    shutil.copy(DATA / name, tmp_path / name)
    result, _ = run(tmp_path / name)
    before, after = load(str(DATA / name)), load(str(result.output))

    def paragraphs(doc):
        return [teletype.extractText(p) for kind in (H, P) for p in doc.getElementsByType(kind)]

    old, new = paragraphs(before), paragraphs(after)
    assert len(old) == len(new)
    for a, b in zip(old, new):
        assert b == a if not any(ch.isalpha() for ch in a) else b.startswith("[de] ")
        assert a.count("\t") == b.count("\t") and a.count("\n") == b.count("\n")
    with zipfile.ZipFile(result.output) as z:
        first = z.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
    if name == "headerfooter.odt":
        styles = zipfile.ZipFile(result.output).read("styles.xml").decode()
        assert "[de] Header" in styles and "[de] Footer" in styles


@pytest.mark.parametrize("name", ["txt-text.pptx", "xlrd-sample.xlsx", "simpletable.odt"])
def test_zip_bombs_are_refused(tmp_path, name):
    path = tmp_path / name
    with zipfile.ZipFile(DATA / name) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        zout.writestr("media/zeros.bin", b"\0" * (1 << 16), compress_type=zipfile.ZIP_BZIP2)
    path.write_bytes(_declare(path.read_bytes(), b"media/zeros.bin", (2 << 30) - 1))
    with pytest.raises(UserError) as err:
        open_document(path)
    assert str(err.value).startswith(f"{path}: ") and "refused" in str(err.value)


def test_a_truncated_package_is_refused(tmp_path):
    path = tmp_path / "cut.pptx"
    path.write_bytes((DATA / "txt-text.pptx").read_bytes()[:5000])
    with pytest.raises(UserError, match="cut.pptx: "):
        open_document(path)
