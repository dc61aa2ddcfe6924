"""Large bilingual files read in pieces for `memory import`: an XLIFF or PO file is cut into small documents
of a few thousand units each, every one a valid file of the same dialect that the format's own connector
reads. The connectors (one per format, which know every dialect's states, codes and segmentation) stay the
only readers of these formats, and a file of any size is imported with the memory of one piece.

XLIFF is cut with lxml's ``iterparse``: each piece holds the root, the ``<file>`` (with its ``<header>``,
without the embedded original document an SDLXLIFF carries there) and the ``<body>``/``<group>`` elements
around its units, with their attributes, so languages, states and inherited ``translate`` flags read the
same. PO is cut at the blank lines between entries; every piece starts with the file's header entry
(charset, language, plural forms).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Iterator

from lxml import etree

from bayling_cat.connectors.xmlio import local_name
from bayling_cat.memory.tmx import CountingReader

SIZE = 2000  # units per piece
UNITS = ("trans-unit", "unit")  # XLIFF 1.x, 2.x
# what a piece does not need: the original document (SDLXLIFF, XLIFF 1.2 <reference>), skeletons
HEAVY = ("reference", "skl", "skeleton", "internal-file", "external-file")


class ChunkError(Exception):
    """A file that cannot be cut: the message names the line."""


def xliff_chunks(path: Path, size: int | None = None, progress=None) -> Iterator[bytes]:
    """The XLIFF file as XLIFF documents of at most ``size`` (default SIZE) units each."""
    size = size or SIZE
    root = None
    made = 0
    chain: list[_Open] = []  # the open elements from the root down
    piece: list = []  # (ancestors, copy of the unit)
    parser_args = dict(events=("start", "end"), resolve_entities=False, no_network=True, huge_tree=True,
                       load_dtd=False, remove_comments=False)
    try:
        with open(path, "rb") as fh:
            for event, elem in etree.iterparse(CountingReader(fh, progress) if progress else fh, **parser_args):
                if not isinstance(elem.tag, str):
                    continue
                name = local_name(elem)
                if event == "start":
                    if root is None:
                        root = elem
                        _refuse_entities(elem)
                        if name != "xliff":
                            raise ChunkError(f"not an XLIFF file (the root element is <{name}>)")
                    parent = chain[-1].nsmap if chain else {}
                    chain.append(_Open(elem.tag, dict(elem.attrib),
                                       {k: v for k, v in elem.nsmap.items() if parent.get(k) != v}))
                    chain[-1].nsmap = elem.nsmap
                    continue
                chain.pop()
                if name in UNITS:
                    for node in elem.iter(etree.Entity):
                        raise ChunkError(f"line {node.sourceline}: a reference to the entity &{node.name}; which "
                                         "the file does not declare (an external DTD is never read)")
                    piece.append((tuple(chain), copy.deepcopy(elem)))
                    _drop(elem)
                    if len(piece) >= size:
                        made += 1
                        yield _document(piece)
                        piece = []
                elif chain and chain[-1].name == "file" and name not in ("body", "group", "unit"):
                    if name not in HEAVY:  # <header>, <notes>, ...: file-level information a piece carries
                        chain[-1].header.append(_light(elem))
                    _drop(elem)
                elif name in ("body", "group"):
                    _drop(elem)
                elif name == "file" and piece:
                    made += 1
                    yield _document(piece)  # a piece never spans two <file>s' headers
                    piece = []
    except etree.XMLSyntaxError as exc:
        raise ChunkError(f"line {exc.lineno or '?'}: not well-formed XML ({_message(exc)})") from None
    if piece:
        yield _document(piece)
    elif not made and root is not None:  # no unit at all: the root alone, for the connector to judge
        yield etree.tostring(etree.Element(root.tag, dict(root.attrib), nsmap=root.nsmap), xml_declaration=True,
                             encoding="UTF-8")


def _message(exc) -> str:
    return re.sub(r",? line \d+(, column \d+)?", "", str(getattr(exc, "msg", None) or exc)).strip()


def _refuse_entities(root) -> None:
    dtd = root.getroottree().docinfo.internalDTD
    declared = [e.name for e in dtd.iterentities()] if dtd is not None else []
    if declared:
        raise ChunkError(f"its DOCTYPE declares the entit{'y' if len(declared) == 1 else 'ies'} "
                         f"{', '.join(declared[:5])}; entity declarations are refused (they can expand without "
                         "bound or read other files)")


def _drop(elem) -> None:
    """Free what iterparse has built of an element that has been handled."""
    elem.clear(keep_tail=False)
    parent = elem.getparent()
    if parent is not None:
        while elem.getprevious() is not None:
            del parent[0]


def _light(elem):
    """A copy without the heavy parts (an embedded original document can be megabytes)."""
    out = copy.deepcopy(elem)
    for heavy in [e for e in out.iter() if isinstance(e.tag, str) and local_name(e) in HEAVY]:
        heavy.getparent().remove(heavy)
    return out


class _Open:
    """An element the parser is inside of, as it started: what a piece needs to rebuild it."""

    __slots__ = ("tag", "attrib", "own_nsmap", "nsmap", "name", "header")

    def __init__(self, tag, attrib, own_nsmap):
        self.tag, self.attrib, self.own_nsmap = tag, attrib, own_nsmap
        self.name = etree.QName(tag).localname
        self.header: list = []  # a <file>'s children before its body: copies


def _document(piece: list) -> bytes:
    """One XLIFF document: the units' ancestors (as they started) and the units."""
    copies: dict[int, object] = {}
    root = None
    for ancestors, unit in piece:
        parent = None
        for original in ancestors:
            made = copies.get(id(original))
            if made is None:
                if parent is None:
                    made = root = etree.Element(original.tag, original.attrib, nsmap=original.own_nsmap)
                else:
                    made = etree.SubElement(parent, original.tag, original.attrib, nsmap=original.own_nsmap or None)
                copies[id(original)] = made
                for child in original.header:
                    made.append(copy.deepcopy(child))
            parent = made
        parent.append(unit)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


