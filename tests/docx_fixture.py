"""A small Word document with every feature the DOCX connector must handle, built with python-docx plus the
raw XML python-docx cannot write (hyperlink, fields, bookmark, text box, footnote)."""

import io
import struct
import zipfile
import zlib
from pathlib import Path

W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
NSDECL = ('xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
          'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')


def tiny_png() -> bytes:
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    raw = b"".join(b"\x00" + b"\x00\x80\xff" * 4 for _ in range(4))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


TEXTBOX = f"""<w:r {NSDECL} xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006"
 xmlns:wp="http://schemas.openxmlformats.org/drawingml/2006/wordprocessingDrawing"
 xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"
 xmlns:wps="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"
 xmlns:v="urn:schemas-microsoft-com:vml"><mc:AlternateContent><mc:Choice Requires="wps"><w:drawing>
<wp:anchor distT="0" distB="0" distL="114300" distR="114300" simplePos="0" relativeHeight="2" behindDoc="0" locked="0"
 layoutInCell="1" allowOverlap="1"><wp:simplePos x="0" y="0"/><wp:positionH relativeFrom="column"><wp:posOffset>0</wp:posOffset>
</wp:positionH><wp:positionV relativeFrom="paragraph"><wp:posOffset>0</wp:posOffset></wp:positionV>
<wp:extent cx="1828800" cy="457200"/><wp:effectExtent l="0" t="0" r="0" b="0"/><wp:wrapSquare wrapText="bothSides"/>
<wp:docPr id="10" name="Text Box 10"/><wp:cNvGraphicFramePr/><a:graphic><a:graphicData
 uri="http://schemas.microsoft.com/office/word/2010/wordprocessingShape"><wps:wsp><wps:cNvSpPr txBox="1"/><wps:spPr>
<a:xfrm><a:off x="0" y="0"/><a:ext cx="1828800" cy="457200"/></a:xfrm><a:prstGeom prst="rect"><a:avLst/></a:prstGeom>
</wps:spPr><wps:txbx><w:txbxContent><w:p><w:r><w:t>Text in a box.</w:t></w:r></w:p></w:txbxContent></wps:txbx>
<wps:bodyPr/></wps:wsp></a:graphicData></a:graphic></wp:anchor></w:drawing></mc:Choice><mc:Fallback><w:pict>
<v:shape id="tb10" style="width:144pt;height:36pt" type="#_x0000_t202"><v:textbox><w:txbxContent><w:p><w:r>
<w:t>Text in a box.</w:t></w:r></w:p></w:txbxContent></v:textbox></v:shape></w:pict></mc:Fallback></mc:AlternateContent></w:r>"""

FOOTNOTES = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:footnotes {NSDECL}><w:footnote w:type="separator" w:id="-1"><w:p><w:r><w:separator/></w:r></w:p></w:footnote>
<w:footnote w:type="continuationSeparator" w:id="0"><w:p><w:r><w:continuationSeparator/></w:r></w:p></w:footnote>
<w:footnote w:id="1"><w:p><w:r><w:footnoteRef/></w:r><w:r><w:t xml:space="preserve"> A footnote with </w:t></w:r>
<w:r><w:rPr><w:i/></w:rPr><w:t>italics</w:t></w:r><w:r><w:t>.</w:t></w:r></w:p></w:footnote></w:footnotes>"""


def build(path: Path) -> Path:
    import docx
    from docx.oxml import parse_xml
    from docx.shared import Inches

    d = docx.Document()
    d.styles["Normal"].element.get_or_add_rPr()
    p = d.add_paragraph("Click ")
    p.add_run("Save").bold = True
    p.add_run(" to keep your ")
    p.add_run("changes").italic = True
    p.add_run(" now.")
    d.add_paragraph("Bullet item", style="List Bullet")
    link = d.add_paragraph("Read the ")
    link._p.append(parse_xml(f'<w:hyperlink {NSDECL} r:id="rIdLink"><w:r><w:rPr><w:u w:val="single"/></w:rPr>'
                             '<w:t>user guide</w:t></w:r></w:hyperlink>'))
    link.add_run(" first.")
    rel = d.part.relate_to("https://example.com/guide",
                           "http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink",
                           is_external=True)
    link._p.xpath("./w:hyperlink")[0].set(f"{{http://schemas.openxmlformats.org/officeDocument/2006/relationships}}id", rel)
    field = d.add_paragraph("Page ")
    for xml in ('<w:r {ns}><w:fldChar w:fldCharType="begin"/></w:r>',
                '<w:r {ns}><w:instrText xml:space="preserve"> PAGE </w:instrText></w:r>',
                '<w:r {ns}><w:fldChar w:fldCharType="separate"/></w:r>', '<w:r {ns}><w:t>1</w:t></w:r>',
                '<w:r {ns}><w:fldChar w:fldCharType="end"/></w:r>'):
        field._p.append(parse_xml(xml.format(ns=NSDECL)))
    field.add_run(" of the report, see the bookmark")
    field._p.append(parse_xml(f'<w:bookmarkStart {NSDECL} w:id="7" w:name="target"/>'))
    field._p.append(parse_xml(f'<w:bookmarkEnd {NSDECL} w:id="7"/>'))
    field.add_run(".")
    note = d.add_paragraph("A sentence with a footnote.")
    note._p.append(parse_xml(f'<w:r {NSDECL}><w:rPr><w:vertAlign w:val="superscript"/></w:rPr>'
                             '<w:footnoteReference w:id="1"/></w:r>'))
    box = d.add_paragraph("Before the box. ")
    box._p.append(parse_xml(TEXTBOX))
    image = d.add_paragraph("An image: ")
    png = path.parent / "tiny.png"
    png.write_bytes(tiny_png())
    image.add_run().add_picture(str(png), width=Inches(0.3))
    table = d.add_table(rows=3, cols=2)
    table.cell(0, 0).text = "Name"
    table.cell(0, 1).text = "Value"
    table.cell(1, 0).merge(table.cell(2, 0)).text = "Merged vertically"
    table.cell(1, 1).text = "Row one"
    table.cell(2, 1).text = "Row two"
    commented = d.add_paragraph("A commented sentence.")
    d.add_comment(commented.runs, text="Check this wording.", author="Reviewer", initials="R")
    d.add_paragraph("42")
    d.sections[0].header.paragraphs[0].text = "Company confidential"
    d.sections[0].footer.paragraphs[0].text = "Footer text"
    d.add_section()
    d.add_paragraph("Second section body.")
    buffer = io.BytesIO()
    d.save(buffer)
    return _add_footnotes(buffer.getvalue(), path)


def _add_footnotes(data: bytes, path: Path) -> Path:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "[Content_Types].xml":
                content = content.replace(b"</Types>", b'<Override PartName="/word/footnotes.xml" ContentType='
                                          b'"application/vnd.openxmlformats-officedocument.wordprocessingml.'
                                          b'footnotes+xml"/></Types>')
            elif info.filename == "word/_rels/document.xml.rels":
                content = content.replace(b"</Relationships>", b'<Relationship Id="rIdFoot" Type="http://schemas.'
                                          b'openxmlformats.org/officeDocument/2006/relationships/footnotes" '
                                          b'Target="footnotes.xml"/></Relationships>')
            z.writestr(info, content)
        z.writestr("word/footnotes.xml", FOOTNOTES)
    path.write_bytes(out.getvalue())
    return path
