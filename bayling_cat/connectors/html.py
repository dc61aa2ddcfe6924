"""HTML pages: the text of every block element (paragraphs, headings, list items, table cells, the title…) is
a segment, inline markup (``<a>``, ``<b>``, ``<em>``, ``<span>``, ``<br>``, ``<img>``…) a code the model copies,
and the page's own bytes stay everywhere outside the text replaced.

Python's ``html.parser`` tokenises the page (it follows the HTML5 tokeniser's rules for tags, attributes,
entities, comments and raw-text elements, and never rewrites anything); every token keeps its position, so
a translation is spliced into the original text. html5lib and BeautifulSoup build a tree and serialise it
anew (attribute quoting, entity spelling, void-element slashes change), which is why they are not used here.

Never translated: ``<script>``, ``<style>``, ``<pre>``, ``<code>``/``<kbd>``/``<samp>``/``<var>`` (codes, with
their content), ``<svg>``, ``<math>``, ``<template>``, and anything marked ``translate="no"`` or
``class="notranslate"``. ``alt``, ``title``, ``placeholder``, ``aria-label`` and ``<meta name="description">``
are segments too; ``<html lang>`` is set to the target language.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

from bayling_cat.connectors.resource import Resource, Unit
from bayling_cat.connectors.xmlio import DocumentError
from bayling_cat.document import PLACEHOLDER, Code, Segment, clean_text

INLINE = {"a", "abbr", "b", "bdi", "bdo", "br", "cite", "data", "dfn", "em", "i", "img", "mark", "q", "s",
          "small", "span", "strong", "sub", "sup", "time", "u", "wbr", "font", "del", "ins", "label", "big", "tt"}
OPAQUE_INLINE = {"code", "kbd", "samp", "var", "math", "svg", "button", "select", "input"}
RAW = {"script", "style", "pre", "template", "textarea", "noscript"}
VOID = {"br", "img", "wbr", "input", "hr", "meta", "link", "area", "base", "col", "embed", "source", "track"}
ATTRIBUTES = ("alt", "title", "placeholder", "aria-label")
KEEP_ENTITIES = {"nbsp", "amp", "lt", "gt", "quot", "apos", "shy", "zwj", "zwnj", "lrm", "rlm", "ensp", "emsp",
                 "thinsp"}


class _Tokens(HTMLParser):
    """Every token of the page with its offset; consecutive tokens cover the text without a gap."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=False)
        self.text = text
        self.lines = [0] + [m.end() for m in re.finditer("\n", text)]
        self.tokens: list[list] = []  # [kind, start, end, tag or data, attrs]

    def _at(self) -> int:
        line, col = self.getpos()
        return self.lines[line - 1] + col

    def _add(self, kind, tag=None, attrs=None):
        start = self._at()
        if self.tokens:
            self.tokens[-1][2] = start
        self.tokens.append([kind, start, len(self.text), tag, attrs or []])

    def handle_starttag(self, tag, attrs):
        self._add("start", tag, attrs)

    def handle_startendtag(self, tag, attrs):
        self._add("void", tag, attrs)

    def handle_endtag(self, tag):
        self._add("end", tag)

    def handle_data(self, data):
        self._add("data", data)

    def handle_entityref(self, name):
        self._add("entity", name)

    def handle_charref(self, name):
        self._add("charref", name)

    def handle_comment(self, data):
        self._add("comment")

    def handle_decl(self, decl):
        self._add("decl")

    def handle_pi(self, data):
        self._add("pi")

    def unknown_decl(self, data):
        self._add("decl")


