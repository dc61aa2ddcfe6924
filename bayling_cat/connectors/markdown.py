"""Markdown (CommonMark and GitHub's tables): paragraphs, headings, list items, blockquotes and table cells
are segments; inline markup (emphasis, links, code spans, images, inline HTML, autolinks, escapes, line
breaks with their indentation or ``>`` prefix) is codes the model copies.

Why a scanner of its own: markdown-it-py, mistune and python-markdown parse to tokens or HTML, and mdformat
re-renders the whole document (list markers, emphasis characters, line wrapping change), so none gives the
file back with only the text replaced. Blocks are found line by line as CommonMark defines them; never
translated: front matter, fenced and indented code, HTML blocks, link reference definitions, thematic
breaks, table delimiter rows.
"""

from __future__ import annotations

import re
from pathlib import Path

from bayling_cat.connectors.resource import Resource
from bayling_cat.connectors.xmlio import DocumentError
from bayling_cat.document import PLACEHOLDER, Segment, clean_text, protect

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^( {0,3}#{1,6})([ \t]+|$)(.*?)([ \t]+#+[ \t]*)?$")
BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
REFDEF = re.compile(r"^ {0,3}\[[^\]]+\]:\s*\S")
HTML_BLOCK = re.compile(r"^ {0,3}<(?:!--|/?(?:address|article|aside|blockquote|details|div|dl|fieldset|figure|"
                        r"footer|form|h[1-6]|header|hr|iframe|li|main|nav|ol|p|pre|section|summary|table|tbody|"
                        r"td|tfoot|th|thead|tr|ul|script|style|center|img|picture|video|audio|br)\b)", re.I)
PREFIX = re.compile(r"^(?:[ \t]*>[ \t]?)*[ \t]*(?:(?:[-*+]|\d{1,9}[.)])[ \t]+(?:\[[ xX]\][ \t]+)?)?")
TABLE_DELIMITER = re.compile(r"^ {0,3}\|?[ \t]*:?-+:?[ \t]*(\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
INLINE = re.compile("|".join([
    r"</?\d+/?>",
    r"(`+)[^`]*?\1",  # code spans
    r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]",  # images (alt text included)
    r"\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|\]\[[^\]]*\]|\[\^[^\]]+\]|\[(?=[^\]]*\](?:\(|\[))|\]",  # links' syntax
    r"\[",
    r"<(?:https?://|mailto:)[^>]+>|</?[A-Za-z][^<>]*>|<!--.*?-->",  # autolinks, inline HTML
    r"\\[!-/:-@\[-`{-~]",  # backslash escapes
    r"(?<=\S)\*{1,3}|\*{1,3}(?=[^\s*])|(?<=\S)_{1,3}(?![A-Za-z0-9_])|(?<![A-Za-z0-9_])_{1,3}(?=[^\s_])|~~",
    r"&[A-Za-z][A-Za-z0-9]*;|&#\d+;|&#x[0-9A-Fa-f]+;",
    r"\{\{.*?\}\}|\{%.*?%\}",  # Jekyll/Hugo/Liquid template tags
    r"\n[^\S\n]*(?:>[ \t]?)*[ \t]*",  # a line break with the next line's indentation or quote prefix
]))
_SPECIAL = re.compile(r"([\\`*\[\]<]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")  # snake_case needs no escape


class Markdown(Resource):
    format = "markdown"
    icu_messages = False

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self._utf8(data)
        if "\x00" in self.text:
            raise DocumentError(f"{path}: a NUL character; not a Markdown file")
        self.blocks = self._blocks()

    def units(self):
        return []

    def _blocks(self) -> list[tuple[int, int, str]]:
        """(start, end, kind) of every piece of text to translate, in the file's own offsets."""
        lines, pos = [], 0
        for line in self.text.splitlines(keepends=True):
            lines.append((pos, line.rstrip("\r\n")))
            pos += len(line)
        out: list[tuple[int, int, str]] = []
        i, para = 0, []
        if lines and lines[0][1] == "---":  # front matter
            end = next((k for k in range(1, len(lines)) if lines[k][1] in ("---", "...")), None)
            i = end + 1 if end is not None else 0

        def flush():
            if para:
                start = para[0][0] + len(PREFIX.match(para[0][1]).group(0))
                out.append((start, para[-1][0] + len(para[-1][1].rstrip()), "paragraph"))
                para.clear()

        while i < len(lines):
            at, line = lines[i]
            body = line[len(PREFIX.match(line).group(0)):] if not FENCE.match(line) else line
            if not line.strip():
                flush()
            elif m := FENCE.match(line.lstrip(" >")):
                flush()
                fence = m.group(1)
                i += 1
                while i < len(lines) and not lines[i][1].lstrip(" >").startswith(fence):
                    i += 1
            elif line.startswith(("    ", "\t")) and not para and not (out and out[-1][2] == "item"):
                pass  # indented code
            elif HTML_BLOCK.match(line):
                flush()
                if line.lstrip().startswith("<!--"):  # a comment ends at its "-->" (CommonMark's type 2)
                    while "-->" not in lines[i][1] and i + 1 < len(lines):
                        i += 1
                else:
                    while i + 1 < len(lines) and lines[i + 1][1].strip():
                        i += 1
            elif REFDEF.match(line) or BREAK.match(line):
                flush()
            elif para and SETEXT.match(line):
                flush()  # the paragraph above was a heading: its underline is no text
            elif m := ATX.match(body):
                flush()
                start = at + len(line) - len(body) + len(m.group(1)) + len(m.group(2))
                if m.group(3).strip():
                    out.append((start, start + len(m.group(3)), "heading"))
            elif "|" in line and i + 1 < len(lines) and TABLE_DELIMITER.match(lines[i + 1][1]):
                flush()
                while i < len(lines) and "|" in lines[i][1]:
                    if not TABLE_DELIMITER.match(lines[i][1]):
                        out += self._cells(*lines[i])
                    i += 1
                continue
            else:
                prefix = PREFIX.match(line).group(0)
                if para and (prefix.rstrip(" \t>") or prefix.count(">") != PREFIX.match(para[-1][1]).group(0).count(">")):
                    flush()  # a new list item, or a quote beginning or ending
                para.append((at, line))
            i += 1
        flush()
        return out

    @staticmethod
    def _cells(at: int, line: str) -> list[tuple[int, int, str]]:
        cells, start = [], 0
        for m in re.finditer(r"(?<!\\)\|", line):
            cells.append((start, m.start()))
            start = m.end()
        cells.append((start, len(line)))
        out = []
        for a, b in cells:
            cell = line[a:b]
            if cell.strip():
                lead = len(cell) - len(cell.lstrip())
                out.append((at + a + lead, at + a + len(cell.rstrip()), "cell"))
        return out

    def segments(self) -> list[Segment]:
        if self._segments_cache is not None:
            return self._segments_cache
        out = []
        for n, (start, end, kind) in enumerate(self.blocks):
            codes: dict = {}
            source = _pair(protect(self.text[start:end].replace("\r\n", "\n"), INLINE, codes), codes)
            line = self.text.count("\n", 0, start) + 1
            out.append(Segment(key=f"{line}:{kind}", source=source, codes=codes, handle=(start, end, kind)))
        self._segments_cache = out
        return out

    _segments_cache = None

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        pieces, pos = [], 0
        text = _tidy_breaks(_refill_empty_pairs(text, segment.source), segment.codes)
        for m in PLACEHOLDER.finditer(text):
            pieces.append(self._escape(text[pos:m.start()], segment))
            code = segment.codes.get(int(m.group(2)))
            if code is not None and code.literal == "[" and pieces[-1].endswith("!") and not m.group(1):
                pieces[-1] = pieces[-1][:-1] + "\\!"  # "!" before a link's "[" would make it an image
            if code is not None:
                pieces.append(getattr(code, "closing", "") if m.group(1) else code.literal or "")
            pos = m.end()
        pieces.append(self._escape(text[pos:], segment))
        value = clean_text("".join(pieces))
        if segment.handle[2] == "paragraph":  # the first word must not turn the paragraph into another block
            value = re.sub(r"^([ \t]*)([#>+-])(?=\s|$)", r"\1\\\2", value)
            value = re.sub(r"^([ \t]*\d+)([.)])(?=\s|$)", r"\1\\\2", value)
        if "\r\n" in self.text:
            value = value.replace("\r\n", "\n").replace("\n", "\r\n")
        self.written[id(segment)] = (segment, value)

    @staticmethod
    def _escape(text: str, segment: Segment) -> str:
        """Model text as Markdown text: what would start markup is escaped; a blank line (a new paragraph), a
        line break in a heading or a table cell, and a line starting like a heading, a quote or a list item
        cannot come from the model."""
        text = _SPECIAL.sub(r"\\\1", text)
        if segment.handle[2] != "paragraph":
            text = re.sub(r"\s*\n\s*", " ", text)
        if segment.handle[2] == "cell":
            text = text.replace("|", "\\|")
        text = re.sub(r"\n\s*\n", "\n", text)
        text = re.sub(r"(\n[ \t]*)([#>+=-])", r"\1\\\2", text)
        return re.sub(r"(\n[ \t]*\d+)([.)])", r"\1\\\2", text)

    def state(self, segment: Segment) -> str | None:
        return "translated" if id(segment) in self.written else None

    def serialize(self) -> bytes:
        if not self.written:
            return self.data
        text = self.text
        for segment, value in sorted(self.written.values(), key=lambda w: w[0].handle[0], reverse=True):
            start, end, _ = segment.handle
            text = text[:start] + value + text[end:]
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode("utf-8")


def _refill_empty_pairs(text: str, source: str) -> str:
    """A link or an emphasis the model emptied (or lost, and the repair put back empty) gets the source's
    words: ``[](url)`` is no link, and ``****`` alone on a line is a thematic break."""
    def refill(m):
        found = re.search(rf"<{m.group(1)}>.*?</{m.group(1)}>", source, re.S)
        return found.group(0) if found else m.group(0)

    return re.sub(r"<(\d+)>\s*</\1>", refill, text)


def _is_break(code) -> bool:
    return bool(code and code.literal and code.literal.startswith("\n"))


def _pair(text: str, codes: dict) -> str:
    """Link brackets and emphasis markers as paired codes (``<1>text</1>``), so the model keeps them around
    the words they mark and the repair drops a half it loses instead of leaving a broken link."""
    tokens = [(m, codes.get(int(m.group(2)))) for m in PLACEHOLDER.finditer(text)]
    pairs: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    for m, code in tokens:
        n, lit = int(m.group(2)), (code.literal if code else "") or ""
        if lit == "[":
            stack.append(("[", n))
        elif lit.startswith("]") and stack and "[" in [k for k, _ in stack]:
            while stack and stack[-1][0] != "[":
                stack.pop()
            pairs[stack.pop()[1]] = n
        elif re.fullmatch(r"\*{1,3}|_{1,3}|~~", lit):
            if stack and stack[-1][0] == lit:
                pairs[stack.pop()[1]] = n
            else:
                stack.append((lit, n))
    if not pairs:
        return text
    closers = {c: o for o, c in pairs.items()}
    for opening, closing in pairs.items():
        codes[opening].paired = True
        codes[opening].closing = codes.pop(closing).literal

    def swap(m):
        n = int(m.group(2))
        return f"<{n}>" if n in pairs else f"</{closers[n]}>" if n in closers else m.group(0)

    return PLACEHOLDER.sub(swap, text)


def _tidy_breaks(text: str, codes: dict) -> str:
    """Line-break codes the model put side by side, or at an edge (where the repair appends lost codes), would
    leave a blank line, which ends the paragraph: at most one between two words, none at the edges."""
    items, pos = [], 0
    for m in PLACEHOLDER.finditer(text):
        if text[pos:m.start()]:
            items.append(("t", text[pos:m.start()], False))
        items.append(("c", m.group(0), not m.group(1) and _is_break(codes.get(int(m.group(2))))))
        pos = m.end()
    if text[pos:]:
        items.append(("t", text[pos:], False))
    meaningful = [i for i, (kind, value, brk) in enumerate(items) if (kind == "t" and value.strip()) or
                  (kind == "c" and not brk)]
    if not meaningful:
        return "".join(value for kind, value, brk in items if not brk)
    first, last = meaningful[0], meaningful[-1]
    out, after_break = [], False
    for i, (kind, value, brk) in enumerate(items):
        if brk:
            if first < i < last and not after_break:
                out.append(value)
                after_break = True
            continue
        if kind == "t" and not value.strip() and after_break:
            continue  # the break's own prefix is the next line's indentation
        if i in meaningful:
            after_break = False
            if out and kind == "t" and isinstance(out[-1], str) and _is_break_text(out[-1], codes):
                value = value.lstrip(" \t")
        out.append(value)
    return "".join(out)


def _is_break_text(placeholder: str, codes: dict) -> bool:
    m = PLACEHOLDER.fullmatch(placeholder)
    return bool(m) and _is_break(codes.get(int(m.group(2))))


def looks_like_markdown(path: Path) -> bool:
    return path.suffix.lower() in (".md", ".markdown", ".mdown", ".mkd")
