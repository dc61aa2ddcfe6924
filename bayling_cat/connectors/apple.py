"""Apple string tables: ``.strings`` (UTF-16 or UTF-8, ``/* comments */`` as context), ``.stringsdict``
(plist plurals laid out for the target language's CLDR categories) and Xcode 15's ``.xcstrings`` catalogs.

``.strings``: translate-toolkit's ``stringsfile`` gives an Xcode-written file back identical, but it
re-serialises every entry: bare keys get quotes, ``"a"="b";`` gets spaces, and ``"d" =  "e" ;`` (a space
before the semicolon) comes back as the value ``e" `` (measured with translate-toolkit 3.20: docs/formats.md).
So the file is scanned here (comments, quoted or bare keys, ``=``, quoted values, ``;``) and only the values
translated are replaced, in the file's own encoding and byte order mark.
"""

from __future__ import annotations

import re
from pathlib import Path

from bayling_cat.connectors.resource import Resource, Unit, pattern
from bayling_cat.connectors.xmlio import DocumentError

# %@ %1$@ %d %lld %.2f %#@var@ (stringsdict variables), and the placeholders common to app strings
PLACEHOLDERS = pattern(r"%#@[A-Za-z0-9_]+@", r"%(?:\d+\$)?[-+ #0']*\d*(?:\.\d+)?(?:hh|h|ll|l|q|z|t|j|L)?[@dDiuUxXoOfeEgGcCsSaAp%]")
_TOKEN = re.compile(r'/\*.*?\*/|//[^\n]*|"(?:[^"\\]|\\.)*"|[^\s=;"/]+|=|;|\s+', re.S)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "'": "'", "0": "\0"}


def _unquote(raw: str) -> str:
    body = raw[1:-1]
    return re.sub(r'\\(U[0-9A-Fa-f]{4}|u[0-9A-Fa-f]{4}|.)',
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] in "Uu" and len(m.group(1)) == 5
                  else _ESCAPES.get(m.group(1), m.group(1)), body, flags=re.S)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") \
        .replace("\r", "\\r") + '"'


def _decode(path: Path, data: bytes) -> tuple[str, str, bytes]:
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"), (b"\xef\xbb\xbf", "utf-8")):
        if data.startswith(bom):
            try:
                return data[len(bom):].decode(codec), codec, bom
            except UnicodeDecodeError as exc:
                raise DocumentError(f"{path}: not valid {codec.upper()} after its byte order mark ({exc.reason})") \
                    from None
    if len(data) > 1 and data[1:2] == b"\x00":
        return data.decode("utf-16-le", "strict"), "utf-16-le", b""
    try:
        return data.decode("utf-8"), "utf-8", b""
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise DocumentError(f"{path}: line {line}: neither UTF-16 nor UTF-8") from None


def lproj_output(path: Path, target_lang: str) -> Path | None:
    """en.lproj/Localizable.strings -> de.lproj/Localizable.strings (Base.lproj too); pt-BR.lproj, zh-Hans.lproj."""
    if path.parent.suffix != ".lproj":
        return None
    return path.parent.parent / f"{target_lang}.lproj" / path.name


def _lproj_language(path: Path) -> str | None:
    from bayling_cat import languages
    from bayling_cat.errors import UserError

    if path.parent.suffix == ".lproj" and path.parent.stem != "Base":
        try:
            return languages.normalize(path.parent.stem)
        except UserError:
            return None
    return None


class AppleStrings(Resource):
    format = "strings"
    placeholders = PLACEHOLDERS
    icu_messages = False

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self.text, self.codec, self.bom = _decode(path, data)
        self.entries = self._parse()
        self.source_lang = _lproj_language(path)

    def _parse(self) -> list[dict]:
        tokens = []
        pos = 0
        while pos < len(self.text):
            m = _TOKEN.match(self.text, pos)
            if not m:
                line = self.text[:pos].count("\n") + 1
                raise DocumentError(f"{self.path}: line {line}: not a .strings entry (an unterminated quote or "
                                    "comment)")
            tokens.append((m.group(0), m.start()))
            pos = m.end()
        entries, comment, i = [], None, 0
        significant = [(t, p) for t, p in tokens if not t.isspace()]
        while i < len(significant):
            tok, at = significant[i]
            if tok.startswith(("/*", "//")):
                comment = tok[2:-2].strip() if tok.startswith("/*") else tok[2:].strip()
                i += 1
                continue
            if i + 3 >= len(significant) + 0 or significant[i + 1][0] != "=" or significant[i + 3][0] != ";" \
                    or not significant[i + 2][0].startswith('"'):
                line = self.text[:at].count("\n") + 1
                raise DocumentError(f"{self.path}: line {line}: expected \"key\" = \"value\"; at {tok[:30]!r}")
            value_tok, value_at = significant[i + 2]
            key = _unquote(tok) if tok.startswith('"') else tok
            entries.append({"key": key, "value": _unquote(value_tok), "span": (value_at, value_at + len(value_tok)),
                            "note": comment})
            comment = None
            i += 4
        return entries

    def units(self) -> list[Unit]:
        return [Unit(e["key"], e["value"], ref=e, note=e["note"]) for e in self.entries]

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        return lproj_output(path, target_lang)

    def serialize(self) -> bytes:
        if not self.written:
            return self.data
        text = self.text
        for unit in sorted(self._units or [], key=lambda u: u.ref["span"][0], reverse=True):
            value = self.written.get(id(unit))
            if value is not None:
                start, end = unit.ref["span"]
                text = text[:start] + _quote(value) + text[end:]
        return self.bom + text.encode(self.codec)