def _charset(data: bytes) -> str:
    m = re.search(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9_-]+)""", data[:4096], re.I)
    return m.group(1).decode("ascii").lower() if m else "utf-8"


class Html(Resource):
    format = "html"
    icu_messages = False

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self.bom = data.startswith(b"\xef\xbb\xbf")
        self.encoding = "utf-8" if self.bom else _charset(data)
        try:
            self.text = data[3 if self.bom else 0:].decode(self.encoding)
        except (LookupError, UnicodeDecodeError) as exc:
            raise DocumentError(f"{path}: not {self.encoding} as the page declares ({exc})") from None
        if "\x00" in self.text:
            raise DocumentError(f"{path}: a NUL character; not an HTML page")
        parser = _Tokens(self.text)
        parser.feed(self.text)
        parser.close()
        self.tokens = parser.tokens
        self._segments: list[Segment] | None = None
        self._attr_edits: list[tuple[int, int, str]] = []

    # -- reading -------------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        return []  # segments are built from runs of tokens below

    def segments(self) -> list[Segment]:
        if self._segments is not None:
            return self._segments
        out: list[Segment] = []
        run: list[int] = []
        skip_until: list[str] = []  # raw-text or translate="no" elements being skipped
        for i, (kind, start, end, tag, attrs) in enumerate(self.tokens):
            if skip_until:
                if kind == "end" and tag == skip_until[-1]:
                    skip_until.pop()
                elif kind == "start" and tag == skip_until[-1]:
                    skip_until.append(tag)
                continue
            if kind in ("start", "void"):
                self._attributes(i, out)
                if tag == "html":
                    self._lang = i
            if kind == "start" and (tag in RAW or _no_translate(attrs)) and tag not in VOID:
                if not (tag in INLINE | OPAQUE_INLINE and _no_translate(attrs)):
                    self._flush(run, out)
                    run = []
                    skip_until.append(tag)
                    continue
            inline = kind in ("data", "entity", "charref", "comment") or (
                kind in ("start", "end", "void") and tag in INLINE | OPAQUE_INLINE)
            if inline:
                run.append(i)
            else:
                self._flush(run, out)
                run = []
        self._flush(run, out)
        self._segments = out
        return out

    def _attributes(self, i: int, out: list) -> None:
        kind, start, end, tag, attrs = self.tokens[i]
        names = dict(attrs)
        wanted = [a for a in ATTRIBUTES if names.get(a)]
        if tag == "meta" and (names.get("name") or "").lower() in ("description", "keywords") and names.get("content"):
            wanted.append("content")
        if tag == "input" and (names.get("type") or "").lower() in ("submit", "button", "reset") and names.get("value"):
            wanted.append("value")
        raw = self.text[start:end]
        for name in wanted:
            m = re.search(rf"""\s{name}\s*=\s*("([^"]*)"|'([^']*)')""", raw, re.I)
            if not m:
                continue
            span = (start + m.start(1) + 1, start + m.end(1) - 1)
            value = html.unescape(m.group(2) if m.group(2) is not None else m.group(3))
            out.append(Segment(key=f"{tag}@{name}:{self._line(start)}", source=value,
                               handle=("attr", span[0], span[1], m.group(1)[0])))

    def _line(self, offset: int) -> int:
        return self.text.count("\n", 0, offset) + 1

    def _flush(self, run: list[int], out: list) -> None:
        """A run of text and inline tokens between two block boundaries as one segment (when it has words)."""
        while run and self.tokens[run[0]][0] == "data" and not self.tokens[run[0]][3].strip():
            run = run[1:]
        while run and self.tokens[run[-1]][0] == "data" and not self.tokens[run[-1]][3].strip():
            run = run[:-1]
        if not run:
            return
        text, codes = self._flatten(run)
        if not any(ch.isalpha() for ch in PLACEHOLDER.sub("", text)):
            return
        start, end = self.tokens[run[0]][1], self.tokens[run[-1]][2]
        lead = len(text) - len(text.lstrip())
        trail = len(text) - len(text.rstrip())
        # the whitespace at the edges stays where it is (indentation, line breaks of the source)
        out.append(Segment(key=f"{self._line(start)}:{text.strip()[:40]}", source=text.strip(), codes=codes,
                           handle=("run", start + lead if self.tokens[run[0]][0] == "data" else start,
                                   end - trail if self.tokens[run[-1]][0] == "data" else end)))

    def _flatten(self, run: list[int]) -> tuple[str, dict[int, Code]]:
        parts: list[str] = []
        codes: dict[int, Code] = {}
        open_tags: list[tuple[str, int]] = []
        closes = _matching(self.tokens, run)
        i = 0
        while i < len(run):
            kind, start, end, tag, attrs = self.tokens[run[i]]
            raw = self.text[start:end]
            n = len(codes) + 1
            if kind == "data":  # HTML's whitespace is one space wherever it is (pre is never here)
                parts.append(re.sub(r"\s+", " ", tag))
            elif kind in ("entity", "charref"):
                char = html.unescape(raw)
                if kind == "entity" and tag not in KEEP_ENTITIES and char != raw and len(char) == 1:
                    parts.append(char)  # &eacute; reaches the model as é
                else:
                    codes[n] = Code(n, None, paired=False, can_delete=False, literal=raw)
                    parts.append(f"<{n}/>")
            elif kind == "start" and (tag in OPAQUE_INLINE or _no_translate(attrs)) and run[i] in closes:
                j = run.index(closes[run[i]])
                codes[n] = Code(n, None, paired=False, can_delete=False,
                                literal=self.text[start:self.tokens[run[j]][2]])
                parts.append(f"<{n}/>")
                i = j
            elif kind == "start" and run[i] in closes:
                codes[n] = Code(n, None, paired=True, literal=raw)
                codes[n].offset = start
                codes[n].closing = self.text[self.tokens[closes[run[i]]][1]:self.tokens[closes[run[i]]][2]]
                open_tags.append((tag, n))
                parts.append(f"<{n}>")
            elif kind == "end" and open_tags and open_tags[-1][0] == tag:
                parts.append(f"</{open_tags.pop()[1]}>")
            else:  # void tags, unmatched tags, comments: one code for the raw text
                codes[n] = Code(n, None, paired=False, can_delete=kind != "comment", literal=raw)
                codes[n].offset = start
                parts.append(f"<{n}/>")
            i += 1
        return "".join(parts), codes

    # -- writing -------------------------------------------------------------------------------------

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        self.written[id(segment)] = (segment, clean_text(text))

    def state(self, segment: Segment) -> str | None:
        return "translated" if id(segment) in self.written else None

    def _tag(self, code, inner: list) -> str:
        """A tag's raw text with the translated attributes that lie inside it."""
        literal = code.literal or ""
        offset = getattr(code, "offset", None)
        if offset is None:
            return literal
        for start, end, new in sorted(inner, reverse=True):
            if offset <= start and end <= offset + len(literal):
                literal = literal[:start - offset] + new + literal[end - offset:]
        return literal

    def _render(self, segment: Segment, text: str, inner: list = ()) -> str:
        if segment.handle[0] == "attr":
            quote = segment.handle[3]
            value = html.escape(re.sub(PLACEHOLDER, lambda m: _literal(segment.codes, m), text), quote=False)
            return value.replace(quote, "&quot;" if quote == '"' else "&#39;")
        out, pos = [], 0
        for m in PLACEHOLDER.finditer(text):
            out.append(html.escape(text[pos:m.start()], quote=False))
            pos = m.end()
            code = segment.codes.get(int(m.group(2)))
            if code is None:
                continue
            if m.group(1):  # closing placeholder of a paired code
                out.append(getattr(code, "closing", ""))
            else:
                out.append(self._tag(code, inner))
        out.append(html.escape(text[pos:], quote=False))
        return "".join(out)

    def serialize(self) -> bytes:
        if not self.written:
            return self.data
        attrs = [(seg.handle[1], seg.handle[2], self._render(seg, text)) for seg, text in self.written.values()
                 if seg.handle[0] == "attr"]
        runs = [(seg.handle[1], seg.handle[2]) for seg in self.segments() if seg.handle[0] == "run"]
        inside = [a for a in attrs if any(s <= a[0] and a[1] <= e for s, e in runs if id_written(self, s, e))]
        edits = [a for a in attrs if a not in inside]
        for segment, text in self.written.values():
            if segment.handle[0] == "run":
                edits.append((segment.handle[1], segment.handle[2], self._render(segment, text, inside)))
        for start, end, new in inside:  # an attribute inside a run that was not written itself
            if not any(seg.handle[0] == "run" and seg.handle[1] <= start and end <= seg.handle[2]
                       for seg, _ in self.written.values()):
                edits.append((start, end, new))
        lang = getattr(self, "_lang", None)
        if lang is not None and self.target_lang:
            start, end = self.tokens[lang][1], self.tokens[lang][2]
            m = re.search(r"""\slang\s*=\s*("[^"]*"|'[^']*'|[^\s>]+)""", self.text[start:end], re.I)
            if m:
                value = m.group(1)
                quote = value[0] if value[0] in "\"'" else ""
                edits.append((start + m.start(1), start + m.end(1), f"{quote}{self.target_lang}{quote}"))
        text = self.text
        for start, end, new in sorted(edits, reverse=True):
            text = text[:start] + new + text[end:]
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode(self.encoding, "xmlcharrefreplace")