_BLANK = re.compile(rb"^[ \t]*\r?\n?$")


def po_chunks(path: Path, size: int | None = None, progress=None) -> Iterator[bytes]:
    """The PO file as PO documents of at most ``size`` (default SIZE) entries each, each with the header."""
    size = size or SIZE
    header: bytes | None = None
    entries: list[bytes] = []
    entry: list[bytes] = []

    seen_msgid = False

    def done():
        nonlocal header, seen_msgid
        text = b"".join(entry)
        entry.clear()
        if not seen_msgid and _MSGID.search(text):
            seen_msgid = True
            if _HEADER.search(text) and not _MSGCTXT.search(text):  # the first entry, msgid "" alone: the header
                header = text
                return
        entries.append(text)

    with open(path, "rb") as fh:
        for number, line in enumerate(fh):
            if progress:
                progress(len(line))
            if number == 0 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]  # a UTF-8 byte order mark: the header must still be found
            if _BLANK.match(line):
                if entry:
                    done()
                    if len(entries) >= size:
                        yield _po_document(header, entries)
                        entries.clear()
                continue
            entry.append(line if line.endswith(b"\n") else line + b"\n")
    if entry:
        done()
    if entries or header is not None:
        yield _po_document(header, entries)


_MSGID = re.compile(rb"^msgid\s", re.M)
_HEADER = re.compile(rb'^msgid[ \t]+""[ \t]*\r?\nmsgstr', re.M)  # an empty msgid with no continuation lines
_MSGCTXT = re.compile(rb"^msgctxt\s", re.M)


def _po_document(header: bytes | None, entries: list[bytes]) -> bytes:
    newline = b"\r\n" if (header or (entries[0] if entries else b"")).endswith(b"\r\n") else b"\n"
    return newline.join(([header] if header else []) + entries)
