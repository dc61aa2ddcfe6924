"""XLIFF 1.2, 1.1 and 1.0, and the two flavours built on 1.2: Trados SDLXLIFF and memoQ MQXLIFF.

Works on the lxml tree of the original file and touches only targets, states, alt-trans and bayling-cat's
own notes.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path

from lxml import etree

from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.icu import Splitter
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, insert_after, local_name, namespace
from bayling_cat.document import Segment, flatten, rebuild, xml_safe

SDL_NS = "http://sdl.com/FileTypes/SdlXliff/1.0"
MQ_NS = "MQXliff"
TOOL = "bayling-cat"

STANDALONE = {"x", "bx", "ex", "ph", "bpt", "ept", "it", "sub"}
DONE_STATES = {"final", "signed-off"}
OPEN_STATES = {"new", "needs-translation"}  # a target in these states is a placeholder, not a translation
# elements a trans-unit may hold after its target, in any order (XLIFF 1.2 schema)
AFTER_TARGET = {"context-group", "count-group", "prop-group", "note", "alt-trans"}


def classify(element) -> str:
    name = local_name(element)
    if name == "g":
        return "paired"
    if name == "mrk":
        if element.get("mtype") == "protected" or (not element.text and len(element) == 0):
            return "standalone"
        return "paired"
    return "standalone"  # x, bx, ex, ph, bpt, ept, it, and anything unknown: kept whole


class Xliff1(Connector):
    format = "xliff-1.2"
    can_suggest = True
    segments_follow_language = True  # ICU plural branches are laid out for the target language

    def __init__(self, path: Path, data: bytes, xml: XmlDocument | None = None):
        super().__init__(path, data)
        self.xml = xml or XmlDocument(path, data)
        root = self.xml.root
        self.ns = namespace(root)
        self.version = root.get("version", "1.2")
        self.format = f"xliff-{self.version}" if type(self) is Xliff1 else self.format
        self.files = list(root.iter(self.q("file")))
        if not self.files:
            raise DocumentError(f"{path}: no <file> element in this XLIFF")
        pairs = {(f.get("source-language"), f.get("target-language")) for f in self.files}
        sources = {s for s, _ in pairs if s}
        targets = {t for _, t in pairs if t}
        if len(sources) > 1 or len(targets) > 1:
            raise DocumentError(f"{path}: its <file> elements have different languages ({sorted(pairs)}); "
                                "split it into one file per language pair")
        self.source_lang = next(iter(sources), None)
        self.target_lang = next(iter(targets), None)

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}" if self.ns else name

    # -- reading --------------------------------------------------------------------------------------

    def units(self):
        for file in self.files:
            for unit in file.iter(self.q("trans-unit")):
                yield file, unit

    def translatable(self, unit) -> bool:
        el = unit
        while el is not None:
            value = el.get("translate")
            if value is not None:
                return value != "no"
            if local_name(el) == "file":
                break
            el = el.getparent()
        return True

    def unit_skip(self, unit, target) -> str | None:
        if not self.translatable(unit):
            return "translate=no"
        if unit.get("approved") == "yes":
            return "approved"
        if target is not None and target.get("state") in DONE_STATES:
            return target.get("state")
        return None

    def segment_skip(self, unit, mid) -> str | None:
        """A flavour's own reasons to leave one segment alone (SDLXLIFF: per mrk segment)."""
        return None

    def target_is_open(self, target) -> bool:
        return target.get("state") in OPEN_STATES

    def segments(self) -> list[Segment]:
        out: list[Segment] = []
        for file, unit in self.units():
            uid = unit.get("id", "?")
            source = unit.find(self.q("source"))
            target = unit.find(self.q("target"))
            if source is None:  # seen in real files (Angular merges); nothing to translate
                out.append(Segment(key=uid, source="", skip="no source", handle=(unit, None)))
                continue
            skip = self.unit_skip(unit, target)
            seg_source = unit.find(self.q("seg-source"))
            mrks = [] if seg_source is None else [m for m in seg_source.iter(self.q("mrk"))
                                                   if m.get("mtype") == "seg"]
            if mrks:
                for mrk in mrks:
                    mid = mrk.get("mid")
                    tmrk = self._target_mrk(target, mid)
                    seg = self._segment(f"{uid}:{mid}", mrk, tmrk, target, skip or self.segment_skip(unit, mid))
                    seg.handle = (unit, mid)
                    out.append(seg)
            else:
                seg = self._segment(uid, source, target, target, skip or self.segment_skip(unit, None))
                seg.handle = (unit, None)
                out.append(seg)
        self.icu = Splitter()  # ICU messages (Angular's plural/select units): one segment per branch
        return [part for seg in out for part in self.icu.split(seg, self.source_lang, self.target_lang)]

    def _segment(self, key, source_el, target_el, unit_target, skip) -> Segment:
        text, codes = flatten(source_el, classify)
        existing = current = None
        tcodes = {}
        if target_el is not None:
            ttext, tcodes = flatten(target_el, classify)
            current = ttext if ttext.strip() else None
            if current and not (unit_target is not None and self.target_is_open(unit_target)):
                existing = ttext
        return Segment(key=key, source=text, codes=codes, target=existing, current=current, skip=skip,
                       target_codes=tcodes)

    def _target_mrk(self, target, mid):
        if target is None:
            return None
        for m in target.iter(self.q("mrk")):
            if m.get("mtype") == "seg" and m.get("mid") == mid:
                return m
        return None

    # -- writing --------------------------------------------------------------------------------------

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        for file in self.files:
            if not file.get("target-language") or (replace and file.get("target-language") != lang):
                file.set("target-language", lang)
                self.xml.touch_structure()
        self.target_lang = lang if replace else self.target_lang or lang

    def _ensure_target(self, unit):
        target = unit.find(self.q("target"))
        if target is not None:
            return target
        source = unit.find(self.q("source"))
        seg_source = unit.find(self.q("seg-source"))
        anchor = seg_source if seg_source is not None else source
        if seg_source is not None:
            target = deepcopy(seg_source)
            target.tag = self.q("target")
            for attr in list(target.attrib):
                del target.attrib[attr]
            for m in target.iter(self.q("mrk")):
                if m.get("mtype") == "seg":
                    m.text = None
                    for child in list(m):
                        m.remove(child)
        else:
            target = etree.Element(self.q("target"))
        space = anchor.get("{http://www.w3.org/XML/1998/namespace}space")
        if space and target.get("{http://www.w3.org/XML/1998/namespace}space") is None:
            target.set("{http://www.w3.org/XML/1998/namespace}space", space)
        insert_after(anchor, target)
        return target

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        whole = self.icu.collect(segment, text, copied) if hasattr(self, "icu") else (segment, text, copied)
        if whole is None:
            return  # an ICU message is written once all its branches are translated
        segment, text, copied = whole
        unit, mid = segment.handle
        target = self._ensure_target(unit)
        where = target
        if mid is not None:
            where = self._target_mrk(target, mid)
            if where is None:  # a target without this segment's mrk: add one like the source's
                source_mrk = next(m for m in unit.find(self.q("seg-source")).iter(self.q("mrk"))
                                  if m.get("mtype") == "seg" and m.get("mid") == mid)
                where = deepcopy(source_mrk)
                where.tail = None
                target.append(where)
        rebuild(where, text, segment.codes)
        self.mark(unit, target, mid, "copy" if copied else origin)
        self.xml.touch(unit)

    def mark(self, unit, target, mid, origin: str) -> None:
        """Machine output needing review, in XLIFF 1.2's own terms (origin: mt, tm or copy); a person's work
        as "translated" (confirmed, origin human) or still "needs-review-translation" (an unconfirmed draft)."""
        if origin in ("human", "reviewed", "draft"):
            target.set("state", "needs-review-translation" if origin == "draft" else "translated")
            target.attrib.pop("state-qualifier", None)  # no longer leveraged from a machine or memory
            return
        target.set("state", "needs-review-translation")
        target.set("state-qualifier", {"copy": "x-bayling-cat-copy", "tm": "leveraged-tm"}.get(origin, "leveraged-mt"))

    def state(self, segment: Segment) -> str | None:
        unit, mid = segment.handle
        target = unit.find(self.q("target"))
        if unit.get("approved") == "yes":
            return "approved"
        return target.get("state") if target is not None else None

    def notes(self, segment: Segment) -> list[str]:
        unit, _ = segment.handle
        return ["".join(n.itertext()).strip() for n in unit.findall(self.q("note")) if "".join(n.itertext()).strip()]

    def _insert_after_target(self, unit, element) -> None:
        children = [c for c in unit if isinstance(c.tag, str)]
        anchor = None
        for c in children:
            if local_name(c) in {"source", "seg-source", "target"} | AFTER_TARGET and namespace(c) == self.ns:
                anchor = c
        if anchor is None:
            unit.append(element)
            return
        insert_after(anchor, element)

    def write_suggestion(self, segment: Segment, text: str, match: dict | None = None) -> None:
        if hasattr(self, "icu") and self.icu.is_branch(segment):  # an ICU message is suggested whole
            whole = None if match is not None else self.icu.collect(segment, text, False, bucket="suggest")
            if whole is None:
                return
            segment, text, _ = whole
        unit, mid = segment.handle
        alt = etree.Element(self.q("alt-trans"))
        if mid is not None:
            alt.set("mid", mid)
        alt.set("origin", self.tool if match is None else f"{TOOL} memory")
        if match is not None:  # a fuzzy match: its quality and the source it translates
            alt.set("match-quality", str(match["quality"]))
            rebuild(etree.SubElement(alt, self.q("source")), match["source"], segment.codes)
        target = etree.SubElement(alt, self.q("target"))
        if self.target_lang:
            target.set("{http://www.w3.org/XML/1998/namespace}lang", self.target_lang)
        rebuild(target, text, segment.codes)
        self._insert_after_target(unit, alt)
        self.xml.touch(unit)

    def add_note(self, segment: Segment, text: str) -> None:
        unit, _ = segment.handle
        text = xml_safe(text)  # notes quote glossary terms and checker messages: text from outside too
        note = None
        for n in unit.findall(self.q("note")):
            if n.get("from") == TOOL:
                note = n
        if note is None:
            note = etree.Element(self.q("note"))
            note.set("from", TOOL)
            self._insert_after_target(unit, note)
            note.text = text
        else:
            note.text = f"{note.text}\n{text}" if note.text else text
        self.xml.touch(unit)

    def clear_notes(self, segment: Segment) -> None:
        unit, _ = segment.handle
        for n in unit.findall(self.q("note")):
            if n.get("from") == TOOL:
                prev = n.getprevious()
                if prev is not None:
                    prev.tail = n.tail
                unit.remove(n)
                self.xml.touch(unit)

    def serialize(self) -> bytes:
        for whole in self.icu.incomplete() if hasattr(self, "icu") else ():
            self.add_note(whole, "ICU message not written: some of its branches got no usable translation")
        return self.xml.serialize()


