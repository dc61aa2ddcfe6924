"""Word documents (DOCX): every paragraph of the body, tables, headers, footers, footnotes, endnotes,
comments and text boxes is a segment; runs with their own formatting and hyperlinks are paired codes, so
the formatting follows the words it belongs to; fields, images, bookmarks and other objects are opaque codes
that move with the text.

The package is read with zipfile and each text part with lxml; parts and ZIP entries bayling-cat does not
translate are copied unchanged. python-docx is the reference reader the tests open every output with.
"""

from __future__ import annotations

import copy
import io
import lzma
import re
import shutil
import zipfile
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, local_name, namespace
from bayling_cat.document import Code, Segment, xml_safe

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W_STRICT = "http://purl.oclc.org/ooxml/wordprocessingml/main"  # ISO/IEC 29500 Strict: same names, own namespace
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
MC = "http://schemas.openxmlformats.org/markup-compatibility/2006"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
WML = "application/vnd.openxmlformats-officedocument.wordprocessingml."
MAIN_TYPES = {WML + "document.main+xml", WML + "template.main+xml",
              "application/vnd.ms-word.document.macroEnabled.main+xml",
              "application/vnd.ms-word.template.macroEnabledTemplate.main+xml"}
TEXT_TYPES = MAIN_TYPES | {WML + t for t in ("header+xml", "footer+xml", "footnotes+xml", "endnotes+xml",
                                             "comments+xml")}
TRACKED = {"ins", "del", "moveFrom", "moveTo", "rPrChange", "pPrChange", "sectPrChange", "tblPrChange",
           "trPrChange", "tcPrChange", "tblGridChange", "numberingChange", "cellIns", "cellDel", "cellMerge"}
CONTAINERS = {"hyperlink", "smartTag", "customXml"}  # inline wrappers whose content is translated
DROPPED = {"proofErr", "lastRenderedPageBreak"}  # layout and spelling caches Word rebuilds itself
# w:lang goes before these in w:rPr (the schema's element order, which Word enforces)
AFTER_LANG = {"eastAsianLayout", "specVanish", "oMath", "rPrChange"}
EAST_ASIAN = {"zh", "ja", "ko"}
BIDI = {"ar", "he", "fa", "ur", "yi", "ps", "dv"}
# What a package may expand to before anything is decompressed (a 2.4 KB bzip2 entry can declare 2 GiB).
# zipfile never reads past an entry's declared size (a lie ends in a CRC error), so the declared sizes bound
# what is read. The largest Word documents seen hold a few hundred MB of media and far fewer parts.
MAX_ENTRIES = 10_000
MAX_TOTAL = 1 << 30  # all entries together, uncompressed
MAX_XML_PART = 256 << 20  # one XML part, parsed in memory
# what a damaged entry raises: zipfile's own errors, zlib and bz2 (OSError), lzma, an unsupported method
_ZIP_ERRORS = (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, NotImplementedError, lzma.LZMAError)
MAX_RATIO = 1000  # uncompressed / compressed, for an entry over 1 MiB: XML compresses 5-30x, media ~1x


def w(name: str, ns: str = W) -> str:
    return f"{{{ns}}}{name}"


def _fmt_key(rpr, ns: str = W) -> str:
    """What makes two runs look different; rsids and language do not."""
    if rpr is None:
        return ""
    copy = deepcopy(rpr)
    for el in copy.iter():
        for attr in [a for a in el.attrib if "rsid" in a]:
            del el.attrib[attr]
    for lang in copy.findall(w("lang", ns)):
        copy.remove(lang)
    if len(copy) == 0 and not copy.attrib:
        return ""  # an empty w:rPr formats nothing
    return etree.tostring(copy, method="c14n").decode()


@dataclass
class Plan:
    """How to rebuild one paragraph: what each placeholder number stands for."""

    paragraph: object
    base_rpr: object = None
    codes: dict[int, tuple] = field(default_factory=dict)  # n -> ("format", rPr) | ("container", el) |
    #                                                           ("runpart", rPr, el) | ("elements", [els])
    twins: list = field(default_factory=list)  # a text box's fallback paragraphs that get the same content


