"""YAML resources: Rails i18n (``en:`` at the root, ``one``/``other`` plurals, ``%{name}``), and any YAML
whose strings are to be translated.

ruamel.yaml composes the document (the node tree with the exact position of every scalar, nothing
constructed, so no tag can run code); the translated scalars are replaced in the original text, so comments,
key order, quoting styles, flow sequences and blank lines stay byte for byte (ruamel.yaml's own round-trip
dumper re-indents and re-wraps lines: docs/formats.md has the figures). Anchors, aliases and merge keys are
refused (a "billion laughs" bomb is built from them; a resource file has no use for them).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bayling_cat.connectors import icu
from bayling_cat.connectors.resource import Resource, Unit, pattern
from bayling_cat.connectors.xmlio import DocumentError

STR = "tag:yaml.org,2002:str"
CATEGORIES = set(icu.CATEGORY_ORDER)
PLACEHOLDERS = pattern(r"%\{[^{}\s]+\}", r"%<[^<>\s]+>[-+ #0]*\d*(?:\.\d+)?[sdif]", r"%[-+ #0]*\d*(?:\.\d+)?[aAbBcdeHIjLmMNpPSUwWyYZz%]")
MAX_NODES = 200_000


class YamlResource(Resource):
    format = "yaml"
    placeholders = PLACEHOLDERS

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self._utf8(data)
        self.root = self._compose()
        self.root_locale = None
        self.source_lang = self._source_language()
        self._groups: list[dict] = []

    def _compose(self):
        from ruamel.yaml import YAML
        from ruamel.yaml.error import MarkedYAMLError, YAMLError

        try:
            root = YAML(typ="rt", pure=True).compose(self.text)
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
            why = exc.problem or exc.context
            if exc.problem and exc.context and exc.context_mark is not None:  # where the open construct began
                why += f" {exc.context} started at line {exc.context_mark.line + 1}"
            raise DocumentError(f"{self.path}: {where}not valid YAML ({why})") from None
        except (YAMLError, RecursionError) as exc:
            raise DocumentError(f"{self.path}: not valid YAML ({str(exc).splitlines()[0][:150]})") from None
        if root is None:
            raise DocumentError(f"{self.path}: an empty YAML document")
        seen: set[int] = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen or getattr(node, "anchor", None):
                raise DocumentError(f"{self.path}: line {node.start_mark.line + 1}: YAML anchors and aliases are "
                                    "refused (they can expand without bound: a YAML bomb)")
            seen.add(id(node))
            if len(seen) > MAX_NODES:
                raise DocumentError(f"{self.path}: more than {MAX_NODES} YAML nodes; refused")
            if isinstance(node.value, list):
                children = []
                for item in node.value:
                    if isinstance(item, tuple):
                        if item[0].tag == "tag:yaml.org,2002:merge" or item[0].value == "<<":
                            raise DocumentError(f"{self.path}: line {item[0].start_mark.line + 1}: YAML merge keys "
                                                "are refused")
                        children += list(item)
                    else:
                        children.append(item)
                stack += reversed(children)  # document order: the first offence is the one named
        return root

    def _source_language(self) -> str | None:
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        pairs = self.root.value if self.root.tag.endswith(":map") else []
        if len(pairs) == 1 and pairs[0][0].tag == STR:
            try:
                self.root_locale = pairs[0][0]
                return languages.normalize(pairs[0][0].value)
            except UserError:
                self.root_locale = None
        for candidate in (self.path.stem.split(".")[-1], self.path.stem):
            try:
                return languages.normalize(candidate)
            except UserError:
                continue
        return None

    # -- units ---------------------------------------------------------------------------------------

    def units(self) -> list[Unit]:
        out: list[Unit] = []
        self._walk(self.root, "", out)
        return out

    def _walk(self, node, path: str, out: list) -> None:
        kind = node.tag.rsplit(":", 1)[-1]
        if kind == "map":
            keys = [k.value for k, _ in node.value]
            if "other" in keys and set(keys) <= CATEGORIES and all(v.tag == STR for _, v in node.value):
                self._plural(node, path, out)
                return
            for key, value in node.value:
                self._walk(value, f"{path}.{key.value}" if path else str(key.value), out)
        elif kind == "seq":
            for i, item in enumerate(node.value):
                self._walk(item, f"{path}[{i}]", out)
        elif node.tag == STR and _translatable(node):
            out.append(Unit(path, node.value, ref=node, note=self._comment(node)))

    def _comment(self, node) -> str | None:
        """The comment lines right above the line a value starts on (its key's)."""
        lines = self.text.split("\n")
        i = node.start_mark.line - 1
        found = []
        while i >= 0 and lines[i].strip().startswith("#"):
            found.append(lines[i].strip().lstrip("#").strip())
            i -= 1
        return " ".join(reversed(found)) or None

    def _plural(self, node, path: str, out: list) -> None:
        """Rails i18n plurals: the target language's CLDR keys (``zero`` kept where the source has it:
        Rails uses it for a count of 0 in every language)."""
        src = self.source_lang or "en"
        tgt = self.target_lang or src
        forms = {k.value: v for k, v in node.value}
        group = {"node": node, "forms": forms}
        self._groups.append(group)

        def codes_of(cat):
            return sorted(self.placeholders.findall(forms[cat].value))

        wanted = (["zero"] if "zero" in forms and "zero" not in icu.categories(tgt) else []) + list(icu.categories(tgt))
        for cat in wanted:
            origin = cat if cat == "zero" and cat in forms else icu.source_category(
                list(forms), cat, src, tgt, False, codes_of)
            counts = "0" if cat == "zero" and cat not in icu.categories(tgt) else \
                ", ".join(map(str, icu.examples(tgt, cat))) or "fractions"
            out.append(Unit(f"{path}.{cat}", forms[origin].value, ref=forms.get(cat),
                            note=self._comment(forms[origin]),
                            instruction=f"This is the plural form '{cat}', used for counts such as {counts}.",
                            plural={"group": group, "category": cat}))

    # -- writing -------------------------------------------------------------------------------------

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """en.yml -> de.yml; devise.en.yml -> devise.de.yml (Rails' config/locales layout)."""
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        parts = path.name.split(".")
        for i in (len(parts) - 2,):
            try:
                if i >= 0 and languages.normalize(parts[i]) == self.source_lang:
                    parts[i] = target_lang
                    return path.with_name(".".join(parts))
            except UserError:
                continue
        return None

    def _scalar(self, value: str, style) -> str:
        if style == "'" and "\n" not in value:
            return "'" + value.replace("'", "''") + "'"
        if style is None and _plain_safe(value):
            return value
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid YAML double-quoted scalar

    def serialize(self) -> bytes:
        if not self.written:
            return self.data
        edits = []
        for unit in self._units or []:
            value = self.written.get(id(unit))
            if value is not None and unit.ref is not None:
                node = unit.ref
                edits.append((node.start_mark.index, node.end_mark.index, self._scalar(value, node.style)))
        edits += self._plural_edits()
        if self.root_locale is not None and self.target_lang:
            key = self.root_locale
            edits.append((key.start_mark.index, key.end_mark.index, self._scalar(self.target_lang, key.style)))
        text = self.text
        for start, end, new in sorted(edits, key=lambda e: (e[0], e[1]), reverse=True):
            text = text[:start] + new + text[end:]
        self._check(text)
        return (b"\xef\xbb\xbf" if self.bom else b"") + text.encode("utf-8")

    def _plural_edits(self) -> list:
        edits = []
        for group in self._groups:
            units = [u for u in self._units or [] if u.plural.get("group") is group]
            if not any(id(u) in self.written for u in units):
                continue
            node, forms = group["node"], group["forms"]
            other_key = next(k for k, _ in node.value if k.value == "other")
            indent = " " * other_key.start_mark.column
            added = "".join(f"{indent}{u.plural['category']}: "
                            f"{self._scalar(self.written.get(id(u), u.value), forms['other'].style)}\n"
                            for u in units if u.ref is None)
            line_start = self.text.rfind("\n", 0, other_key.start_mark.index) + 1
            if added and self.text[line_start:other_key.start_mark.index].strip() == "":
                edits.append((line_start, line_start, added))  # before 'other': CLDR order
            elif added:
                raise DocumentError(f"{self.path}: line {other_key.start_mark.line + 1}: a plural written in flow "
                                    "style ({one: …, other: …}); write it in block style to add plural forms")
            wanted = {u.plural["category"] for u in units}
            for key, value in node.value:
                if key.value not in wanted:  # the whole line of a category the target language lacks
                    start = self.text.rfind("\n", 0, key.start_mark.index)
                    edits.append((start, value.end_mark.index, ""))
        return edits

    def _check(self, text: str) -> None:
        """The output read back: the same keys, every translated string a string."""
        from ruamel.yaml import YAML

        YAML(typ="safe", pure=True).load(text)


def _translatable(node) -> bool:
    value = node.value
    if not value.strip() or not any(ch.isalpha() for ch in value):
        return True  # copied as it is by the pipeline (nothing to translate)
    if node.style is None and value.startswith(":"):
        return False  # a Ruby symbol (:year), which Psych loads as a Symbol
    return True


# plain only for words, spaces and the punctuation no YAML reader (1.1 or 1.2, block or flow) takes for syntax
_PLAIN = re.compile(r"^\w[\w \-.'’()/]*$")


def _plain_safe(value: str) -> bool:
    """Whether ``value`` reads back as the same string when written plain (in a block or a flow sequence)."""
    if not _PLAIN.match(value) or value != value.strip():
        return False
    from ruamel.yaml import YAML

    try:
        loaded = YAML(typ="safe", pure=True).load(f"k: {value}\nf: [{value}]\n")
    except Exception:  # noqa: BLE001 - anything the parser refuses is not plain-safe
        return False
    return loaded == {"k": value, "f": [value]}


def looks_like_yaml(path: Path) -> bool:
    return path.suffix.lower() in (".yml", ".yaml")
