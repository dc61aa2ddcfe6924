"""Java ``.properties`` resource bundles (``messages.properties`` -> ``messages_de.properties``).

Why not translate-toolkit's ``properties`` storage: it re-serialises every entry (separators, escapes of
non-ASCII text, continuation lines), so a file read and written without changes does not come back
identical (docs/formats.md has the figures). Lines are read here as Java's ``Properties.load`` reads them
(comments ``#``/``!``, ``=``, ``:`` or whitespace as separator, backslash continuation, ``\\uXXXX`` escapes),
and only the value of a translated key is replaced.

MessageFormat arguments (``{0}``, ``{1,number}``) are codes; in a value that has arguments, ``''`` is one
apostrophe for the model and every apostrophe of the translation is doubled again (MessageFormat would
otherwise swallow the text after it). Comment lines right above a key are its context.
"""

from __future__ import annotations

import re
from pathlib import Path

from bayling_cat.connectors.resource import Resource, Unit, language_tag, pattern
from bayling_cat.connectors.xmlio import DocumentError

PLACEHOLDERS = pattern(r"\{\d+(?:\s*,[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}")
_ESCAPE = {"t": "\t", "n": "\n", "r": "\r", "f": "\f"}
_ARGUMENT = re.compile(r"\{\d+[^{}]*\}")


def unescape(raw: str) -> str:
    out, i = [], 0
    while i < len(raw):
        ch = raw[i]
        if ch != "\\" or i + 1 >= len(raw):
            out.append(ch)
            i += 1
            continue
        nxt = raw[i + 1]
        if nxt == "u" and re.fullmatch(r"[0-9A-Fa-f]{4}", raw[i + 2:i + 6]):
            out.append(chr(int(raw[i + 2:i + 6], 16)))
            i += 6
        elif nxt in "\r\n":  # a continuation: the line break and the next line's leading blanks go
            j = i + 2 if raw.startswith("\r\n", i + 1) else i + 2
            while j < len(raw) and raw[j] in " \t\f":
                j += 1
            i = j
        else:
            out.append(_ESCAPE.get(nxt, nxt))
            i += 2
    return "".join(out)


def escape(value: str, ascii_only: bool) -> str:
    out = []
    for i, ch in enumerate(value):
        if ch == "\\":
            out.append("\\\\")
        elif ch in "\t\n\r\f":
            out.append("\\" + {"\t": "t", "\n": "n", "\r": "r", "\f": "f"}[ch])
        elif ch == " " and i == 0:
            out.append("\\ ")  # a leading blank would be taken for the separator's
        elif ch in "#!" and i == 0:
            out.append("\\" + ch)
        elif ascii_only and ord(ch) > 126:
            out.append("".join(f"\\u{u:04x}" for u in _utf16(ch)))
        else:
            out.append(ch)
    return "".join(out)


def _utf16(ch: str) -> list[int]:
    data = ch.encode("utf-16-be")
    return [int.from_bytes(data[k:k + 2], "big") for k in range(0, len(data), 2)]


_LOGICAL = re.compile(r"(?:[^\r\n\\]|\\(?:\r\n|[\s\S]))*(?:\r\n|\n|\r|$)")


class Properties(Resource):
    format = "properties"
    placeholders = PLACEHOLDERS
    icu_messages = False

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        try:
            self.text, self.encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            self.text, self.encoding = data.decode("latin-1"), "latin-1"  # Java's own default before 9
        if "\x00" in self.text:
            raise DocumentError(f"{path}: line {self.text[:self.text.index(chr(0))].count(chr(10)) + 1}: a NUL "
                                "character; not a .properties file")
        self.ascii_only = all(ord(c) < 128 for c in self.text)
        self.entries = self._parse()
        self.source_lang = self._source_language()

    def _parse(self) -> list[dict]:
        entries, comments = [], []
        pos, line_no = 0, 1
        while pos < len(self.text):
            m = _LOGICAL.match(self.text, pos)
            if not m.group(0):
                break
            line = m.group(0)
            body = line.rstrip("\r\n")
            stripped = body.lstrip(" \t\f")
            if not stripped:
                comments = []
            elif stripped[0] in "#!":
                comments.append(stripped[1:].strip())
            else:
                start = pos + len(body) - len(stripped)
                k = re.match(r"(?:[^\\:=\s]|\\[\s\S])*", stripped).end()
                sep = re.match(r"[ \t\f]*[:=]?[ \t\f]*", stripped[k:]).end()
                key = unescape(stripped[:k])
                value_start = start + k + sep
                value_end = pos + len(body)
                raw = self.text[value_start:value_end]
                entries.append({"key": key, "raw": raw, "value": unescape(raw), "span": (value_start, value_end),
                                "note": " ".join(c for c in comments if c) or None, "line": line_no})
                comments = []
            line_no += line.count("\n") or line.count("\r")
            pos = m.end()
        return entries

    def _source_language(self) -> str | None:
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        parts = self.path.stem.split("_")
        for i in range(1, len(parts)):
            try:
                return languages.normalize("_".join(parts[i:]))
            except UserError:
                continue
        return None

    def units(self) -> list[Unit]:
        out = []
        for entry in self.entries:
            value = entry["value"]
            mf = bool(_ARGUMENT.search(value))  # a MessageFormat pattern: '' is one apostrophe
            entry["messageformat"] = mf
            out.append(Unit(entry["key"], value.replace("''", "'") if mf else value, ref=entry, note=entry["note"]))
        return out

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """messages.properties -> messages_de.properties; messages_en.properties -> messages_pt_BR.properties."""
        tag = language_tag(target_lang, "_")
        parts = path.stem.split("_")
        base = path.stem
        if self.source_lang:
            for i in range(1, len(parts)):
                from bayling_cat import languages
                from bayling_cat.errors import UserError

                try:
                    if languages.normalize("_".join(parts[i:])) == self.source_lang:
                        base = "_".join(parts[:i])
                        break
                except UserError:
                    continue
        return path.with_name(f"{base}_{tag}{path.suffix}")

    def serialize(self) -> bytes:
        if not self.written:
            return self.data
        text = self.text
        ascii_only = self.ascii_only or self.encoding == "latin-1"
        for unit in sorted(self._units or [], key=lambda u: u.ref["span"][0], reverse=True):
            value = self.written.get(id(unit))
            if value is None:
                continue
            if unit.ref["messageformat"]:
                value = value.replace("'", "''")
            start, end = unit.ref["span"]
            text = text[:start] + escape(value, ascii_only) + text[end:]
        return text.encode(self.encoding)


def looks_like_properties(path: Path) -> bool:
    return path.suffix.lower() == ".properties"