def id_written(connector, start: int, end: int) -> bool:
    """Whether the run spanning start..end is written (its tags then carry the translated attributes)."""
    return any(seg.handle[0] == "run" and seg.handle[1] == start and seg.handle[2] == end
               for seg, _ in connector.written.values())


def _literal(codes, m) -> str:
    code = codes.get(int(m.group(2)))
    return code.literal if code is not None and code.literal else ""


def _no_translate(attrs) -> bool:
    names = dict(attrs)
    return (names.get("translate") or "").lower() == "no" or "notranslate" in (names.get("class") or "").split()


def _matching(tokens, run: list[int]) -> dict[int, int]:
    """For each start tag in the run, the index of its end tag in the same run (properly nested)."""
    stack, found = [], {}
    for i in run:
        kind, _, _, tag, _ = tokens[i]
        if kind == "start" and tag not in VOID:
            stack.append((tag, i))
        elif kind == "end":
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == tag:
                    found[stack[depth][1]] = i
                    del stack[depth:]
                    break
    return found


def looks_like_html(path: Path, data: bytes) -> bool:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if path.suffix.lower() in (".html", ".htm", ".xhtml"):
        return True
    if path.suffix.lower() in (".xlf", ".xliff", ".sdlxliff", ".mqxliff", ".xml", ".tbx", ".tmx", ".ts", ".resx"):
        return False  # named as an XML format: what it holds is refused by that format's reader
    return head.startswith((b"<!doctype html", b"<html"))
