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


# -- .stringsdict ---------------------------------------------------------------------------------------------

PLURAL_RULE = "NSStringPluralRuleType"


def _pairs(dict_el) -> list:
    """A plist <dict>'s (key element, value element) pairs, in order."""
    from bayling_cat.connectors.xmlio import local_name

    children = [c for c in dict_el if isinstance(c.tag, str)]
    return [(children[i], children[i + 1]) for i in range(0, len(children) - 1, 2)
            if local_name(children[i]) == "key"]


class StringsDict(Resource):
    """Plurals in a plist: each format key's ``NSStringLocalizedFormatKey`` and the plural rules' strings."""

    format = "stringsdict"
    placeholders = PLACEHOLDERS
    icu_messages = False

    def __init__(self, path: Path, data: bytes, xml=None):
        from bayling_cat.connectors.xmlio import XmlDocument, local_name

        super().__init__(path, data)
        self.xml = xml or XmlDocument(path, data)
        top = next((c for c in self.xml.root if isinstance(c.tag, str)), None)
        if local_name(self.xml.root) != "plist" or top is None or local_name(top) != "dict":
            raise DocumentError(f"{path}: not a .stringsdict (a plist whose top element is a <dict>)")
        self.top = top
        self.source_lang = _lproj_language(path)
        self._groups: list[dict] = []

    def units(self) -> list[Unit]:
        from bayling_cat.connectors import icu
        from bayling_cat.connectors.xmlio import local_name

        out = []
        for key, entry in _pairs(self.top):
            if local_name(entry) != "dict":
                continue
            name = key.text or ""
            for sub, value in _pairs(entry):
                if sub.text == "NSStringLocalizedFormatKey" and local_name(value) == "string":
                    out.append(Unit(f"{name}", value.text or "", ref=value))
                elif local_name(value) == "dict":
                    rules = {k.text: v for k, v in _pairs(value)}
                    spec = rules.get("NSStringFormatSpecTypeKey")
                    if spec is None or spec.text != PLURAL_RULE or "other" not in rules:
                        continue
                    forms = {c: v for c, v in rules.items() if c in icu.CATEGORY_ORDER}
                    out += self._plural(value, forms, f"{name}/{sub.text}")
        return out

    def _plural(self, rule_dict, forms: dict, path: str) -> list[Unit]:
        from bayling_cat.connectors import icu

        src = self.source_lang or "en"
        tgt = self.target_lang or src
        group = {"dict": rule_dict, "forms": forms}
        self._groups.append(group)

        def codes_of(cat):
            return sorted(PLACEHOLDERS.findall(forms[cat].text or ""))

        wanted = (["zero"] if "zero" in forms and "zero" not in icu.categories(tgt) else []) + list(icu.categories(tgt))
        units = []
        for cat in wanted:
            origin = cat if cat == "zero" and cat in forms else icu.source_category(
                list(forms), cat, src, tgt, False, codes_of)
            counts = ", ".join(map(str, icu.examples(tgt, cat))) or ("0" if cat == "zero" else "fractions")
            units.append(Unit(f"{path}[{cat}]", forms[origin].text or "", ref=forms.get(cat),
                              instruction=f"This is the plural form '{cat}', used for counts such as {counts}.",
                              plural={"group": group, "category": cat}))
        return units

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        return lproj_output(path, target_lang)

    def serialize(self) -> bytes:
        from lxml import etree

        from bayling_cat.document import xml_safe

        if not self.written:
            return self.xml.serialize()
        for unit in self._units or []:
            value = self.written.get(id(unit))
            if value is None:
                continue
            target = unit.ref
            group = unit.plural.get("group")
            if target is None:
                other_key = next(k for k, v in _pairs(group["dict"]) if k.text == "other")
                indent = (other_key.getprevious().tail if other_key.getprevious() is not None
                          else group["dict"].text) or ""
                key = etree.Element("key")
                key.text, key.tail = unit.plural["category"], indent
                target = etree.Element("string")
                target.tail = indent
                other_key.addprevious(key)
                other_key.addprevious(target)
                group["forms"][unit.plural["category"]] = target
            target.text = xml_safe(value)
        for group in self._groups:
            units = [u for u in self._units or [] if u.plural.get("group") is group]
            if not any(id(u) in self.written for u in units):
                continue
            wanted = {u.plural["category"] for u in units}
            for key, value in _pairs(group["dict"]):
                if key.text in group["forms"] and key.text not in wanted:
                    prev = key.getprevious()
                    if prev is not None:
                        prev.tail = value.tail
                    group["dict"].remove(key)
                    group["dict"].remove(value)
        self.xml.touch_structure()
        return self.xml.serialize()


# -- .xcstrings (Xcode 15 string catalogs) ---------------------------------------------------------------------