class Sdlxliff(Xliff1):
    """Trados Studio: segments are <mrk mtype="seg"> in seg-source/target, status in sdl:seg-defs."""

    format = "sdlxliff"

    def _seg_def(self, unit, mid, create: bool = False):
        defs = unit.find(f"{{{SDL_NS}}}seg-defs")
        if defs is None:
            if not create:
                return None
            defs = etree.SubElement(unit, f"{{{SDL_NS}}}seg-defs")
        for seg in defs.findall(f"{{{SDL_NS}}}seg"):
            if seg.get("id") == mid:
                return seg
        if not create:
            return None
        seg = etree.SubElement(defs, f"{{{SDL_NS}}}seg")
        seg.set("id", mid)
        return seg

    def segment_skip(self, unit, mid) -> str | None:
        seg = self._seg_def(unit, mid) if mid is not None else None
        if seg is None:
            return None
        if seg.get("locked") == "true":
            return "locked"
        if seg.get("conf") in ("Translated", "ApprovedTranslation", "ApprovedSignOff"):
            return f"confirmed ({seg.get('conf')})"
        return None

    def target_is_open(self, target) -> bool:
        return False

    def mark(self, unit, target, mid, origin: str) -> None:
        if mid is None:
            return
        seg = self._seg_def(unit, mid, create=True)
        seg.set("conf", "Translated" if origin in ("human", "reviewed") else "Draft")
        if origin in ("human", "reviewed", "draft"):  # typed or confirmed by the translator, as Trados records it
            seg.set("origin", "interactive")
            seg.attrib.pop("origin-system", None)
        else:
            seg.set("origin", {"copy": "source", "tm": "tm"}.get(origin, "mt"))
            seg.set("origin-system", self.tool)
        for stale in ("percent", "text-match", "struct-match"):
            seg.attrib.pop(stale, None)

    def state(self, segment: Segment) -> str | None:
        unit, mid = segment.handle
        seg = self._seg_def(unit, mid) if mid is not None else None
        if seg is None:
            return None
        return "Locked" if seg.get("locked") == "true" else seg.get("conf")


