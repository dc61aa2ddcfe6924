"""PowerPoint (PPTX) and Excel (XLSX) packages, on the same OOXML handling as the Word connector: the ZIP is
checked for bombs from its directory before anything is decompressed (``docx.check_package``), parts are read
with a bound, XML is parsed safely, and every entry bayling-cat does not change is streamed into the output
byte for byte.

PPTX: every DrawingML paragraph (``a:p``) of the slides (shapes, grouped shapes, tables), the notes, the
charts' titles and labels and SmartArt data is a segment; runs formatted unlike the paragraph's main
formatting and hyperlinks (``a:hlinkClick`` in a run's properties) are paired codes, line breaks and fields
(slide numbers, dates) codes. Slide masters and layouts are left alone (their text is the template's). The
translated runs get ``lang`` set to the target language.

XLSX: each shared string (``<si>``, plain or rich text; phonetic runs kept), each inline string cell and
each cell comment is a segment; formulas, numbers, dates, booleans, cached formula results and sheet
names (which formulas refer to) are never touched. A string shared by several cells is translated once.
"""

from __future__ import annotations

import copy
import io
import re
import shutil
import zipfile
from copy import deepcopy
from pathlib import Path

from lxml import etree

from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.docx import CT, _ZIP_ERRORS, open_package, read_part
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, local_name
from bayling_cat.document import Code, Segment, xml_safe

A = "http://schemas.openxmlformats.org/drawingml/2006/main"
S = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
PML = "application/vnd.openxmlformats-officedocument.presentationml."
SML = "application/vnd.openxmlformats-officedocument.spreadsheetml."
DML = "application/vnd.openxmlformats-officedocument.drawingml."
PPTX_TEXT = {PML + "slide+xml", PML + "notesSlide+xml", DML + "chart+xml", DML + "diagramData+xml"}
PPTX_MAIN = {PML + "presentation.main+xml", PML + "slideshow.main+xml", PML + "template.main+xml",
             "application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml"}
XLSX_MAIN = {SML + "sheet.main+xml", SML + "template.main+xml",
             "application/vnd.ms-excel.sheet.macroEnabled.main+xml"}