class XcStrings(Resource):
    """A string catalog holds every language: the translation is added to each entry's ``localizations`` with
    ``state: needs_review`` (Xcode's own mark for a string to check). Entries bayling-cat writes into are
    written as Xcode writes them (sorted keys, two spaces, ``" : "``); every other byte stays."""

    format = "xcstrings"
    placeholders = PLACEHOLDERS
    icu_messages = False

    def __init__(self, path: Path, data: bytes):
        import json

        from bayling_cat.connectors.jsonres import Obj, scan

        super().__init__(path, data)
        try:
            self.text = data.decode("utf-8")
            self.catalog = json.loads(self.text)
        except UnicodeDecodeError:
            raise DocumentError(f"{path}: not UTF-8") from None
        except json.JSONDecodeError as exc:
            raise DocumentError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
        root, _ = scan(self.text)
        strings = next((v for k, _, v in root.members if k == "strings"), None) if isinstance(root, Obj) else None
        if not isinstance(strings, Obj) or not isinstance(self.catalog.get("sourceLanguage"), str):
            raise DocumentError(f"{path}: not an Xcode string catalog (no sourceLanguage and strings)")
        self.entries = strings.members  # (key, key_start, node)
        self.source_lang = self.catalog["sourceLanguage"]
        self._new: dict[str, dict] = {}  # key -> the localization written for the target language

    def units(self) -> list[Unit]:
        from bayling_cat.connectors import icu

        out = []
        src = self.source_lang
        tgt = self.target_lang or src
        for key, _, node in self.entries:
            entry = self.catalog["strings"][key]
            note = entry.get("comment") if isinstance(entry.get("comment"), str) else None
            skip = "shouldTranslate=false" if entry.get("shouldTranslate") is False else None
            own = entry.get("localizations", {}).get(src, {})
            done = entry.get("localizations", {}).get(tgt, {})
            plural = own.get("variations", {}).get("plural") if isinstance(own.get("variations"), dict) else None
            if own.get("variations") and not plural:
                skip = skip or "device or other variations (translate them in Xcode)"
            if plural:
                forms = {c: v.get("stringUnit", {}).get("value", "") for c, v in plural.items()}
                have = (done.get("variations") or {}).get("plural") or {}

                def codes_of(cat, forms=forms):
                    return sorted(PLACEHOLDERS.findall(forms[cat]))

                for cat in icu.categories(tgt):
                    origin = icu.source_category(list(forms), cat, src, tgt, False, codes_of) if "other" in forms \
                        else next(iter(forms))
                    counts = ", ".join(map(str, icu.examples(tgt, cat))) or "fractions"
                    existing = have.get(cat, {}).get("stringUnit", {})
                    out.append(Unit(f"{key}[{cat}]", forms[origin], ref={"key": key, "existing": existing},
                                    note=note, skip=skip, plural={"category": cat, "key": key},
                                    instruction=f"This is the plural form '{cat}', used for counts such as {counts}."))
            else:
                value = own.get("stringUnit", {}).get("value", key)
                out.append(Unit(key, value, ref={"key": key, "existing": done.get("stringUnit", {})}, note=note,
                                skip=skip))
        return out

    def segments(self):
        from bayling_cat.document import protect

        out = super().segments()
        for seg in out:  # a translation Xcode counts as done is a target; needs_review/new/stale are not
            existing = seg.handle[0].ref["existing"]
            if existing.get("value"):
                codes: dict = {}
                seg.current = protect(existing["value"], self.placeholders, codes)
                seg.target_codes = codes
                seg.target = seg.current if existing.get("state") == "translated" else None
        return out

    def write_target(self, segment, text: str, copied: bool, origin: str = "mt") -> None:
        super().write_target(segment, text, copied, origin)
        unit = segment.handle[0]
        if id(unit) in self.written:
            state = "translated" if origin in ("human", "reviewed") else "needs_review"
            unit.ref["written"] = {"state": state, "value": self.written[id(unit)]}

    def serialize(self) -> bytes:
        import copy
        import json

        if not self.written:
            return self.data
        changed: dict[str, dict] = {}
        for unit in self._units or []:
            written = unit.ref.get("written")
            if written is None:
                continue
            key = unit.ref["key"]
            entry = changed.setdefault(key, copy.deepcopy(self.catalog["strings"][key]))
            slot = entry.setdefault("localizations", {}).setdefault(self.target_lang, {})
            if unit.plural:
                slot.pop("stringUnit", None)
                forms = slot.setdefault("variations", {}).setdefault("plural", {})
                forms[unit.plural["category"]] = {"stringUnit": written}
            else:
                slot.pop("variations", None)
                slot["stringUnit"] = written
        text = self.text
        for key, _, node in sorted(self.entries, key=lambda m: m[2].start, reverse=True):
            if key in changed:  # the entry as Xcode writes it, indented where it stands
                body = json.dumps(changed[key], ensure_ascii=False, indent=2, sort_keys=True,
                                  separators=(",", " : "))
                body = body.replace("\n", "\n" + " " * _line_indent(self.text, node.start))
                text = text[:node.start] + body + text[node.end:]
        json.loads(text)
        return text.encode("utf-8")


def _line_indent(text: str, pos: int) -> int:
    line_start = text.rfind("\n", 0, pos) + 1
    line = text[line_start:pos]
    return len(line) - len(line.lstrip(" "))
