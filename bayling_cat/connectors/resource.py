"""What the connectors of monolingual string resources share (JSON, ARB, Android strings.xml, .properties,
YAML, Apple .strings): a file in the source language whose strings are replaced by their translations in a
copy named for the target language.

Each string is a ``Unit`` (its key, its value, the comment or description that goes with it); the connector
finds them and knows how to put a new value back in place of the old one, byte for byte everywhere else. This
module turns units into segments: placeholders of the format become codes, an ICU message becomes one
segment per branch (``icu.py``), a comment or description becomes context the model reads and never
translates, and a plural form's instruction says which form is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from bayling_cat.connectors import icu
from bayling_cat.connectors.base import Connector
from bayling_cat.connectors.xmlio import DocumentError
from bayling_cat.document import Segment, clean_text, protect, restore_literals

# What the model must copy in app strings, whatever the format (each connector may add its own first):
# our own placeholder syntax, react-i18next's <0>…</0>, printf (%s %1$s %d %.2f %@ %1$@ %lld), %(name)s,
# i18next {{name}} and $t(key, {...}), ICU/.NET/Python {name} {0} {0:N2}, HTML/XML tags, entities.
APP_PLACEHOLDERS = [
    r"</?\d+/?>",
    r"\{\{[^{}]*\}\}",  # i18next {{count}}, {{- html}}, {{val, number}}
    r"\$t\([^()]*(?:\([^()]*\)[^()]*)*\)",  # i18next nesting $t(key) and $t(key, {"count": {{n}} })
    r"%\([^)\s]+\)[-+ #0]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]",
    r"%(?:\d+\$)?[-+#0]?\d*(?:\.\d+)?(?:ll|l|h|z|j|t|q)?[sdiufxXcpeEgG@]",
    r"%%",
    r"\{[A-Za-z0-9_.\[\]:!<>^=+,# -]*\}",  # {name} {0} {0:N2} {n, number}
    r"</?[A-Za-z][^<>]*?/?>",
    r"&[A-Za-z][A-Za-z0-9]*;|&#\d+;|&#x[0-9A-Fa-f]+;",
    r"\n", r"\t",  # line breaks and tabs inside a string: where they are is the app's layout
]


def pattern(*extra: str) -> re.Pattern:
    return re.compile("|".join(list(extra) + APP_PLACEHOLDERS))


@dataclass
class Unit:
    """One string of a resource file."""

    key: str  # as the report names it: the key path (never translated)
    value: str  # the decoded source text
    ref: object = None  # the connector's own handle (a span, an element)
    note: str | None = None  # a comment or description: context for the model, never changed
    instruction: str | None = None  # what the model must know (a plural form)
    skip: str | None = None  # why it is left alone (translatable="false")
    plural: dict = field(default_factory=dict)  # plural units: {"category": ..., "group": ...}


class Resource(Connector):
    """A monolingual resource: subclasses find ``units()`` and ``put`` a new value for one."""

    default_source_lang = "en"
    monolingual = True  # the file holds the source: its translation is another file (see output_path)
    placeholders: re.Pattern = pattern()
    icu_messages = True  # whether strings may be ICU messages

    def __init__(self, path: Path, data: bytes):
        super().__init__(path, data)
        self.data = data
        self._units: list[Unit] | None = None
        self._icu: dict[int, dict] = {}  # id(unit) -> {leaf path: ICU text}
        self.written: dict[int, str] = {}  # id(unit) -> new value

    def _utf8(self, data: bytes, what: str = "") -> None:
        """The file's text as UTF-8 (``self.text``), its byte order mark kept aside (``self.bom``); bytes that
        are not UTF-8 are refused naming the line."""
        self.bom = data.startswith(b"\xef\xbb\xbf")
        try:
            self.text = data[3 if self.bom else 0:].decode("utf-8")
        except UnicodeDecodeError as exc:
            line = data[:exc.start].count(b"\n") + 1
            raise DocumentError(f"{self.path}: line {line}: not UTF-8{what}") from None

    def language_in_name(self) -> str | None:
        """The language a file name says before its extension (Resources.de.resx, movie.fr.srt), or None."""
        from bayling_cat import languages
        from bayling_cat.errors import UserError

        parts = self.path.name.split(".")
        if len(parts) > 2:
            try:
                return languages.normalize(parts[-2])
            except UserError:
                return None
        return None

    def units(self) -> list[Unit]:
        raise NotImplementedError

    def put(self, unit: Unit, value: str) -> None:
        """Record ``value`` as the unit's translation (the connector writes it in ``serialize``)."""
        self.written[id(unit)] = value

    def set_target_language(self, lang: str, replace: bool = False) -> None:
        self.target_lang = lang

    def declared_target_language(self) -> str | None:
        return None

    def output_path(self, path: Path, target_lang: str) -> Path | None:
        """Where the translation goes when -o does not say (None: bayling-cat's default naming)."""
        return None

    # -- segments ------------------------------------------------------------------------------------

    def segments(self) -> list[Segment]:
        if self._units is None:
            self._units = self.units()
        out: list[Segment] = []
        src = self.source_lang or self.default_source_lang or "en"
        tgt = self.target_lang or src
        for unit in self._units:
            plan = None
            if self.icu_messages and icu.looks_like_icu(unit.value) and not unit.skip:
                try:
                    plan = icu.plan(unit.value, src, tgt)
                except icu.IcuError as exc:
                    out.append(Segment(key=unit.key, source=unit.value, skip=f"not a valid ICU message ({exc})",
                                       handle=(unit, None, None)))
                    continue
            if plan is None:
                codes: dict = {}
                source = protect(unit.value, self.placeholders, codes)
                out.append(Segment(key=unit.key, source=source, codes=codes, skip=unit.skip,
                                   hint=_hint(unit.instruction, unit.note), handle=(unit, None, None),
                                   notes=[unit.note] if unit.note else []))
                continue
            leaf_pattern = re.compile(icu.LEAF_CODES.pattern + "|" + self.placeholders.pattern)
            for leaf in plan.leaves:
                codes = {}
                source = protect(leaf.raw, leaf_pattern, codes)
                instruction = " ".join(x for x in (unit.instruction, leaf.hint) if x)
                out.append(Segment(key=f"{unit.key}#{'/'.join(leaf.path)}", source=source, codes=codes,
                                   hint=_hint(instruction, unit.note), handle=(unit, plan, leaf),
                                   notes=[unit.note] if unit.note else []))
        return out

    # -- writing -------------------------------------------------------------------------------------

    def write_target(self, segment: Segment, text: str, copied: bool, origin: str = "mt") -> None:
        unit, plan, leaf = segment.handle
        if plan is None:
            self.put(unit, clean_text(restore_literals(text, segment.codes), unit.value))
            return
        done = self._icu.setdefault(id(unit), {})
        done[leaf.path] = icu.leaf_text(clean_text(text, unit.value), segment.codes, leaf.plural)
        if len(done) == len(plan.leaves):  # the message is written whole, or not at all
            value = icu.render(plan, done)
            icu.parse(value)  # a leaf that broke the message fails this file with one line, never a bad file
            self.put(unit, value)

    def state(self, segment: Segment) -> str | None:
        return "translated" if id(segment.handle[0]) in self.written else None

    def write_suggestion(self, segment: Segment, text: str, match: dict | None = None) -> None:
        raise NotImplementedError


def _hint(instruction: str | None, note: str | None):
    from bayling_cat.templates import Note

    if not instruction and not note:
        return None
    return Note(instruction or "", context=note)


def language_tag(lang: str, sep: str = "-", region_prefix: str = "") -> str:
    """``pt-BR`` as an ecosystem writes it: ``pt_BR`` (Java), ``pt-rBR`` (Android: sep "-", prefix "r")."""
    parts = lang.replace("_", "-").split("-")
    if len(parts) == 1:
        return parts[0]
    return parts[0] + sep + region_prefix + sep.join(parts[1:]) if region_prefix else sep.join(parts)
