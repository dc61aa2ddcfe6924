"""Qt Linguist ``.ts`` files: each ``<message>``'s ``<source>`` and its ``<translation>`` (one per
``<numerusform>`` of the target language in ``numerus="yes"`` messages).

lxml on the file's own tree; each written ``<message>`` is re-serialised in place, every other byte stays.
Machine output keeps ``type="unfinished"``, which Qt Linguist shows as not yet accepted and ``lrelease``
leaves out unless told otherwise: a person accepts it in Linguist (or the workbench). Finished translations,
``vanished`` and ``obsolete`` messages are left alone. ``<comment>`` (disambiguation), ``<extracomment>`` and
``<translatorcomment>`` are context; ``%1``, ``%L1``, ``%n`` and the ``&`` of an accelerator are codes.
"""

from __future__ import annotations

from pathlib import Path

from lxml import etree

from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.resource import _hint, pattern
from bayling_cat.connectors.xmlio import DocumentError, XmlDocument, local_name
from bayling_cat.document import Segment, clean_text, protect, restore_literals, xml_safe

PLACEHOLDERS = pattern(r"%L?\d{1,2}|%n", r"&(?=[^\s&;])(?![A-Za-z][A-Za-z0-9]*;|#\d+;)")
TOOL = "bayling-cat"


class QtTs(Connector):
    format = "qt-ts"

    def __init__(self, path: Path, data: bytes, xml: XmlDocument | None = None):
        super().__init__(path, data)
        self.xml = xml or XmlDocument(path, data)
        if local_name(self.xml.root) != "TS":
            raise DocumentError(f"{path}: not a Qt Linguist file (the root element is <{local_name(self.xml.root)}>)")
        self.target_lang = _language(self.xml.root.get("language"))
        self.source_lang = _language(self.xml.root.get("sourcelanguage"))
        self.default_source_lang = "en"

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        if not self.xml.root.get("language") or replace:
            self.xml.root.set("language", lang.replace("-", "_"))
            self.xml.touch_structure()
        self.target_lang = lang

    def declared_target_language(self) -> str | None:
        return self.xml.root.get("language") or None

    def _forms(self) -> tuple[int, list[list[int]]]:
        from bayling_cat.connectors.po import plural_examples, plural_info

        nplurals, expr = plural_info(self.target_lang or "en") or (2, "(n != 1)")
        return nplurals, plural_examples(nplurals, expr)

    def segments(self) -> list[Segment]:
        out = []
        for context in self.xml.root.iter("context"):
            name = context.findtext("name") or ""
            for index, message in enumerate(context.iter("message")):
                source = message.find("source")
                translation = message.find("translation")
                kind = translation.get("type") if translation is not None else "unfinished"
                skip = kind if kind in ("vanished", "obsolete") else None
                notes = [message.findtext(t).strip() for t in ("comment", "extracomment", "translatorcomment")
                         if message.findtext(t) and message.findtext(t).strip()]
                label = f"{name}/{message.get('id') or index + 1}"
                text = source.text or "" if source is not None else ""
                forms = [translation] if translation is None or message.get("numerus") != "yes" else \
                    list(translation.iter("numerusform"))
                if message.get("numerus") == "yes":
                    nplurals, examples = self._forms()
                    for k in range(nplurals):
                        counts = ", ".join(map(str, examples[k])) or "none"
                        current = forms[k].text if k < len(forms) and forms[k] is not None else None
                        out.append(self._segment(f"{label}[{k}]", text, current, kind, skip, notes,
                                                 (message, k), f"This is plural form {k + 1} of {nplurals}, used "
                                                 f"for counts such as {counts}."))
                else:
                    current = translation.text if translation is not None else None
                    out.append(self._segment(label, text, current, kind, skip, notes, (message, None), None))
        return out

    def _segment(self, key, text, current, kind, skip, notes, handle, instruction) -> Segment:
        codes: dict = {}
        source = protect(text, PLACEHOLDERS, codes)
        tcodes: dict = {}
        current = protect(current, PLACEHOLDERS, tcodes) if current else None
        done = current if current and kind not in ("unfinished", "vanished", "obsolete") else None
        return Segment(key=key, source=source, codes=codes, target=done, current=current, target_codes=tcodes,
                       skip=skip, notes=notes, handle=handle, hint=_hint(instruction, " ".join(notes) or None))

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        message, k = segment.handle
        plain = xml_safe(clean_text(restore_literals(text, segment.codes)))
        translation = message.find("translation")
        if translation is None:
            translation = etree.SubElement(message, "translation")
            message[-2].tail, translation.tail = message[-2].tail, message[-2].tail
        if k is None:
            translation.text = plain
        else:
            _numerus(translation, self._forms()[0])[k].text = plain
        if origin in ("human", "reviewed"):
            translation.attrib.pop("type", None)
        else:
            translation.set("type", "unfinished")  # Qt Linguist's "not yet accepted"
        self.xml.touch(message)

    def state(self, segment: Segment) -> str | None:
        translation = segment.handle[0].find("translation")
        return None if translation is None else translation.get("type", "finished")

    def add_note(self, segment: Segment, text: str) -> None:
        message = segment.handle[0]
        comment = message.find("translatorcomment")
        if comment is None:
            comment = etree.Element("translatorcomment")
            anchor = message.find("translation")
            (anchor if anchor is not None else message[-1]).addprevious(comment)
            comment.tail = (comment.getprevious().tail if comment.getprevious() is not None else message.text)
        lines = [line for line in (comment.text or "").split("\n") if line]
        comment.text = "\n".join(lines + [f"{TOOL}: {xml_safe(clean_text(text))}"])
        self.xml.touch(message)

    def clear_notes(self, segment: Segment) -> None:
        message = segment.handle[0]
        comment = message.find("translatorcomment")
        if comment is not None and TOOL in (comment.text or ""):
            kept = [line for line in comment.text.split("\n") if not line.startswith(f"{TOOL}:")]
            if kept:
                comment.text = "\n".join(kept)
            else:
                prev = comment.getprevious()
                if prev is not None:
                    prev.tail = comment.tail
                message.remove(comment)
            self.xml.touch(message)

    def write_suggestion(self, segment: Segment, text: str, match: dict | None = None) -> None:
        raise NotImplementedError

    def serialize(self) -> bytes:
        return self.xml.serialize()


def _numerus(translation, n: int) -> list:
    """Exactly ``n`` ``<numerusform>`` children (the target language's plural forms), laid out like lupdate's."""
    forms = list(translation.iter("numerusform"))
    inner = translation.text if forms and translation.text and not translation.text.strip() else "\n" + " " * 12
    closing = forms[-1].tail if forms and forms[-1].tail is not None else "\n" + " " * 8
    if not forms:
        translation.text = inner
    while len(forms) < n:
        forms.append(etree.SubElement(translation, "numerusform"))
    for extra in forms[n:]:
        translation.remove(extra)
    forms = forms[:n]
    for form in forms:
        form.tail = inner
    forms[-1].tail = closing
    return forms


def _language(value: str | None) -> str | None:
    from bayling_cat import languages
    from bayling_cat.errors import UserError

    if not value:
        return None
    try:
        return languages.normalize(value.replace("_", "-"))
    except UserError:
        return None