class Docx(Connector):
    format = "docx"

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self.zip, names = open_package(path, data, "a Word document", ", not a readable DOCX")
        if "[Content_Types].xml" not in names:
            raise DocumentError(f"{path}: a ZIP file but not an Office document (no [Content_Types].xml)")
        types = self._content_types(self._read("[Content_Types].xml"))
        main = [n for n, t in types.items() if t in MAIN_TYPES]
        if not main:
            raise DocumentError(f"{path}: an Office package but not a Word document (no main document part)")
        self.parts: dict[str, XmlDocument] = {}
        order = main + sorted(n for n, t in types.items() if t in TEXT_TYPES and n not in main)
        for name in order:
            if name not in names:
                raise DocumentError(f"{path}: the package lists {name} but does not contain it")
            self.parts[name] = XmlDocument(f"{path}:{name}", self._read(name))
        self.ns = self._namespace(main[0])
        for name, part in self.parts.items():
            for el in part.root.iter():
                if isinstance(el.tag, str) and el.tag.startswith(f"{{{self.ns}}}") and local_name(el) in TRACKED:
                    raise DocumentError(f"{path}: {name} contains tracked changes (w:{local_name(el)}); accept or "
                                        "reject them in Word first, then translate")
        self.source_lang = self._default_language(names)
        self._changed: set[str] = set()
        self._lang: str | None = None

    def w(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def _namespace(self, main: str) -> str:
        """The WordprocessingML namespace of the package: Transitional, or Strict (purl.oclc.org), which has
        the same elements under another name. Anything else is refused, never passed through as
        "0 segments"."""
        found = {name: namespace(part.root) for name, part in self.parts.items()}
        ns = found[main]
        if ns not in (W, W_STRICT):
            raise DocumentError(f"{self.path}: {main} is in the namespace {ns or 'none'}, not WordprocessingML "
                                "(Transitional or Strict); not a Word document bayling-cat can translate")
        for name, other in found.items():
            if other != ns and other in (W, W_STRICT):
                raise DocumentError(f"{self.path}: {name} mixes Strict and Transitional WordprocessingML with "
                                    f"{main}; save the document again in Word")
        return ns

    def _read(self, name: str) -> bytes:
        return read_part(self.zip, self.path, name)

    def _content_types(self, data: bytes) -> dict[str, str]:
        root = XmlDocument(f"{self.path}:[Content_Types].xml", data).root
        return {o.get("PartName", "").lstrip("/"): o.get("ContentType", "")
                for o in root.iter(f"{{{CT}}}Override")}

    def _default_language(self, names) -> str | None:
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        if "word/styles.xml" not in names:
            return None
        try:
            root = XmlDocument(f"{self.path}:word/styles.xml", self._read("word/styles.xml")).root
        except DocumentError:
            return None
        lang = root.find(f"{self.w('docDefaults')}/{self.w('rPrDefault')}/{self.w('rPr')}/{self.w('lang')}")
        if lang is None or not lang.get(self.w("val")):
            return None
        try:
            return languages.normalize(lang.get(self.w("val")))
        except UserError:
            return None

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        self.target_lang = lang  # Word declares no document language: each translated run gets w:lang

    def declared_target_language(self) -> str | None:
        return None

    # -- reading -------------------------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        out = []
        for name, part in self.parts.items():
            twins = self._fallback_twins(part.root)
            plans: dict = {}
            for index, paragraph in enumerate(part.root.iter(self.w("p"))):
                text, codes, plan = self._flatten(paragraph)
                plans[paragraph] = plan
                skip = None
                if paragraph in twins:  # written with its DrawingML copy, never translated a second time
                    plans[twins[paragraph]].twins.append(paragraph)
                    skip = "text box fallback copy (written with the DrawingML text box)"
                out.append(Segment(key=f"{name}#p{index + 1}", source=text, codes=codes, handle=(name, plan),
                                   skip=skip))
        return out

    def _fallback_twins(self, root) -> dict:
        """{fallback paragraph: its DrawingML paragraph} for the text boxes Word writes twice (``mc:Choice``
        holds the DrawingML text box, ``mc:Fallback`` its VML copy for older readers): paired in order when
        both copies hold the same number of paragraphs with the same text. Each pair is translated once
        and the translation written into both, so the two copies can never say different things."""
        twins: dict = {}
        for alternate in root.iter(f"{{{MC}}}AlternateContent"):
            choice, fallback = alternate.find(f"{{{MC}}}Choice"), alternate.find(f"{{{MC}}}Fallback")
            if choice is None or fallback is None:
                continue
            first, second = list(choice.iter(self.w("p"))), list(fallback.iter(self.w("p")))
            if first and len(first) == len(second) and \
                    [self._plain(p) for p in first] == [self._plain(p) for p in second]:
                twins.update(zip(second, first))
        return twins

    def _plain(self, paragraph) -> str:
        return "".join(t.text or "" for t in paragraph.iter(self.w("t")))

    def _flatten(self, paragraph) -> tuple[str, dict[int, Code], Plan]:
        """A paragraph as text with placeholders: its runs' words, each run format other than the paragraph's
        main one as a paired code, everything else (fields, drawings, bookmarks...) as codes."""
        plan = Plan(paragraph)
        counter = [0]

        def new_code(entry) -> int:
            counter[0] += 1
            plan.codes[counter[0]] = entry
            return counter[0]

        text = self._render(self._tokens(paragraph, new_code), plan, new_code)
        codes = {n: Code(n, None, paired=entry[0] in ("format", "container"), can_delete=entry[0] != "format")
                 for n, entry in plan.codes.items()}
        return text, codes, plan

    def _tokens(self, paragraph, new_code) -> list[tuple]:
        """The paragraph's content in order: ("text", str, rPr) | ("code", n) | ("open", n) | ("close", n)."""
        tokens: list[tuple] = []

        def walk(container):
            children = list(container)
            i = 0
            while i < len(children):
                child = children[i]
                i += 1
                name = local_name(child) if isinstance(child.tag, str) else ""
                if name == "pPr" or name in DROPPED:
                    continue
                if name == "r" and child.find(f"{self.w('fldChar')}[@{self.w('fldCharType')}='begin']") is not None:
                    group, depth = [], 0  # a complex field, begin to end: one opaque code
                    for run in [child] + children[i:]:
                        group.append(run)
                        for fc in run.iter(self.w("fldChar")):
                            depth += {"begin": 1, "end": -1}.get(fc.get(self.w("fldCharType")), 0)
                        if depth <= 0:
                            break
                    i += len(group) - 1
                    tokens.append(("code", new_code(("elements", group))))
                elif name == "r":
                    rpr = child.find(self.w("rPr"))
                    for part in child:
                        pname = local_name(part) if isinstance(part.tag, str) else ""
                        if pname in ("rPr", *DROPPED):
                            continue
                        if pname == "t":
                            if part.text:
                                tokens.append(("text", part.text, rpr))
                        else:  # tab, break, drawing, footnote reference, symbol...: the run part moves as one
                            tokens.append(("code", new_code(("runpart", rpr, part))))
                elif name in CONTAINERS:
                    n = new_code(("container", child))
                    tokens.append(("open", n))
                    walk(child)
                    tokens.append(("close", n))
                else:  # bookmarks, comment ranges, simple fields, inline content controls, math...
                    tokens.append(("code", new_code(("elements", [child]))))

        walk(paragraph)
        return tokens

    def _render(self, tokens: list[tuple], plan: Plan, new_code) -> str:
        """The tokens as text: the most used run format is the paragraph's own, every other one a paired code."""
        counts: dict[str, int] = {}
        first_rpr: dict[str, object] = {}
        for tok in tokens:
            if tok[0] == "text":
                key = _fmt_key(tok[2], self.ns)
                counts[key] = counts.get(key, 0) + len(tok[1])
                first_rpr.setdefault(key, tok[2])
        base = max(counts, key=lambda k: (counts[k], k == "")) if counts else ""
        plan.base_rpr = first_rpr.get(base)
        parts: list[str] = []
        open_fmt: tuple[int, str] | None = None  # the format code whose text is being written

        def close_fmt():
            nonlocal open_fmt
            if open_fmt is not None:
                parts.append(f"</{open_fmt[0]}>")
                open_fmt = None

        for tok in tokens:
            if tok[0] == "text":
                key = _fmt_key(tok[2], self.ns)
                if key == base:
                    close_fmt()
                elif open_fmt is None or open_fmt[1] != key:
                    close_fmt()
                    n = new_code(("format", tok[2]))
                    parts.append(f"<{n}>")
                    open_fmt = (n, key)
                parts.append(tok[1])
            else:
                close_fmt()
                kind, n = tok
                parts.append({"code": f"<{n}/>", "open": f"<{n}>", "close": f"</{n}>"}[kind])
        close_fmt()
        return "".join(parts)

    # -- writing -------------------------------------------------------------------------------------

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        if copied:
            return  # nothing to translate: the paragraph already says it
        name, plan = segment.handle
        paragraph = plan.paragraph
        for child in list(paragraph):
            if not (isinstance(child.tag, str) and local_name(child) == "pPr"):
                paragraph.remove(child)
        containers = [paragraph]
        formats = [plan.base_rpr]
        stack: list[str] = []  # what each open placeholder pushed: "format" or "container"
        pos = 0
        for m in re.finditer(r"<(/?)(\d+)(/?)>", text):
            self._add_text(containers[-1], text[pos:m.start()], formats[-1])
            pos = m.end()
            closing, n, selfclosing = m.group(1) == "/", int(m.group(2)), m.group(3) == "/"
            entry = plan.codes[n]
            if closing:
                if stack.pop() == "format":
                    formats.pop()
                else:
                    containers.pop()
            elif selfclosing:
                kind = entry[0]
                if kind == "runpart":
                    run = etree.SubElement(containers[-1], self.w("r"))
                    if entry[1] is not None:
                        run.append(deepcopy(entry[1]))
                    run.append(entry[2])  # the original element moves: nested text boxes keep their text
                else:
                    for el in entry[1]:
                        containers[-1].append(el)
            elif entry[0] == "format":
                formats.append(entry[1])
                stack.append("format")
            else:
                original = entry[1]
                shell = etree.SubElement(containers[-1], original.tag, attrib=dict(original.attrib))
                for child in original:  # properties of the wrapper (e.g. smartTagPr), not its runs
                    if isinstance(child.tag, str) and local_name(child).endswith("Pr"):
                        shell.append(deepcopy(child))
                containers.append(shell)
                stack.append("container")
        self._add_text(containers[-1], text[pos:], formats[-1])
        for twin in plan.twins:  # the text box's fallback copy: the same runs, its own paragraph properties
            for child in list(twin):
                if not (isinstance(child.tag, str) and local_name(child) == "pPr"):
                    twin.remove(child)
            for child in paragraph:
                if not (isinstance(child.tag, str) and local_name(child) == "pPr"):
                    twin.append(deepcopy(child))
        self._changed.add(name)

    def _add_text(self, container, text: str, rpr) -> None:
        text = xml_safe(text)  # the last guard: lxml refuses what XML cannot hold, and would end the run
        if not text:
            return
        run = etree.SubElement(container, self.w("r"))
        props = deepcopy(rpr) if rpr is not None else etree.Element(self.w("rPr"))
        self._set_language(props)
        run.append(props)
        t = etree.SubElement(run, self.w("t"))
        t.text = text
        t.set(XML_SPACE, "preserve")

    def _set_language(self, rpr) -> None:
        """Mark translated text with the target language, so Word spell-checks it as such."""
        if not self.target_lang:
            return
        lang = rpr.find(self.w("lang"))
        if lang is None:
            lang = etree.Element(self.w("lang"))
            after = next((c for c in rpr if isinstance(c.tag, str) and local_name(c) in AFTER_LANG), None)
            if after is None:
                rpr.append(lang)
            else:
                after.addprevious(lang)
        primary = self.target_lang.split("-")[0]
        slot = "eastAsia" if primary in EAST_ASIAN else "bidi" if primary in BIDI else "val"
        lang.set(self.w(slot), self.target_lang)

    def write_suggestion(self, segment: Segment, text: str) -> None:
        raise NotImplementedError

    def serialize(self) -> bytes:
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as target:
            for info in self.zip.infolist():
                entry = copy.copy(info)  # writing sets offsets and sizes: the package read stays intact
                if info.filename in self._changed:
                    target.writestr(entry, self.parts[info.filename].serialize_root(), compress_type=info.compress_type)
                else:  # streamed, never a whole entry in memory
                    try:
                        with self.zip.open(info) as src, target.open(entry, "w") as dst:
                            shutil.copyfileobj(src, dst, 1 << 20)
                    except _ZIP_ERRORS as exc:
                        raise DocumentError(f"{self.path}: cannot read {info.filename} from the package "
                                            f"({exc})") from None
        return out.getvalue()


def declared_entries(data: bytes) -> int | None:
    """The entry count the ZIP's end-of-central-directory record declares (its ZIP64 form when the classic
    field is saturated), read without parsing the directory; None when there is no such record."""
    import struct

    end = data.rfind(b"PK\x05\x06", max(0, len(data) - (1 << 16) - 22))
    if end < 0 or end + 22 > len(data):
        return None
    count = struct.unpack_from("<H", data, end + 10)[0]
    if count != 0xFFFF:
        return count
    locator = end - 20
    if locator < 0 or data[locator:locator + 4] != b"PK\x06\x07":
        return count
    record = struct.unpack_from("<Q", data, locator + 8)[0]
    if record + 40 > len(data) or data[record:record + 4] != b"PK\x06\x06":
        return count
    return struct.unpack_from("<Q", data, record + 32)[0]


def open_package(path, data: bytes, kind: str, damaged: str = "") -> tuple[zipfile.ZipFile, set[str]]:
    """A ZIP package (DOCX, PPTX, XLSX, ODT) opened safely: the entry count its end record declares checked
    before zipfile builds an object for each entry, then the directory (check_package); ``kind`` names the
    document in the refusal ("a Word document"), ``damaged`` ends the line for a ZIP that cannot be read."""
    entries = declared_entries(data)
    if entries is not None and entries > MAX_ENTRIES:
        raise DocumentError(f"{path}: the package declares {entries} entries, more than the {MAX_ENTRIES} {kind} "
                            "may have; refused")
    try:
        package = zipfile.ZipFile(io.BytesIO(data))
        names = set(package.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise DocumentError(f"{path}: a damaged or truncated ZIP package{damaged} ({exc})") from None
    check_package(path, package)
    return package, names


def check_package(path, package: zipfile.ZipFile) -> None:
    """Refuse a ZIP bomb from its directory alone, before anything is decompressed: too many entries, too much
    in all, or one entry that expands far beyond what any real content compresses to."""
    infos = package.infolist()
    if len(infos) > MAX_ENTRIES:
        raise DocumentError(f"{path}: the package holds {len(infos)} entries, more than the {MAX_ENTRIES} a Word "
                            "document may have; refused")
    check_names(path, infos)
    total = sum(i.file_size for i in infos)
    for info in infos:
        if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise DocumentError(f"{path}: {info.filename} would expand from {_size(info.compress_size)} to "
                                f"{_size(info.file_size)} (a ZIP bomb); refused")
    if total > MAX_TOTAL:
        raise DocumentError(f"{path}: the package would expand to {_size(total)}, more than the {_size(MAX_TOTAL)} "
                            "bayling-cat reads; refused")


def check_names(path, infos) -> None:
    """Refuse entry names that would be copied into the translated package and hurt whoever unpacks it (a
    zip slip): absolute paths (``/tmp/x``, ``C:x``), ``..`` or ``.`` segments, backslashes (``..\\x`` is a
    parent folder on Windows), control characters, and the same name twice (OPC part names are
    case-insensitive: ``a.xml`` and ``A.XML`` are one part). Word never writes any of these."""
    seen: dict[str, str] = {}
    for info in infos:
        name = info.filename
        segments = name.split("/")
        why = None
        if not name or name.startswith("/") or re.match(r"[A-Za-z]:", name):
            why = "an absolute path"
        elif "\\" in name:
            why = "a backslash (a folder separator on Windows)"
        elif any(seg in (".", "..") for seg in segments) or any(not seg for seg in segments[:-1]):
            why = "a '..', '.' or empty folder segment"
        elif any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            why = "a control character"
        elif name.lower() in seen:
            why = f"a second entry of the name {seen[name.lower()]!r}"
        if why:
            raise DocumentError(f"{path}: the package holds an entry named {name!r}: {why}; such a package is "
                                "refused (it is not a Word document, and copying the name into the output could "
                                "write outside the folder of whoever unpacks it)")
        seen[name.lower()] = name


def _size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def read_part(package: zipfile.ZipFile, path, name: str) -> bytes:
    """One part of an OOXML or ODF package, refused when it would expand past MAX_XML_PART (a bomb)."""
    try:
        info = package.getinfo(name)
        if info.file_size > MAX_XML_PART:
            raise DocumentError(f"{path}: {name} would expand to {_size(info.file_size)}, more than the "
                                f"{_size(MAX_XML_PART)} a part may hold; refused")
        with package.open(info) as fh:
            return fh.read(info.file_size + 1)
    except _ZIP_ERRORS as exc:
        raise DocumentError(f"{path}: cannot read {name} from the package ({exc})") from None
