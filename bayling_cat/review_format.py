"""What the workbench reads from and writes into a document beyond targets, in each format's own terms:
the translator's comment on a segment, its length limit, the file it belongs to in a multi-file XLIFF, and
whether a target the file holds came from a machine.

Kept apart from the connectors (which the pipeline shares) because only the workbench needs them; each
function looks at the connector's own handle of the segment (XLIFF 1.x: ``(unit, mid)``, XLIFF 2:
``(unit, segment)``, PO: ``(unit, plural form, accelerator)``).

Comments are written where the format's own tools keep a translator's comment: XLIFF 1.2 (and SDLXLIFF,
MQXLIFF) ``<note from="translator">`` as translate-toolkit and Virtaal write it, XLIFF 2
``<note category="translator">`` in the unit's ``<notes>``, PO translator comments (``# ...``) as Poedit
writes them. DOCX has no place for them.
"""

from __future__ import annotations

from lxml import etree

from bayling_cat.connectors.xmlio import local_name
from bayling_cat.document import Segment, xml_safe
from bayling_cat.errors import UserError

TRANSLATOR = "translator"
MQ_NS = "MQXliff"  # memoQ's namespace URI, as memoQ writes it
MACHINE_QUALIFIERS = {"leveraged-mt", "mt-suggestion"}


def _xml_kind(connector) -> str | None:
    fmt = connector.format
    if fmt.startswith("xliff-2"):
        return "xliff2"
    if fmt.startswith("xliff") or fmt in ("sdlxliff", "mqxliff"):
        return "xliff1"
    return None


def can_comment(connector) -> bool:
    return _xml_kind(connector) is not None or connector.format == "po"


def _xliff1_notes(connector, unit):
    return [n for n in unit.findall(connector.q("note")) if n.get("from") == TRANSLATOR]


def _xliff2_notes(connector, unit):
    notes = unit.find(connector.q("notes"))
    return [] if notes is None else [n for n in notes.findall(connector.q("note")) if n.get("category") == TRANSLATOR]


def comment(connector, seg: Segment) -> str:
    """The translator's comment the file holds for the segment ('' when none)."""
    kind = _xml_kind(connector)
    if kind == "xliff1":
        found = _xliff1_notes(connector, seg.handle[0])
    elif kind == "xliff2":
        found = _xliff2_notes(connector, seg.handle[0])
    elif connector.format == "po":
        notes = seg.handle[0].getnotes("translator") or ""
        return "\n".join(line for line in notes.split("\n") if not line.startswith("bayling-cat:")).strip()
    else:
        return ""
    return "\n".join("".join(n.itertext()).strip() for n in found).strip()


def write_comment(connector, seg: Segment, text: str) -> None:
    """Replace the segment's translator comment in the file (an empty text removes it)."""
    kind = _xml_kind(connector)
    text = xml_safe(text.strip())
    unit = seg.handle[0]
    if kind == "xliff1":
        for n in _xliff1_notes(connector, unit):
            _remove(n)
        if text:
            note = etree.Element(connector.q("note"))
            note.set("from", TRANSLATOR)
            note.text = text
            connector._insert_after_target(unit, note)
    elif kind == "xliff2":
        for n in _xliff2_notes(connector, unit):
            _remove(n)
        notes = unit.find(connector.q("notes"))
        if text:
            if notes is None:
                notes = etree.Element(connector.q("notes"))
                first = next((c for c in unit if isinstance(c.tag, str)), None)
                if first is None:
                    unit.append(notes)
                else:
                    notes.tail = unit.text
                    first.addprevious(notes)
            note = etree.SubElement(notes, connector.q("note"))
            note.set("category", TRANSLATOR)
            note.text = text
        elif notes is not None and not any(isinstance(c.tag, str) for c in notes):
            _remove(notes)  # <notes> must hold at least one note
    elif connector.format == "po":
        kept = [line for line in (unit.getnotes("translator") or "").split("\n") if line.startswith("bayling-cat:")]
        unit.removenotes(origin="translator")
        lines = [" ".join(line.split()) if not line.strip() else line for line in text.split("\n")] + kept
        if any(line.strip() for line in lines):
            unit.addnote("\n".join(line for line in lines if line.strip()), origin="translator")
        return
    else:
        raise UserError(f"{connector.path.name}: a {connector.format} document has no place for comments")
    connector.xml.touch(unit)


def _remove(element) -> None:
    parent = element.getparent()
    prev = element.getprevious()
    if prev is not None:
        prev.tail = element.tail if element.tail is not None and not (prev.tail or "").strip() else prev.tail
    elif parent is not None and element.tail is not None and not (parent.text or "").strip():
        parent.text = element.tail
    parent.remove(element)


def length_limit(connector, seg: Segment) -> int | None:
    """The most characters the target may hold: XLIFF 1.2 ``maxwidth`` with ``size-unit="char"`` (on the
    unit or a group around it), memoQ's ``mq:maxlengthchars``; None when the file sets no limit in
    characters (a limit in pixels cannot be counted here)."""
    if _xml_kind(connector) != "xliff1":
        return None
    unit = seg.handle[0]
    mq = unit.get(f"{{{MQ_NS}}}maxlengthchars")
    if mq is not None and mq.strip().lstrip("-").isdigit() and int(mq) > 0:
        return int(mq)
    node = unit
    while node is not None and local_name(node) in ("trans-unit", "group"):
        width = node.get("maxwidth")
        if width is not None:
            if (node.get("size-unit") or "pixel") == "char" and width.strip().isdigit() and int(width) > 0:
                return int(width)
            return None
        node = node.getparent()
    return None


def file_of(connector, seg: Segment) -> str | None:
    """The ``<file>`` of a multi-file XLIFF the segment belongs to (its ``original``, else its id)."""
    if _xml_kind(connector) is None:
        return None
    node = seg.handle[0]
    while node is not None and not (isinstance(node.tag, str) and local_name(node) == "file"):
        node = node.getparent()
    if node is None:
        return None
    return node.get("original") or node.get("id") or "file"


def from_machine(connector, seg: Segment) -> bool:
    """Whether the target the file holds is marked as machine output (XLIFF 1.2 ``leveraged-mt``, SDLXLIFF
    ``origin="mt"``, memoQ ``PreTranslated`` from a machine, bayling-cat's XLIFF 2 sub-state)."""
    kind = _xml_kind(connector)
    if kind == "xliff2":
        return "bayling-cat:mt" in (seg.handle[1].get("subState") or "")
    if kind != "xliff1":
        return False
    unit, _ = seg.handle
    target = unit.find(connector.q("target"))
    if target is not None and target.get("state-qualifier") in MACHINE_QUALIFIERS:
        return True
    if connector.format == "sdlxliff":
        return (connector.state(seg) or "") == "Draft" and _sdl_origin(seg) == "mt"
    return False


def _sdl_origin(seg: Segment) -> str | None:
    unit = seg.handle[0]
    for el in unit.iter():
        if isinstance(el.tag, str) and local_name(el) == "seg":
            return el.get("origin")
    return None
