"""Safe XML parsing and faithful writing for the XML-based connectors.

Parsing never expands entities, never loads a DTD and never touches the network; a file that declares
entities (in any encoding: the parsed DOCTYPE is checked, not the bytes) or refers to undeclared ones is
refused. Writing keeps the original bytes before and after the root element (BOM, XML declaration,
comments, DOCTYPE) and serialises the root in the file's own encoding and line endings, so a file read and
written without changes is the same XML.
"""

from __future__ import annotations

import re
from pathlib import Path

from lxml import etree

from bayling_cat.errors import UserError


class DocumentError(UserError):
    """A file that cannot be read as what it claims to be."""


_PARSER_OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                       remove_blank_text=False, strip_cdata=False, remove_comments=False, remove_pis=False,
                       huge_tree=False, recover=False)
_ENTITY_DECL = re.compile(rb"<!ENTITY", re.I)
_ENTITY_DECL16 = re.compile("<!ENTITY".encode("utf-16-le"), re.I)


# How an XML document can begin (XML 1.0 appendix F): "<", after an optional byte order mark, in UTF-8,
# UTF-16 or UTF-32 of either byte order.
_BOMS = ((b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xff\xfe\x00\x00", "utf-32-le"), (b"\xef\xbb\xbf", "utf-8"),
         (b"\xfe\xff", "utf-16-be"), (b"\xff\xfe", "utf-16-le"))
_NO_BOM = ((b"\x00\x00\x00<", "utf-32-be"), (b"<\x00\x00\x00", "utf-32-le"), (b"\x00<", "utf-16-be"),
           (b"<\x00", "utf-16-le"))


def _codec(data: bytes) -> str:
    """A codec that decodes ``data`` character by character: its UTF-16/32 byte order when it has a byte
    order mark, else latin-1 (one character per byte, enough for the markup of ASCII-compatible encodings)."""
    for bom, codec in _BOMS:
        if data.startswith(bom) and codec != "utf-8":
            return codec
    return "latin-1"


def looks_like_xml(data: bytes) -> bool:
    """Whether ``data`` begins like an XML document in any encoding XML allows (not only UTF-8); a UTF-16
    table with a byte order mark (Excel's "Unicode text") is not XML."""
    for bom, codec in _BOMS:
        if data.startswith(bom):
            head = data[len(bom):len(bom) + 256]
            return head.decode(codec, "ignore").lstrip(" \t\r\n\ufeff").startswith("<")
    return data.lstrip(b" \t\r\n").startswith(b"<") or data.startswith(tuple(p for p, _ in _NO_BOM))


def parse(path: str | Path, data: bytes) -> etree._ElementTree:
    if _ENTITY_DECL.search(data) or _ENTITY_DECL16.search(data):
        line = data[:(_ENTITY_DECL.search(data) or _ENTITY_DECL16.search(data)).start()].count(b"\n") + 1
        raise DocumentError(f"{path}: line {line}: entity declarations are refused (they can expand without "
                            "bound or read other files)")
    parser = etree.XMLParser(**_PARSER_OPTIONS)
    try:
        escaped = _escape_attribute_breaks(data)
        try:
            root = etree.fromstring(escaped, parser)
        except etree.XMLSyntaxError:
            if escaped is data:
                raise
            root = etree.fromstring(data, etree.XMLParser(**_PARSER_OPTIONS))  # the error at the file's own line
    except etree.XMLSyntaxError as exc:
        line, col = exc.position if exc.position else (exc.lineno, exc.offset)
        message = str(exc.msg or exc).split(", line ")[0]
        raise DocumentError(f"{path}: line {line}, column {col}: not well-formed XML ({message})") from None
    if root is None:
        raise DocumentError(f"{path}: no XML content")
    tree = root.getroottree()
    _refuse_entities(path, tree)
    return tree


# Every token ends at its terminator or at the end of the input (\Z): an unterminated comment, quote or tag
# then consumes the rest once, instead of being scanned to the end again from each later start (quadratic:
# 238 s on 10^5 characters of "<!--" before).
_START_TAG = re.compile(r"""<!--.*?(?:-->|\Z)|<!\[CDATA\[.*?(?:\]\]>|\Z)|<\?.*?(?:\?>|\Z)"""
                        r"""|<!DOCTYPE(?:[^\[>]|\[.*?(?:\]|\Z))*(?:>|\Z)"""
                        r"""|<[A-Za-z_:](?:[^>"']|"[^"]*(?:"|\Z)|'[^']*(?:'|\Z))*(?:>|\Z)""", re.S)
_ATTR_VALUE = re.compile(r"""("[^"]*"|'[^']*')""")
_RAW_BREAK_IN_VALUE = re.compile(r"""=\s*(?:"[^"<]*[\r\n\t]|'[^'<]*[\r\n\t])""")


def _escape_attribute_breaks(data: bytes) -> bytes:
    """Raw line breaks and tabs inside attribute values as character references.

    XML reads a raw line break in an attribute as a space, and lxml would write the space: a rewritten unit
    would then say ``equiv-text="a b"`` where the file said "a", a line break, "b" (Angular writes such
    values; its tools and the npm xliff parser read them as line breaks). Escaped before parsing, the value
    keeps its break and is written as ``&#10;``, which every parser reads back the same.
    """
    codec = _codec(data)
    if codec == "latin-1" and b"\x00" in data[:4]:
        return data  # UTF-16/32 without a byte order mark: left as XML reads it
    text = data.decode(codec, "surrogatepass") if codec != "latin-1" else data.decode("latin-1")
    if not _RAW_BREAK_IN_VALUE.search(text):
        return data

    def tag(m):
        token = m.group(0)
        if token[1:2] in ("!", "?"):
            return token
        return _ATTR_VALUE.sub(lambda v: v.group(0).replace("\r\n", "&#10;").replace("\r", "&#10;")
                               .replace("\n", "&#10;").replace("\t", "&#9;"), token)

    return _START_TAG.sub(tag, text).encode(codec, "surrogatepass") if codec != "latin-1" else \
        _START_TAG.sub(tag, text).encode("latin-1")


def _refuse_entities(path, tree) -> None:
    """The parsed tree's own word on entities, whatever the file's encoding (UTF-16/32, EBCDIC, Latin-1 hide
    a declaration from a byte search): an internal subset that declares any entity, or a reference to an
    entity only an external DTD (never read) could declare, is refused."""
    dtd = tree.docinfo.internalDTD
    declared = [e.name for e in dtd.iterentities()] if dtd is not None else []
    if declared:
        raise DocumentError(f"{path}: its DOCTYPE declares the entit{'y' if len(declared) == 1 else 'ies'} "
                            f"{', '.join(declared[:5])}; entity declarations are refused (they can expand "
                            "without bound or read other files)")
    for node in tree.getroot().iter(etree.Entity):
        line = f"line {node.sourceline}: " if node.sourceline else ""
        raise DocumentError(f"{path}: {line}a reference to the entity &{node.name}; which the file does not "
                            "declare (an external DTD is never read)")


def local_name(element) -> str:
    tag = element.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def namespace(element) -> str:
    tag = element.tag
    return tag[1:].split("}", 1)[0] if isinstance(tag, str) and tag.startswith("{") else ""


class XmlDocument:
    """A parsed XML file that can be written back with everything outside the root element byte for byte."""

    def __init__(self, path: str | Path, data: bytes):
        self.path = Path(path)
        self.raw = data
        self.tree = parse(path, data)
        self.root = self.tree.getroot()
        self.encoding = self.tree.docinfo.encoding or "UTF-8"
        self._bounds = self._root_bounds()
        # the file's line-ending convention, which lxml (writing line feeds) would not keep in rewritten parts
        text = self.raw.decode(_codec(self.raw), "replace")
        self.crlf = text.count("\r\n") * 2 > text.count("\n") > 0
        self._dirty: set = set()
        self._structure = False
        self._root_attrs: dict[str, str] = {}  # attributes set on the root element (written into its start tag)

    def _root_bounds(self) -> tuple[int, int] | None:
        """Byte offsets of the root element in the original file, for ASCII-compatible encodings."""
        if self.raw.startswith((b"\xff\xfe", b"\xfe\xff")) or "16" in self.encoding or "32" in self.encoding:
            return None
        text = self.raw.decode("latin-1")  # one character per byte: offsets stay byte offsets
        pos = 3 if text.startswith("\xef\xbb\xbf") else 0
        while True:
            while pos < len(text) and text[pos] in " \t\r\n":
                pos += 1
            if text.startswith("<?", pos):
                pos = text.index("?>", pos) + 2
            elif text.startswith("<!--", pos):
                pos = text.index("-->", pos) + 3
            elif text.startswith("<!", pos):
                depth, i = 0, pos
                while i < len(text):
                    if text[i] == "[":
                        depth += 1
                    elif text[i] == "]":
                        depth -= 1
                    elif text[i] == ">" and depth <= 0:
                        break
                    i += 1
                pos = i + 1
            else:
                break
        qname = self._root_qname()
        end_tag = re.compile(r"</" + re.escape(qname) + r"\s*>")
        last = None
        for last in end_tag.finditer(text, pos):
            pass
        if not text.startswith("<" + qname, pos) or last is None:
            return None
        return pos, last.end()

    def _root_qname(self) -> str:
        prefix = self.root.prefix
        return f"{prefix}:{local_name(self.root)}" if prefix else local_name(self.root)

    # -- writing ------------------------------------------------------------------------------------------

    def touch(self, unit) -> None:
        """Record that the connector changed this unit-level element (trans-unit, unit)."""
        self._dirty.add(unit)

    def touch_structure(self) -> None:
        """Record a change outside the units (a language attribute, a header): the whole root is rewritten."""
        self._structure = True

    def set_root_attribute(self, name: str, value: str) -> None:
        """Set an attribute of the root element (XLIFF 2's trgLang). Written into the file's own start tag of
        the root: the rest of that tag (its quoting, order and line breaks) and every unit not written stay
        byte for byte."""
        self.root.set(name, value)
        self._root_attrs[name] = value

    def serialize(self) -> bytes:
        """The file with the connector's changes.

        Unchanged: the original bytes. Only units changed: each changed unit re-serialised in place and every
        other byte as it was. Otherwise the root element re-serialised (the same XML, attribute quoting and
        empty-element forms normalised) between the original prolog and epilog.
        """
        if not self._dirty and not self._structure and not self._root_attrs:
            return self.raw
        if not self._structure and self._bounds is not None:
            spliced = self._splice() if self._dirty else self.raw
            if spliced is not None:
                patched = self._patch_root_tag(spliced)
                if patched is not None:
                    return patched
        return self.serialize_root()

    def _patch_root_tag(self, data: bytes) -> bytes | None:
        """``data`` with the root's start tag carrying ``_root_attrs``, or None where that cannot be done in
        place (a value that is not ASCII, a tag this scan cannot read). The root's start tag comes before every
        unit, so splicing units never moved it."""
        if not self._root_attrs:
            return data
        values = {k: _attr_escape(v) for k, v in self._root_attrs.items()}
        if any(not v.isascii() for v in values.values()) or any(not k.isascii() or "}" in k for k in values):
            return None
        start = self._bounds[0]
        text = data.decode("latin-1")
        tag = re.compile(r"<" + re.escape(self._root_qname()) +
                         r"""((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)(\s*/?>)""").match(text, start)
        if tag is None:
            return None
        attrs = tag.group(1)
        for name, value in values.items():
            found = re.search(r"(\s)" + re.escape(name) + r"""(\s*=\s*)(["'])(.*?)\3""", attrs, re.S)
            if found:
                quote = found.group(3)
                escaped = value.replace("'", "&apos;") if quote == "'" else value
                attrs = attrs[:found.start(4)] + escaped + attrs[found.end(4):]
            else:
                attrs += f' {name}="{value}"'
        return (text[:tag.start(1)] + attrs + text[tag.end(1):]).encode("latin-1")

    def serialize_root(self) -> bytes:
        body = self._line_ends(etree.tostring(self.root, encoding=self.encoding, xml_declaration=False,
                                              with_tail=False))
        if self._bounds is None:  # UTF-16/32: rewritten whole, the file's final line break kept
            data = self._line_ends(etree.tostring(self.tree, encoding=self.encoding, xml_declaration=True))
            codec = _codec(data)
            original = self.raw.decode(_codec(self.raw), "replace")
            if codec != "latin-1" and original.endswith("\n"):
                data += original[len(original.rstrip()):].encode(codec)
            return data
        start, end = self._bounds
        return self.raw[:start] + body + self.raw[end:]

    def _splice(self) -> bytes | None:
        tags = {u.tag for u in self._dirty}
        if len(tags) != 1:
            return None
        sample = next(iter(self._dirty))
        elements = list(self.root.iter(sample.tag))
        qname = f"{sample.prefix}:{local_name(sample)}" if sample.prefix else local_name(sample)
        spans = _element_spans(self.raw.decode("latin-1"), qname, *self._bounds)
        if spans is None or len(spans) != len(elements):
            return None
        out, pos = [], 0
        for element, (start, end) in zip(elements, spans):
            if element not in self._dirty:
                continue
            out.append(self.raw[pos:start])
            out.append(self._serialize_unit(element))
            pos = end
        out.append(self.raw[pos:])
        return b"".join(out)

    def _line_ends(self, data: bytes) -> bytes:
        """lxml's output with the file's own line endings (lxml writes a carriage return in content as
        &#13;, so every raw line feed it wrote is a line break of the markup or of text)."""
        if not self.crlf:
            return data
        codec = _codec(data)
        if codec == "latin-1":
            return data.replace(b"\n", b"\r\n")
        return data.decode(codec).replace("\n", "\r\n").encode(codec)

    def _serialize_unit(self, element) -> bytes:
        data = self._line_ends(etree.tostring(element, encoding=self.encoding, xml_declaration=False,
                                              with_tail=False))
        parent = element.getparent()
        inherited = parent.nsmap if parent is not None else {}
        own = {p: u for p, u in element.nsmap.items() if inherited.get(p) != u}
        head_end = data.index(b">")
        head, rest = data[:head_end], data[head_end:]
        for prefix, uri in inherited.items():
            if prefix in own:
                continue
            name = b"xmlns" if prefix is None else b"xmlns:" + prefix.encode()
            decl = b" " + name + b'="' + _attr_escape(uri).encode(self.encoding) + b'"'
            head = head.replace(decl, b"", 1)
        return head + rest


def _attr_escape(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


def _element_spans(text: str, qname: str, begin: int, finish: int) -> list[tuple[int, int]] | None:
    """Offsets of every ``qname`` element (which must not nest) in ``text``, skipping comments, CDATA and
    processing instructions."""
    name = re.escape(qname)
    token = re.compile(r"<!--.*?-->|<!\[CDATA\[.*?\]\]>|<\?.*?\?>|</" + name + r"\s*>|<" + name +
                       r"""(?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*\s*(/?)>""", re.S)
    spans, open_at = [], None
    for m in token.finditer(text, begin, finish):
        tag = m.group(0)
        if tag.startswith(("<!--", "<![CDATA[", "<?")):
            continue
        if tag.startswith("</"):
            if open_at is None:
                return None
            spans.append((open_at, m.end()))
            open_at = None
        elif open_at is not None:
            return None  # nested: not what this assumes
        elif m.group(1) == "/":
            spans.append((m.start(), m.end()))
        else:
            open_at = m.start()
    return None if open_at is not None else spans


def insert_after(anchor, element) -> None:
    """Insert ``element`` as the next sibling of ``anchor``, indented like its siblings."""
    if anchor.getnext() is None:
        prev = anchor.getprevious()
        indent = prev.tail if prev is not None else anchor.getparent().text
        element.tail = anchor.tail
        if indent is not None and not indent.strip() and (anchor.tail is None or not anchor.tail.strip()):
            anchor.tail = indent
    else:
        element.tail = anchor.tail
    anchor.addnext(element)
