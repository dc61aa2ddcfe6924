"""OpenDocument text (ODT): every ``text:p`` and ``text:h`` of the body, tables, lists, frames, notes, and the
headers and footers of the master pages (``styles.xml``) is a segment; ``text:span`` and ``text:a`` are paired
codes, spaces (``text:s``), tabs, line breaks, notes, frames, bookmarks and fields codes that move with the
text as the original elements.

lxml on the package's parts, with the same ZIP bomb checks, bounded reads and streamed copying as the Office
connectors (``ooxml.Package``); the ``mimetype`` entry stays first and stored, as ODF requires. odfpy is
what the tests read every output with.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

from lxml import etree

from bayling_cat.connectors.ooxml import Package
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument
from bayling_cat.document import PLACEHOLDER, Segment, flatten, xml_safe

TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
MIMETYPES = {"application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.text-template"}


def classify(element) -> str:
    return "paired" if element.tag in (f"{{{TEXT}}}span", f"{{{TEXT}}}a") else "standalone"


class Odt(Package):
    format = "odt"
    kind = "an OpenDocument text"

    def __init__(self, path: Path, data: bytes):  # Package.__init__ reads OOXML content types; ODF has none
        from bayling_cat.connectors.base import Connector
        from bayling_cat.connectors.docx import open_package

        Connector.__init__(self, path, data)
        self._data = data
        self.zip, names = open_package(path, data, "an OpenDocument file")
        mimetype = self._read("mimetype").decode("ascii", "replace").strip() if "mimetype" in names else ""
        if mimetype not in MIMETYPES:
            raise DocumentError(f"{path}: an OpenDocument package of type {mimetype or 'unknown'}, not a text "
                                "document (.odt); not one bayling-cat translates")
        self.parts: dict[str, XmlDocument] = {}
        for name in ("content.xml", "styles.xml"):
            if name in names:
                self.parts[name] = XmlDocument(f"{path}:{name}", self._read(name))
        if "content.xml" not in self.parts:
            raise DocumentError(f"{path}: an OpenDocument package without content.xml")
        self.types = {}
        self._changed: set[str] = set()
        self.source_lang = self._language()

    def _language(self) -> str | None:
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        styles = self.parts.get("styles.xml")
        if styles is None:
            return None
        fo = "urn:oasis:names:tc:opendocument:xmlns:xsl-fo-compatible:1.0"
        for props in styles.root.iter("{urn:oasis:names:tc:opendocument:xmlns:style:1.0}text-properties"):
            lang, country = props.get(f"{{{fo}}}language"), props.get(f"{{{fo}}}country")
            if lang and lang != "none":
                try:
                    return languages.normalize(f"{lang}-{country}" if country and country != "none" else lang)
                except UserError:
                    return None
        return None

    def segments(self) -> list[Segment]:
        out = []
        for name, part in self.parts.items():
            holder = part.root if name == "content.xml" else part.root.find(f"{{{OFFICE}}}master-styles")
            if holder is None:
                continue
            for index, paragraph in enumerate(holder.iter(f"{{{TEXT}}}p", f"{{{TEXT}}}h")):
                text, codes = flatten(paragraph, classify)
                out.append(Segment(key=f"{name}#p{index + 1}", source=text, codes=codes, handle=(name, paragraph)))
        return out

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        if copied:
            return
        name, paragraph = segment.handle
        rebuild_moving(paragraph, text, segment.codes)
        self._changed.add(name)


def rebuild_moving(target, text: str, codes) -> None:
    """``document.rebuild``, except that a single code is the original element moved (its first use), so a
    note or a frame whose own paragraphs are segments keeps the elements those segments write into."""
    for child in list(target):
        target.remove(child)
    target.text = None
    stack, last, used = [target], [None], set()

    def add_text(s: str):
        s = xml_safe(s)
        if not s:
            return
        if last[-1] is None:
            stack[-1].text = (stack[-1].text or "") + s
        else:
            last[-1].tail = (last[-1].tail or "") + s

    pos = 0
    for m in PLACEHOLDER.finditer(text):
        add_text(text[pos:m.start()])
        pos = m.end()
        closing, n, selfclosing = m.group(1) == "/", int(m.group(2)), m.group(3) == "/"
        code = codes[n]
        if closing:
            stack.pop()
            last.pop()
        elif code.literal is not None:
            add_text(code.literal)
        elif selfclosing:
            element = code.element if n not in used else deepcopy(code.element)
            used.add(n)
            element.tail = None
            stack[-1].append(element)
            last[-1] = element
        else:
            shell = etree.SubElement(stack[-1], code.element.tag, attrib=dict(code.element.attrib))
            last[-1] = shell
            stack.append(shell)
            last.append(None)
    add_text(text[pos:])
