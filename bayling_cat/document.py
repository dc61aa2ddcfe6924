"""What every connector hands to the pipeline: segments whose inline codes are numbered placeholders.

A source such as ``Click <g id="7">here</g> to <x id="8"/> save`` becomes the text
``Click <1>here</1> to <2/> save`` with codes 1 and 2 kept aside. The model copies the placeholders; the
connector turns them back into the original elements. Connectors never see prompts; the engine never sees XML.
"""

from __future__ import annotations

import re
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Callable

from lxml import etree

PLACEHOLDER = re.compile(r"<(/?)(\d+)(/?)>")
# A placeholder or what a model makes of one: ``<1/2/>``, ``<1/2>``, ``</1.``, ``<1/`` (a slash or a ``>``
# after the number: never text a reader writes; a bare ``<3`` is left alone, it may be a heart or a
# comparison). Linear: each repetition of the group starts with a slash.
_ANY_PLACEHOLDER = re.compile(r"<(/?)(\d+)(/?)>|</?\d+(?:/\d*)*>?")

# Segment actions, as the report and the summary name them.
TRANSLATED = "translated"
COPIED = "copied"  # nothing to translate (codes, numbers, punctuation): the source is copied
SKIPPED = "skipped"
FLAGGED = "flagged"  # the model's output was not written (see flags)

# Flags set while restoring codes.
FLAG_CODES = "codes-repaired"
FLAG_CHARS = "characters-removed"  # control or non-characters in the model's output were dropped

# What no translation may carry into a file. XML 1.0 forbids the C0 controls other than tab, line feed and
# carriage return, surrogates and U+FFFE/U+FFFF (lxml refuses them: "All strings must be XML compatible");
# it discourages DEL, the C1 controls and the non-characters U+FDD0-U+FDEF. None belongs in a PO or a Word
# file either, and a lone surrogate cannot even be encoded. A sampling model emits them now and then.
_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufdd0-\ufdef\ufffe\uffff\ud800-\udfff]")
_NEVER = re.compile("[\ud800-\udfff\ufffe\uffff]")  # not even a source may hold these
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


@dataclass
class Code:
    """One inline code of a segment's source, as the original element."""

    id: int
    element: etree._Element | None
    paired: bool  # True: <n>translatable content</n>; False: <n/> stands for the whole element
    can_delete: bool = True
    literal: str | None = None  # text of the source that looks like a placeholder, protected as one
    literal_end: str | None = None  # a paired literal code's end (a request's </b> to its <b>)


@dataclass
class Segment:
    key: str  # how the report names it: unit id, plus the segment id or mrk mid
    source: str  # text with placeholders
    codes: dict[int, Code] = field(default_factory=dict)
    target: str | None = None  # an existing translation (what counts as done), placeholders where it could
    current: str | None = None  # whatever the target holds now, done or not (for checking a file)
    target_codes: dict = field(default_factory=dict)  # the codes as numbered in ``current``
    skip: str | None = None  # why the pipeline must leave it alone (None: translate it)
    notes: list[str] = field(default_factory=list)
    handle: object = None  # the connector's own reference (elements to write into)
    hint: str | None = None  # what the model must know beyond the text (e.g. which plural form)
    # filled by the pipeline
    action: str = ""
    translation: str | None = None
    flags: list[str] = field(default_factory=list)
    terms: object = None  # the terminology stage's TermReport, when a glossary was used
    memory: str | None = None  # "human" or "mt" when the translation came from the memory
    examples: list = field(default_factory=list)  # memory sources offered to the model as examples
    qa: dict = field(default_factory=dict)  # quality checks failed: name -> message

    @property
    def has_text(self) -> bool:
        """False when the source holds only codes, numbers, punctuation and spaces."""
        return any(ch.isalpha() for ch in PLACEHOLDER.sub("", self.source))


def clean_text(text: str, source: str = "") -> str:
    """``text`` (untrusted model output) without the characters no file may hold (see ``_UNSAFE``); a control
    character the source itself holds (a PO msgid may carry a bell or a form feed) is kept."""
    if not _UNSAFE.search(text):
        return text
    allowed = set(_UNSAFE.findall(source)) - set(_NEVER.findall(source))
    return _UNSAFE.sub(lambda m: m.group(0) if m.group(0) in allowed else "", text)


def xml_safe(text: str) -> str:
    """The last guard where text enters an XML tree: drop what XML 1.0 cannot hold at all."""
    return _XML_FORBIDDEN.sub("", text) if _XML_FORBIDDEN.search(text) else text


