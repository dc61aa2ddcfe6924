"""XLIFF 2.0, 2.1 and 2.2: unit / segment / source / target, on the lxml tree of the original file."""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.icu import Splitter
from bayling_cat.connectors.xmlio import XmlDocument, insert_after, local_name, namespace
from bayling_cat.document import Segment, flatten, rebuild, xml_safe

MTC_NS = "urn:oasis:names:tc:xliff:matches:2.0"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"
TOOL = "bayling-cat"
DONE_STATES = {"reviewed", "final"}


def classify(element) -> str:
    name = local_name(element)
    if name == "pc":
        return "paired"
    if name == "mrk":
        if element.get("translate") == "no" or (not element.text and len(element) == 0):
            return "standalone"
        return "paired"
    return "standalone"  # ph, sc, ec, cp, sm, em, and anything unknown: kept whole


class Xliff2(Connector):
    can_suggest = True
    segments_follow_language = True  # ICU plural branches are laid out for the target language

    def __init__(self, path: Path, data: bytes, xml: XmlDocument | None = None):
        super().__init__(path, data)
        self.xml = xml or XmlDocument(path, data)
        root = self.xml.root
        self.ns = namespace(root)
        self.format = f"xliff-{root.get('version', '2.0')}"
        self.source_lang = root.get("srcLang")
        self.target_lang = root.get("trgLang")
        self._ids = 0

    def q(self, name: str) -> str:
        return f"{{{self.ns}}}{name}"

    def translatable(self, el) -> bool:
        while el is not None:
            value = el.get("translate")
            if value is not None:
                return value != "no"
            el = el.getparent()
        return True

    def segments(self) -> list[Segment]:
        out: list[Segment] = []
        for unit in self.xml.root.iter(self.q("unit")):
            uid = unit.get("id", "?")
            unit_skip = None if self.translatable(unit) else "translate=no"
            index = 0
            for child in unit:
                if not isinstance(child.tag, str) or child.tag != self.q("segment"):
                    continue
                index += 1
                source = child.find(self.q("source"))
                key = f"{uid}/{child.get('id') or index}"
                if source is None:
                    out.append(Segment(key=key, source="", skip="no source", handle=(unit, child)))
                    continue
                text, codes = flatten(source, classify)
                target = child.find(self.q("target"))
                existing = current = None
                tcodes = {}
                if target is not None:
                    ttext, tcodes = flatten(target, classify)
                    current = ttext if ttext.strip() else None
                    if current and child.get("state") != "initial":
                        existing = ttext
                skip = unit_skip
                if skip is None and child.get("state") in DONE_STATES:
                    skip = child.get("state")
                out.append(Segment(key=key, source=text, codes=codes, target=existing, current=current, skip=skip,
                                   handle=(unit, child), target_codes=tcodes))
        self.icu = Splitter()  # ICU messages: one segment per branch
        return [part for seg in out for part in self.icu.split(seg, self.source_lang, self.target_lang)]

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        if not self.xml.root.get("trgLang") or (replace and self.xml.root.get("trgLang") != lang):
            self.xml.set_root_attribute("trgLang", lang)  # only the root's start tag changes, in place
        self.target_lang = lang if replace else self.target_lang or lang

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        whole = self.icu.collect(segment, text, copied) if hasattr(self, "icu") else (segment, text, copied)
        if whole is None:
            return  # an ICU message is written once all its branches are translated
        segment, text, copied = whole
        _, seg = segment.handle
        target = seg.find(self.q("target"))
        if target is None:
            source = seg.find(self.q("source"))
            target = etree.Element(self.q("target"))
            if source.get(XML_SPACE):
                target.set(XML_SPACE, source.get(XML_SPACE))
            insert_after(source, target)
        rebuild(target, text, segment.codes)
        seg.set("state", "reviewed" if origin == "reviewed" and not copied else "translated")
        if origin in ("human", "reviewed") and not copied:  # a person's work: no tool sub-state
            seg.attrib.pop("subState", None)
        else:
            seg.set("subState", f"{TOOL}:{'copy' if copied else origin}")
        self.xml.touch(segment.handle[0])

    def state(self, segment: Segment) -> str | None:
        _, seg = segment.handle
        return seg.get("state") or ("initial" if seg.find(self.q("target")) is None else None)

    def notes(self, segment: Segment) -> list[str]:
        unit, _ = segment.handle
        notes = unit.find(self.q("notes"))
        found = [] if notes is None else notes.findall(self.q("note"))
        return ["".join(n.itertext()).strip() for n in found if "".join(n.itertext()).strip()]

    def _segment_id(self, unit, seg) -> str:
        if seg.get("id"):
            return seg.get("id")
        taken = {s.get("id") for s in unit.iter() if s.get("id")}
        while True:
            self._ids += 1
            candidate = f"{TOOL}-{self._ids}"
            if candidate not in taken:
                seg.set("id", candidate)
                return candidate

    def write_suggestion(self, segment: Segment, text: str, match: dict | None = None) -> None:
        if hasattr(self, "icu") and self.icu.is_branch(segment):  # an ICU message is suggested whole
            whole = None if match is not None else self.icu.collect(segment, text, False, bucket="suggest")
            if whole is None:
                return
            segment, text, _ = whole
        unit, seg = segment.handle
        matches = unit.find(f"{{{MTC_NS}}}matches")
        if matches is None:
            matches = etree.Element(f"{{{MTC_NS}}}matches", nsmap={"mtc": MTC_NS})
            first = next((c for c in unit if isinstance(c.tag, str)), None)
            if first is None:
                unit.append(matches)
            else:
                matches.tail = unit.text
                first.addprevious(matches)
        found, match = match, etree.SubElement(matches, f"{{{MTC_NS}}}match")
        match.set("ref", "#" + self._segment_id(unit, seg))
        match.set("type", "mt" if found is None else "tm")
        match.set("origin", self.tool if found is None else f"{TOOL} memory")
        if found is not None:  # a fuzzy match: how similar its source is, and its quality
            match.set("similarity", str(found["quality"]))
            match.set("matchQuality", str(found["quality"]))
        source = etree.SubElement(match, self.q("source"))
        rebuild(source, segment.source if found is None else found["source"], segment.codes)
        target = etree.SubElement(match, self.q("target"))
        rebuild(target, text, segment.codes)
        self.xml.touch(unit)

    def add_note(self, segment: Segment, text: str) -> None:
        unit, seg = segment.handle
        notes = unit.find(self.q("notes"))
        if notes is None:
            notes = etree.Element(self.q("notes"))
            anchor = next((c for c in unit if isinstance(c.tag, str) and namespace(c) == self.ns), None)
            notes.tail = unit.text
            if anchor is None:
                unit.append(notes)
            else:
                anchor.addprevious(notes)
        note = etree.SubElement(notes, self.q("note"))
        note.set("category", TOOL)
        note.set("appliesTo", "target")
        segments = [c for c in unit if c.tag == self.q("segment")]
        prefix = f"segment {seg.get('id') or segments.index(seg) + 1}: " if len(segments) > 1 else ""
        note.text = xml_safe(prefix + text)  # notes quote glossary terms and checker messages: text from outside
        self.xml.touch(unit)

    def clear_notes(self, segment: Segment) -> None:
        unit, _ = segment.handle
        notes = unit.find(self.q("notes"))
        if notes is None:
            return
        for n in notes.findall(self.q("note")):
            if n.get("category") == TOOL:
                notes.remove(n)
                self.xml.touch(unit)
        if not any(isinstance(c.tag, str) for c in notes):  # <notes> must hold at least one note
            prev = notes.getprevious()
            if prev is not None:
                prev.tail = notes.tail
            else:
                unit.text = notes.tail
            unit.remove(notes)

    def serialize(self) -> bytes:
        for whole in self.icu.incomplete() if hasattr(self, "icu") else ():
            self.add_note(whole, "ICU message not written: some of its branches got no usable translation")
        return self.xml.serialize()