class Mqxliff(Xliff1):
    """memoQ: mq:status and mq:locked on each trans-unit."""

    format = "mqxliff"
    CONFIRMED = {"ManuallyConfirmed", "Confirmed", "EditorConfirmed", "TranslatorConfirmed", "Proofread",
                 "Reviewer1Confirmed", "Reviewer2Confirmed"}

    def unit_skip(self, unit, target) -> str | None:
        reason = super().unit_skip(unit, target)
        if reason:
            return reason
        if unit.get(f"{{{MQ_NS}}}locked") == "locked":
            return "locked"
        status = unit.get(f"{{{MQ_NS}}}status")
        if status in self.CONFIRMED:
            return f"confirmed ({status})"
        return None

    def target_is_open(self, target) -> bool:
        unit = target.getparent()
        return unit is not None and unit.get(f"{{{MQ_NS}}}status") == "NotStarted"

    def mark(self, unit, target, mid, origin: str) -> None:
        # ManuallyConfirmed is what memoQ itself writes when a translator confirms (shown as "Confirmed")
        status = {"human": "ManuallyConfirmed", "reviewed": "ManuallyConfirmed",
                  "draft": "PartiallyEdited"}.get(origin, "PreTranslated")
        unit.set(f"{{{MQ_NS}}}status", status)

    def state(self, segment: Segment) -> str | None:
        unit, _ = segment.handle
        if unit.get(f"{{{MQ_NS}}}locked") == "locked":
            return "Locked"
        return unit.get(f"{{{MQ_NS}}}status")