def keep_outer_space(source: str, text: str) -> str:
    """``text`` stripped, then given the leading and trailing whitespace of ``source``; a blank source stays
    exactly as it is (its whitespace is both leading and trailing, and must not be doubled)."""
    if not source.strip():
        return source
    lead = source[:len(source) - len(source.lstrip())]
    trail = source[len(source.rstrip()):]
    return lead + text.strip() + trail


def protect(text: str, pattern: re.Pattern, codes: dict[int, Code], start: int | None = None) -> str:
    """Replace every match of ``pattern`` in ``text`` with a placeholder standing for that literal text."""
    parts, pos = [], 0
    for m in pattern.finditer(text):
        if not m.group(0):
            continue
        n = max(codes, default=0) + 1 if start is None else start + len(codes)
        codes[n] = Code(n, None, paired=False, can_delete=False, literal=m.group(0))
        parts.append(text[pos:m.start()])
        parts.append(f"<{n}/>")
        pos = m.end()
    parts.append(text[pos:])
    return "".join(parts)


def _signature(code: Code):
    if code.literal is not None:
        return ("literal", code.literal)
    el = code.element
    if el is None or not isinstance(el.tag, str):
        return ("other", None)
    return (el.tag, el.get("id"), el.get("mid"), el.get("startRef"), code.paired)


def align_target(segment: "Segment") -> str | None:
    """The segment's current target with its codes renumbered as in the source (matched by element and id,
    or by literal text), or None when a code of the target has no counterpart in the source."""
    if segment.current is None:
        return None
    if not segment.target_codes:
        return segment.current if not PLACEHOLDER.search(segment.current) else None
    free = {n: _signature(c) for n, c in segment.codes.items()}
    mapping = {}
    for n, code in sorted(segment.target_codes.items()):
        sig = _signature(code)
        match = next((m for m, s in sorted(free.items()) if s == sig), None)
        if match is None:
            return None
        mapping[n] = match
        del free[match]
    return PLACEHOLDER.sub(lambda m: f"<{m.group(1)}{mapping[int(m.group(2))]}{m.group(3)}>"
                          if int(m.group(2)) in mapping else m.group(0), segment.current)


def restore_literals(text: str, codes: dict[int, Code]) -> str:
    """Text with placeholders of literal codes only (see ``protect``) back to plain text."""
    return PLACEHOLDER.sub(lambda m: codes[int(m.group(2))].literal if int(m.group(2)) in codes else "", text)


# -- XML content <-> text with placeholders ---------------------------------------------------------------

Classifier = Callable[[etree._Element], str]  # "paired", "standalone" or "text" (a wrapper to see through)


def flatten(element: etree._Element, classify: Classifier, start: int = 1) -> tuple[str, dict[int, Code]]:
    """The content of ``element`` as text with numbered placeholders, and the codes they stand for."""
    codes: dict[int, Code] = {}
    parts: list[str] = []
    counter = [start]

    def add_text(text):
        # text that looks like a placeholder ("<1>") is protected as a code of its own, so that the
        # model's placeholders and the source's own characters can never be confused
        pos = 0
        for m in PLACEHOLDER.finditer(text):
            parts.append(text[pos:m.start()])
            n = counter[0]
            counter[0] += 1
            codes[n] = Code(n, None, paired=False, can_delete=False, literal=m.group(0))
            parts.append(f"<{n}/>")
            pos = m.end()
        parts.append(text[pos:])

    def walk(el):
        if el.text:
            add_text(el.text)
        for child in el:
            if not isinstance(child.tag, str):  # comment or processing instruction inside content
                n = counter[0]
                counter[0] += 1
                codes[n] = Code(n, child, paired=False, can_delete=False)
                parts.append(f"<{n}/>")
            else:
                kind = classify(child)
                if kind == "text":
                    walk(child)
                else:
                    n = counter[0]
                    counter[0] += 1
                    code = Code(n, child, paired=kind == "paired", can_delete=child.get("canDelete") != "no")
                    codes[n] = code
                    if code.paired:
                        parts.append(f"<{n}>")
                        walk(child)
                        parts.append(f"</{n}>")
                    else:
                        parts.append(f"<{n}/>")
            if child.tail:
                add_text(child.tail)

    walk(element)
    return "".join(parts), codes