XLSX_TEXT = {SML + "sharedStrings+xml", SML + "worksheet+xml", SML + "comments+xml"}
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def _natural(name: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


class Package(Connector):
    """An OOXML package whose text parts (chosen by content type) are read with lxml."""

    kind = "Office"
    main_types: set = set()
    text_types: set = set()

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self._data = data
        self.zip, names = open_package(path, data, f"an {self.kind} document")
        if "[Content_Types].xml" not in names:
            raise DocumentError(f"{path}: a ZIP file but not an Office document (no [Content_Types].xml)")
        root = XmlDocument(f"{path}:[Content_Types].xml", self._read("[Content_Types].xml")).root
        types = {o.get("PartName", "").lstrip("/"): o.get("ContentType", "") for o in root.iter(f"{{{CT}}}Override")}
        if not any(t in self.main_types for t in types.values()):
            raise DocumentError(f"{path}: an Office package but not {self.kind} document (no main part)")
        self.parts: dict[str, XmlDocument] = {}
        for name in sorted((n for n, t in types.items() if t in self.text_types), key=_natural):
            if name not in names:
                raise DocumentError(f"{path}: the package lists {name} but does not contain it")
            self.parts[name] = XmlDocument(f"{path}:{name}", self._read(name))
        self.types = types
        self._changed: set[str] = set()

    def _read(self, name: str) -> bytes:
        return read_part(self.zip, self.path, name)

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        self.target_lang = lang

    def declared_target_language(self) -> str | None:
        return None

    def write_suggestion(self, segment: Segment, text: str, match: dict | None = None) -> None:
        raise NotImplementedError

    def serialize(self) -> bytes:
        if not self._changed:
            return self.data_bytes()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in self.zip.infolist():
                entry = copy.copy(info)
                if info.filename in self._changed:
                    target.writestr(entry, self.parts[info.filename].serialize_root(), compress_type=info.compress_type)
                    continue
                try:  # streamed, never a whole entry in memory
                    with self.zip.open(info) as src, target.open(entry, "w") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                except _ZIP_ERRORS as exc:
                    raise DocumentError(f"{self.path}: cannot read {info.filename} from the package ({exc})") from None
        return out.getvalue()

    def data_bytes(self) -> bytes:
        return self._data


# -- runs of text with their formatting, in DrawingML (a:r/a:rPr/a:t) and SpreadsheetML (r/rPr/t) ---------

def _props_key(props) -> str:
    if props is None:
        return ""
    clone = deepcopy(props)
    for attr in ("lang", "altLang", "dirty", "err", "smtClean", "noProof"):
        clone.attrib.pop(attr, None)
    if len(clone) == 0 and not clone.attrib:
        return ""
    return etree.tostring(clone, method="c14n").decode()


def flatten_runs(container, ns: str, keep: set[str]) -> tuple[str, dict, list]:
    """The runs of ``container`` as text with placeholders: runs formatted unlike the main formatting are
    paired codes, everything else but ``keep`` (paragraph properties) a code moved as the original element.
    Returns the text, the codes and the plan: [("format", props) | ("element", el)] by code number."""
    tokens = []
    for child in container:
        name = local_name(child) if isinstance(child.tag, str) else ""
        if name in keep:
            continue
        if name == "r" and child.tag == f"{{{ns}}}r":
            props = child.find(f"{{{ns}}}rPr")
            t = child.find(f"{{{ns}}}t")
            tokens.append(("text", t.text if t is not None and t.text else "", props))
        else:
            tokens.append(("element", child))
    counts: dict[str, int] = {}
    first: dict[str, object] = {}
    for tok in tokens:
        if tok[0] == "text":
            key = _props_key(tok[2])
            counts[key] = counts.get(key, 0) + len(tok[1])
            first.setdefault(key, tok[2])
    base = max(counts, key=lambda k: (counts[k], k == "")) if counts else ""
    plan: list = [("base", first.get(base))]
    parts, open_fmt = [], None
    for tok in tokens:
        if tok[0] == "text":
            key = _props_key(tok[2])
            if key != base and (open_fmt is None or open_fmt[1] != key):
                if open_fmt:
                    parts.append(f"</{open_fmt[0]}>")
                plan.append(("format", tok[2]))
                open_fmt = (len(plan) - 1, key)
                parts.append(f"<{open_fmt[0]}>")
            elif key == base and open_fmt:
                parts.append(f"</{open_fmt[0]}>")
                open_fmt = None
            parts.append(tok[1])
        else:
            if open_fmt:
                parts.append(f"</{open_fmt[0]}>")
                open_fmt = None
            plan.append(("element", tok[1]))
            parts.append(f"<{len(plan) - 1}/>")
    if open_fmt:
        parts.append(f"</{open_fmt[0]}>")
    codes = {n: Code(n, None, paired=entry[0] == "format", can_delete=entry[0] == "element" and
                     local_name(entry[1]) not in ("fld",)) for n, entry in enumerate(plan) if n}
    return "".join(parts), codes, plan


def rebuild_runs(container, ns: str, keep: set[str], text: str, plan: list, lang: str | None,
                 space: bool = False) -> None:
    """Replace the runs of ``container`` with ``text`` (balanced placeholders), formatting from ``plan``."""
    tail = [c for c in container if isinstance(c.tag, str) and local_name(c) in keep and local_name(c) == "endParaRPr"]
    for child in list(container):
        if not (isinstance(child.tag, str) and local_name(child) in keep):
            container.remove(child)
    anchor = tail[0] if tail else None

    def add(el):
        if anchor is not None:
            anchor.addprevious(el)
        else:
            container.append(el)

    formats, pos = [plan[0][1]], 0
    for m in re.finditer(r"<(/?)(\d+)(/?)>", text):
        _add_run(add, ns, text[pos:m.start()], formats[-1], lang, space)
        pos = m.end()
        n = int(m.group(2))
        entry = plan[n]
        if m.group(1):
            formats.pop()
        elif m.group(3):
            add(entry[1])
        else:
            formats.append(entry[1])
    _add_run(add, ns, text[pos:], formats[-1], lang, space)


def _add_run(add, ns: str, text: str, props, lang: str | None, space: bool) -> None:
    text = xml_safe(text)
    if not text:
        return
    run = etree.Element(f"{{{ns}}}r")
    if props is not None or (lang and ns == A):
        rpr = deepcopy(props) if props is not None else etree.Element(f"{{{ns}}}rPr")
        if lang and ns == A:
            rpr.set("lang", lang)
        run.append(rpr)
    t = etree.SubElement(run, f"{{{ns}}}t")
    t.text = text
    if space and text != text.strip():
        t.set(XML_SPACE, "preserve")
    add(run)


class Pptx(Package):
    format = "pptx"
    kind = "a PowerPoint"
    main_types = PPTX_MAIN
    text_types = PPTX_TEXT
    KEEP = {"pPr", "endParaRPr"}
    default_source_lang = "en"  # a deck whose runs carry no lang attribute says nothing

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self.source_lang = self._language()

    def _language(self) -> str | None:
        """The language most of the deck's runs are marked with (PowerPoint writes lang on every run)."""
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        counts: dict[str, int] = {}
        for part in self.parts.values():
            for props in part.root.iter(f"{{{A}}}rPr", f"{{{A}}}endParaRPr"):
                if props.get("lang"):
                    counts[props.get("lang")] = counts.get(props.get("lang"), 0) + 1
        for lang in sorted(counts, key=counts.get, reverse=True):
            try:
                return languages.normalize(lang)
            except UserError:
                continue
        return None

    def segments(self) -> list[Segment]:
        out = []
        for name, part in self.parts.items():
            for index, paragraph in enumerate(part.root.iter(f"{{{A}}}p")):
                text, codes, plan = flatten_runs(paragraph, A, self.KEEP)
                out.append(Segment(key=f"{name}#p{index + 1}", source=text, codes=codes,
                                   handle=(name, paragraph, plan)))
        return out

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        if copied:
            return
        name, paragraph, plan = segment.handle
        rebuild_runs(paragraph, A, self.KEEP, text, plan, self.target_lang)
        self._changed.add(name)


class Xlsx(Package):
    format = "xlsx"
    kind = "an Excel"
    main_types = XLSX_MAIN
    text_types = XLSX_TEXT
    KEEP = {"rPh", "phoneticPr"}
    default_source_lang = "en"  # a workbook declares no language: --source-lang for another

    def segments(self) -> list[Segment]:
        out = []
        for name, part in self.parts.items():
            kind = self.types[name]
            if kind.endswith("sharedStrings+xml"):
                items = [(f"{name}#si{i + 1}", si) for i, si in enumerate(part.root.iter(f"{{{S}}}si"))]
            elif kind.endswith("comments+xml"):
                items = [(f"{name}#{c.get('ref')}", c.find(f"{{{S}}}text")) for c in part.root.iter(f"{{{S}}}comment")]
            else:  # inline strings of a worksheet; every other cell (numbers, dates, formulas) is never read
                items = [(f"{name}#{c.get('r')}", c.find(f"{{{S}}}is")) for c in part.root.iter(f"{{{S}}}c")
                         if c.get("t") == "inlineStr" and c.find(f"{{{S}}}f") is None]
            for key, holder in items:
                if holder is None:
                    continue
                text, codes, plan = self._flatten(holder)
                out.append(Segment(key=key, source=text, codes=codes, handle=(name, holder, plan)))
        return out

    def _flatten(self, holder):
        plain = holder.find(f"{{{S}}}t")
        if plain is not None and holder.find(f"{{{S}}}r") is None:
            return plain.text or "", {}, None
        return flatten_runs(holder, S, self.KEEP)

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        if copied:
            return
        name, holder, plan = segment.handle
        if plan is None:
            t = holder.find(f"{{{S}}}t")
            t.text = xml_safe(text)
            if t.text != t.text.strip():
                t.set(XML_SPACE, "preserve")
        else:
            rebuild_runs(holder, S, self.KEEP, text, plan, None, space=True)
            for phonetic in [c for c in holder if local_name(c) in self.KEEP]:
                holder.remove(phonetic)  # Excel puts rPh after the runs: move them back there
                holder.append(phonetic)
        self._changed.add(name)
