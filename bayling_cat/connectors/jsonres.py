"""JSON string resources: i18next (nested or flat keys, v4 plural suffixes ``_one``/``_other``…, ``{{name}}``,
``$t(key)``, react-i18next ``<1>…</1>``), formatjs/i18next-icu ICU messages, and Flutter ARB (``@key``
metadata as context, ``@@locale`` set to the target language).

Why not translate-toolkit's ``jsonl10n``: it re-dumps the whole file with ``json.dumps`` (its own indentation,
key order kept but spacing, escapes such as ``\\u00e9`` and ``\\/`` and the final newline changed), so a file
read and written without changes does not come back identical (see docs/formats.md for the figures). The
file is validated by Python's ``json`` module (which gives the line and column of an error) and then scanned
once more here for the position of every string, so that only the strings translated are replaced and every
other byte stays.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from bayling_cat.connectors import icu
from bayling_cat.connectors.resource import Resource, Unit, language_tag
from bayling_cat.connectors.xmlio import DocumentError

PLURAL_SUFFIX = re.compile(r"^(.+)_(zero|one|two|few|many|other)$")


@dataclass
class Str:
    value: str
    start: int  # the opening quote
    end: int  # after the closing quote


@dataclass
class Obj:
    start: int
    end: int
    members: list = field(default_factory=list)  # (key, key_start, value node)


@dataclass
class Arr:
    start: int
    end: int
    items: list = field(default_factory=list)


@dataclass
class Other:  # number, true, false, null
    start: int
    end: int


_WS = re.compile(r"[ \t\r\n]*")
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)
_SCALAR = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null")


def scan(text: str, pos: int = 0):
    """The value at ``pos`` with the offsets of everything in it (``text`` is valid JSON: json.loads said so)."""
    pos = _WS.match(text, pos).end()
    ch = text[pos]
    if ch == '"':
        m = _STRING.match(text, pos)
        return Str(json.loads(m.group(0)), pos, m.end()), m.end()
    if ch == "{":
        node = Obj(pos, pos)
        pos = _WS.match(text, pos + 1).end()
        if text[pos] == "}":
            node.end = pos + 1
            return node, pos + 1
        while True:
            pos = _WS.match(text, pos).end()
            m = _STRING.match(text, pos)
            key_start = pos
            pos = _WS.match(text, m.end()).end() + 1  # past ':'
            value, pos = scan(text, pos)
            node.members.append((json.loads(m.group(0)), key_start, value))
            pos = _WS.match(text, pos).end()
            if text[pos] == "}":
                node.end = pos + 1
                return node, pos + 1
            pos += 1  # ','
    if ch == "[":
        node = Arr(pos, pos)
        pos = _WS.match(text, pos + 1).end()
        if text[pos] == "]":
            node.end = pos + 1
            return node, pos + 1
        while True:
            value, pos = scan(text, pos)
            node.items.append(value)
            pos = _WS.match(text, pos).end()
            if text[pos] == "]":
                node.end = pos + 1
                return node, pos + 1
            pos = pos + 1
    m = _SCALAR.match(text, pos)
    return Other(pos, m.end()), m.end()


class JsonResource(Resource):
    format = "json"

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self._utf8(data, ' (JSON files are UTF-8)')
        try:
            json.loads(self.text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            raise DocumentError(f"{path}: line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})") from None
        except _Duplicate as exc:
            raise DocumentError(f"{path}: the key {exc.args[0]!r} appears twice in one object; which one an app "
                                "reads is undefined") from None
        except RecursionError:
            raise DocumentError(f"{path}: nested too deeply to be a resource file") from None
        self.root, _ = scan(self.text)
        if not isinstance(self.root, Obj):
            raise DocumentError(f"{path}: the JSON holds {type(self.root).__name__.lower()} at the top, not an "
                                "object of strings (not an i18next, ARB or formatjs resource)")
        self.arb = path.suffix.lower() == ".arb" or any(k == "@@locale" for k, _, _ in self.root.members)
        self.format = "arb" if self.arb else "json"
        self.ascii = "\\u" in self.text and not any(ord(c) > 127 for c in self.text)
        self.source_lang = self._source_language()
        self._groups: dict[tuple, dict] = {}  # plural groups: (id(object), base) -> {category: member}

    def _source_language(self) -> str | None:
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        candidates = []
        if self.arb:
            candidates += [v.value for k, _, v in self.root.members if k == "@@locale" and isinstance(v, Str)]
            parts = self.path.stem.split("_")
            candidates += ["_".join(parts[i:]) for i in range(1, len(parts))]
        candidates += [self.path.stem, self.path.parent.name]
        for c in candidates:
            try:
                return languages.normalize(c)
            except UserError:
                continue
        return None

    # -- units ---------------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        out: list[Unit] = []
        meta = {k[1:]: v for k, _, v in self.root.members if self.arb and k.startswith("@") and not k.startswith("@@")}
        self._walk(self.root, "", out, meta)
        return out

    def _walk(self, node, prefix: str, out: list, meta: dict) -> None:
        if isinstance(node, Arr):
            for i, item in enumerate(node.items):
                self._walk(item, f"{prefix}[{i}]", out, meta)
            return
        if not isinstance(node, Obj):
            if isinstance(node, Str):
                out.append(Unit(prefix, node.value, ref=node))
            return
        members = node.members
        groups: dict[str, dict] = {}
        for key, _, value in members:
            m = PLURAL_SUFFIX.match(key)
            if m and isinstance(value, Str):
                groups.setdefault(m.group(1), {})[m.group(2)] = value
        plural_bases = {b for b, g in groups.items() if "other" in g}
        done_bases = set()
        for key, key_start, value in members:
            if self.arb and key.startswith("@"):
                continue  # metadata and @@locale: never translated
            path = f"{prefix}.{key}" if prefix else key
            m = PLURAL_SUFFIX.match(key)
            if m and m.group(1) in plural_bases and isinstance(value, Str):
                if m.group(1) not in done_bases:
                    done_bases.add(m.group(1))
                    self._plural_units(node, m.group(1), groups[m.group(1)], prefix, out)
                continue
            if isinstance(value, Str):
                out.append(Unit(path, value.value, ref=value, note=self._description(meta.get(key))))
            else:
                self._walk(value, path, out, meta)

    def _description(self, meta) -> str | None:
        if not isinstance(meta, Obj):
            return None
        for key, _, value in meta.members:
            if key == "description" and isinstance(value, Str) and value.value.strip():
                return value.value
        return None

    def _plural_units(self, node: Obj, base: str, forms: dict, prefix: str, out: list) -> None:
        """An i18next v4 plural (``base_one``, ``base_other``…): one unit per CLDR category of the target
        language, each translated from the source's own form where it fits, else from ``_other``."""
        src = self.source_lang or "en"
        tgt = self.target_lang or src
        group = {"node": node, "base": base, "forms": forms}
        self._groups[(id(node), base)] = group

        def codes_of(cat):
            return sorted(self.placeholders.findall(forms[cat].value))

        for cat in icu.categories(tgt):
            origin = icu.source_category(list(forms), cat, src, tgt, False, codes_of)
            counts = ", ".join(map(str, icu.examples(tgt, cat))) or "fractions"
            key = f"{base}_{cat}"
            out.append(Unit(f"{prefix}.{key}" if prefix else key, forms[origin].value, ref=forms.get(cat),
                            instruction=f"This is the plural form '{cat}', used for counts such as {counts}.",
                            plural={"group": group, "category": cat}))

    # -- writing -------------------------------------------------------------------------------------

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """en.json -> de.json; locales/en/translation.json -> locales/de/translation.json; app_en.arb ->
        app_de.arb (i18next and Flutter's own layouts)."""
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        tag = language_tag(target_lang, "_" if self.arb else "-")
        src = self.source_lang

        def names(value: str) -> bool:
            try:
                return src is not None and languages.normalize(value) == src
            except UserError:
                return False

        if names(path.stem):
            return path.with_name(tag + path.suffix)
        parts = path.stem.split("_")
        for i in range(1, len(parts)) if self.arb else ():  # intl_en_US.arb: the locale after the prefix
            if names("_".join(parts[i:])):
                return path.with_name(f"{'_'.join(parts[:i])}_{tag}{path.suffix}")
        if names(path.parent.name):
            return path.parent.parent / tag / path.name
        return None

    def _encode(self, value: str) -> str:
        return json.dumps(value, ensure_ascii=self.ascii)

    def serialize(self) -> bytes:
        edits: list[tuple[int, int, str]] = []  # (start, end, replacement), none overlapping
        for unit in self._units or []:
            value = self.written.get(id(unit))
            if value is not None and unit.ref is not None:
                edits.append((unit.ref.start, unit.ref.end, self._encode(value)))
        if self.arb and self.target_lang and self.written:
            for key, _, value in self.root.members:
                if key == "@@locale" and isinstance(value, Str):
                    edits.append((value.start, value.end, self._encode(language_tag(self.target_lang, "_"))))
        edits += self._plural_edits()
        if not edits:
            return self.data
        text = self.text
        for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + new + text[end:]
        json.loads(text)  # never a file its own reader refuses
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode("utf-8")

    def _plural_edits(self) -> list[tuple[int, int, str]]:
        """New members for the categories the target language has and the file had not (after the group's last
        member, separated as its members are); members of categories the target language has not, removed."""
        edits = []
        for group in self._groups.values():
            units = [u for u in self._units or [] if u.plural.get("group") is group]
            if not any(id(u) in self.written for u in units):
                continue
            node, base, forms = group["node"], group["base"], group["forms"]
            members = node.members
            index = {k: i for i, (k, _, _) in enumerate(members)}
            positions = [index[f"{base}_{c}"] for c in forms]
            last = max(positions)
            sep = self.text[members[last - 1][2].end:members[last][1]] if last > 0 else ", "
            added = "".join(sep + self._encode(base + "_" + u.plural["category"]) + ": " +
                            self._encode(self.written.get(id(u), u.value)) for u in units if u.ref is None)
            if added:
                end = members[last][2].end
                edits.append((end, end, added))
            wanted = {u.plural["category"] for u in units}
            for cat in [c for c in forms if c not in wanted]:
                i = index[f"{base}_{cat}"]
                if i > 0:
                    edits.append((members[i - 1][2].end, members[i][2].end, ""))
                else:
                    edits.append((members[0][1], members[1][1], ""))
        return edits


class _Duplicate(ValueError):
    pass


def _no_duplicates(pairs):
    seen = set()
    for key, _ in pairs:
        if key in seen:
            raise _Duplicate(key)
        seen.add(key)
    return dict(pairs)


def looks_like_json(data: bytes) -> bool:
    head = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    return head.lstrip(b" \t\r\n").startswith(b"{")