def repair(text: str, codes: dict[int, Code]) -> tuple[str, bool]:
    """Make the placeholders in a translation match the source's codes, deterministically.

    Unknown, duplicated, wrongly formed (``<1/2/>``, ``</1.``) and unbalanced placeholders are dropped, and the
    spaces on either
    side of a dropped one closed up (never a double space, nor a space before punctuation, where it was);
    every code the translation lost is appended at the end in source order (a paired one as an empty pair),
    before any trailing whitespace. Returns the repaired text and whether anything had to change.
    """
    out: list = []  # text, placeholders, and _DROPPED where a placeholder was taken out
    stack: list[tuple[int, int]] = []  # (code id, index of its opening tag in out)
    seen: set[int] = set()
    changed = False
    pos = 0
    for m in _ANY_PLACEHOLDER.finditer(text):
        out.append(text[pos:m.start()])
        pos = m.end()
        if m.group(2) is None:  # not a placeholder at all
            fragment = m.group(0)
            if "/" in fragment or fragment.endswith(">"):  # a broken one: dropped
                changed = True
                out.append(_DROPPED)
            else:
                out.append(fragment)
            continue
        closing, n, selfclosing = m.group(1) == "/", int(m.group(2)), m.group(3) == "/"
        code = codes.get(n)
        if code is None or (closing and selfclosing):
            changed = True
            out.append(_DROPPED)
            continue
        if not code.paired:
            if selfclosing and not closing and n not in seen:
                seen.add(n)
                out.append(m.group(0))
            else:
                changed = True
                out.append(_DROPPED)
            continue
        if selfclosing:
            changed = True
            out.append(_DROPPED)
        elif not closing:
            if n in seen:
                changed = True
                out.append(_DROPPED)
            else:
                seen.add(n)
                stack.append((n, len(out)))
                out.append(m.group(0))
        elif stack and stack[-1][0] == n:
            stack.pop()
            out.append(m.group(0))
        else:
            changed = True
            out.append(_DROPPED)
    out.append(text[pos:])
    for n, index in stack:  # opened, never closed: drop the opening tag, keep the words
        out[index] = _DROPPED
        seen.discard(n)
        changed = True
    joined = _close_up(out)
    missing = [n for n in sorted(codes) if n not in seen]
    if missing:
        body = joined.rstrip()
        joined = body + "".join(f"<{n}></{n}>" if codes[n].paired else f"<{n}/>" for n in missing) + joined[len(body):]
        changed = True
    return joined, changed


_DROPPED = object()
_CLOSING_PUNCT = tuple(".,;:!?)]}、。，！？")


def _close_up(parts: list) -> str:
    """Join ``parts``; where a placeholder was dropped between two spaces, between a space and closing
    punctuation, or at the very end, the space before it goes too (the model had put spaces around a code it then got wrong)."""
    text = ""
    dropped = False
    for part in parts:
        if part is _DROPPED:
            dropped = True
            continue
        if dropped and part and text.endswith((" ", "\u00a0")) and (
                part[:1] in " \u00a0" or part.startswith(_CLOSING_PUNCT)):
            text = text[:-1]
        if part:
            dropped = False
        text += part
    if dropped and text.endswith((" ", "\u00a0")):  # dropped at the very end: no space left dangling
        text = text[:-1]
    return text


def rebuild(target: etree._Element, text: str, codes: dict[int, Code]) -> None:
    """Replace the content of ``target`` with ``text``, placeholders turned back into copies of the codes.

    ``text`` must be balanced (see ``repair``). Attributes and the tail of ``target`` stay as they are.
    """
    for child in list(target):
        target.remove(child)
    target.text = None
    stack = [target]
    last: list[etree._Element | None] = [None]  # the last child appended at each level

    def add_text(s: str):
        s = xml_safe(s)
        if not s:
            return
        prev = last[-1]
        if prev is None:
            stack[-1].text = (stack[-1].text or "") + s
        else:
            prev.tail = (prev.tail or "") + s

    pos = 0
    for m in PLACEHOLDER.finditer(text):
        add_text(text[pos:m.start()])
        pos = m.end()
        closing, n, selfclosing = m.group(1) == "/", int(m.group(2)), m.group(3) == "/"
        code = codes[n]
        if closing:
            stack.pop()
            last.pop()
            continue
        if code.literal is not None:
            add_text(code.literal)
        elif selfclosing:
            copy = _copy(code.element, with_content=True)
            stack[-1].append(copy)
            last[-1] = copy
        else:
            copy = _copy(code.element, with_content=False)
            stack[-1].append(copy)
            last[-1] = copy
            stack.append(copy)
            last.append(None)
    add_text(text[pos:])


def _copy(element: etree._Element, with_content: bool) -> etree._Element:
    # deepcopy keeps every attribute and namespace; lxml reuses the target tree's declarations on append
    copy = deepcopy(element)
    copy.tail = None
    if not with_content and isinstance(copy.tag, str):
        copy.text = None
        for child in list(copy):
            copy.remove(child)
    return copy
