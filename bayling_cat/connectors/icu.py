"""ICU MessageFormat (plural, selectordinal, select) for every connector whose strings may hold it: JSON
(i18next-icu, ARB, formatjs), XLIFF (Angular's ``{VAR_PLURAL, plural, =1 {…} other {…}}``), YAML.

A message is cut into *leaves*: the text of each branch. Each leaf is a segment of its own; the selector,
the keywords and the braces never reach the model. The message is written back only when every leaf has a
translation, re-laid for the target language:

- a ``plural`` (``selectordinal``) gets exactly the CLDR categories of the target language (``babel``'s
  tables), each translated from the source's branch of the same category where that branch fits the counts
  the category serves, else from ``other``; ``=0``/``=1`` exact branches are kept as they are;
- text around a plural or select (``You have {n, plural, one {# file} other {# files}}.``) is moved into each
  branch before translation (what formatjs calls hoisting), so that the model sees whole sentences and the
  translation may reorder them; the written message renders the same;
- ``#``, simple arguments (``{name}``, ``{n, number}``) and quoted literals (``'{'``) are codes.

Parsing follows ICU4J's MessagePattern: apostrophes quote only before ``{``, ``}``, ``#`` and ``|``, and
``''`` is one apostrophe. A string that does not parse as a message with a plural or select is no ICU message:
the connector translates it as plain text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from bayling_cat.document import PLACEHOLDER, Code

KINDS = ("plural", "selectordinal", "select")
CATEGORY_ORDER = ("zero", "one", "two", "few", "many", "other")
MAX_LEAVES = 64  # more branches than any sane message; beyond it the message is left alone


class IcuError(ValueError):
    """Not a well-formed ICU message."""


@dataclass
class Select:
    name: str
    kind: str  # plural, selectordinal or select
    head: str  # the source text from "{" to the first branch key ("{count, plural, offset:1 ")
    branches: list[tuple[str, list]]  # (key, message)
    gap: str = " "  # between one branch's "}" and the next key
    tail: str = ""  # whitespace before the final "}"
    key_gap: str = " "  # between a key and its "{"


# A message is a list of str (literal ICU text: simple arguments and quotes included) and Select nodes.


def parse(text: str) -> list:
    """The message as text pieces and Select nodes; IcuError when it is not well-formed."""
    message, pos = _message(text, 0, 0)
    if pos != len(text):
        raise IcuError(f"unbalanced '}}' at character {pos + 1}")
    return message


def _skip_quote(text: str, pos: int, in_plural: bool) -> int:
    """Past an apostrophe at ``pos``: '' is one apostrophe, '{...' quotes up to the next lone apostrophe."""
    if text.startswith("''", pos):
        return pos + 2
    nxt = text[pos + 1:pos + 2]
    if nxt and (nxt in "{}|" or (nxt == "#" and in_plural)):
        end = pos + 1
        while True:
            end = text.find("'", end)
            if end < 0:
                return len(text)  # quoted to the end, as ICU reads it
            if text.startswith("''", end):
                end += 2
                continue
            return end + 1
    return pos + 1


def _message(text: str, pos: int, depth: int, in_plural: bool = False) -> tuple[list, int]:
    if depth > 8:
        raise IcuError("nested more than 8 levels deep")
    out: list = []
    start = pos
    while pos < len(text):
        ch = text[pos]
        if ch == "'":
            pos = _skip_quote(text, pos, in_plural)
        elif ch == "{":
            node, end = _argument(text, pos, depth, in_plural)
            if isinstance(node, Select):
                if pos > start:
                    out.append(text[start:pos])
                out.append(node)
                start = end
            pos = end
        elif ch == "}":
            break
        else:
            pos += 1
    if pos > start:
        out.append(text[start:pos])
    return out, pos


_NAME = re.compile(r"\s*([^\s{},'#]+)\s*")
_TYPE = re.compile(r",\s*([A-Za-z]+)\s*")


def _argument(text: str, pos: int, depth: int, in_plural: bool):
    """The argument opening at ``pos``: a Select, or None for a simple one (kept as text); and its end."""
    m = _NAME.match(text, pos + 1)
    if not m:
        raise IcuError(f"an argument without a name at character {pos + 1}")
    after = m.end()
    if text.startswith("}", after):
        return None, after + 1
    t = _TYPE.match(text, after)
    if not t:
        raise IcuError(f"a malformed argument at character {pos + 1}")
    kind = t.group(1)
    if kind not in KINDS:  # number, date, time, spellout...: a style may hold braces of its own
        level, i = 1, t.end()
        while i < len(text) and level:
            if text[i] == "'":
                i = _skip_quote(text, i, False)
                continue
            level += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        if level:
            raise IcuError(f"an argument opened at character {pos + 1} is never closed")
        return None, i
    i = t.end()
    if not text.startswith(",", i):
        raise IcuError(f"{kind} without branches at character {pos + 1}")
    i += 1
    head = None
    branches: list[tuple[str, list]] = []
    gap = key_gap = " "
    offset = re.compile(r"offset:\s*\d+")
    while True:
        j = i
        while j < len(text) and text[j].isspace():
            j += 1
        if j >= len(text):
            raise IcuError(f"{kind} opened at character {pos + 1} is never closed")
        if text[j] == "}":
            if "other" not in [k for k, _ in branches]:
                raise IcuError(f"{kind} at character {pos + 1} has no 'other' branch")
            return Select(m.group(1), kind, head, branches, gap, text[i:j], key_gap), j + 1
        if kind != "select" and not branches and offset.match(text, j):
            i = offset.match(text, j).end()
            continue
        if head is None:
            head = text[pos:j]
        elif len(branches) == 1:
            gap = text[i:j]
        key_m = re.compile(r"[^\s{}]+").match(text, j)
        if not key_m:
            raise IcuError(f"a {kind} branch without a key at character {j + 1}")
        key = key_m.group(0)
        k = key_m.end()
        while k < len(text) and text[k].isspace():
            k += 1
        if not text.startswith("{", k):
            raise IcuError(f"the {kind} branch {key!r} has no message at character {k + 1}")
        if not branches:
            key_gap = text[key_m.end():k]
        body, end = _message(text, k + 1, depth + 1, in_plural or kind != "select")
        if not text.startswith("}", end):
            raise IcuError(f"the {kind} branch {key!r} is never closed")
        branches.append((key, body))
        i = end + 1


def has_select(message: list) -> bool:
    return any(isinstance(p, Select) for p in message)


def looks_like_icu(text: str) -> bool:
    """Cheap test before parsing: a plural, selectordinal or select argument may be in there."""
    return "{" in text and re.search(r"\{\s*[^\s{},]+\s*,\s*(?:plural|selectordinal|select)\s*,", text) is not None


# -- plural categories (CLDR, through babel) ----------------------------------------------------------------

@lru_cache(maxsize=64)
def categories(lang: str, ordinal: bool = False) -> tuple[str, ...]:
    """The CLDR plural categories of a language, in CLDR order (``other`` always there)."""
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        try:
            locale = Locale.parse(lang.split("-")[0].split("_")[0])
        except (UnknownLocaleError, ValueError):
            return ("one", "other")
    rule = locale.ordinal_form if ordinal else locale.plural_form
    tags = set(rule.tags) | {"other"}
    return tuple(c for c in CATEGORY_ORDER if c in tags)


@lru_cache(maxsize=256)
def examples(lang: str, category: str, ordinal: bool = False) -> tuple[int, ...]:
    """The first integers (up to three) a language puts in a category."""
    from babel import Locale, UnknownLocaleError

    try:
        locale = Locale.parse(lang.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        try:
            locale = Locale.parse(lang.split("-")[0].split("_")[0])
        except (UnknownLocaleError, ValueError):
            return (1,) if category == "one" else (0, 2, 3) if category == "other" else ()
    rule = locale.ordinal_form if ordinal else locale.plural_form
    found = [n for n in list(range(0, 200)) + [1000, 1000000] if rule(n) == category]
    return tuple(found[:3])


def source_category(source_keys: list[str], category: str, source_lang: str, target_lang: str,
                    ordinal: bool, codes_of) -> str:
    """Which source branch a target category is translated from: the same category where the source has it
    and it serves the counts the target's does (English ``one`` is 1 only; Russian ``one`` is 1, 21, 31…,
    which "One file" cannot say), or where its text has the same placeholders as ``other``; else ``other``."""
    if category in source_keys and category != "other":
        serves = set(examples(source_lang, category, ordinal))
        needed = set(examples(target_lang, category, ordinal))
        if needed <= serves or codes_of(category) == codes_of("other"):
            return category
    return "other"


# -- leaves: what the model translates ---------------------------------------------------------------------

@dataclass
class Leaf:
    path: tuple[str, ...]  # branch keys from the outside in, e.g. ("male", "few")
    raw: str  # the branch's ICU text (simple arguments, '#', quotes, the file's own placeholders)
    plural: bool  # inside a plural: '#' is the count
    hint: str = ""


@dataclass
class Plan:
    """A message re-laid for the target language, and where each leaf's translation goes."""

    message: list  # hoisted and re-laid: leaves are Leaf objects in place of text
    leaves: list[Leaf] = field(default_factory=list)


def hoist(message: list) -> list:
    """The same message with the text around its first plural/select moved into every branch."""
    index = next((i for i, p in enumerate(message) if isinstance(p, Select)), None)
    if index is None:
        return message
    before, node, after = message[:index], message[index], message[index + 1:]
    if all(isinstance(p, str) and not p.strip() for p in before + after):
        branches = [(k, hoist(b)) for k, b in node.branches]
        return before + [Select(node.name, node.kind, node.head, branches, node.gap, node.tail, node.key_gap)] + after
    lead = "".join(before) if all(isinstance(p, str) for p in before) else None
    if lead is None:  # a select before this one: hoist that first (the loop above found the first)
        return message
    lead_ws = lead[:len(lead) - len(lead.lstrip())]
    trail_parts = after
    trail_ws = ""
    if trail_parts and isinstance(trail_parts[-1], str):
        last = trail_parts[-1]
        trail_ws = last[len(last.rstrip()):]
        trail_parts = trail_parts[:-1] + ([last.rstrip()] if last.rstrip() else [])
    branches = [(k, hoist(_join([lead.lstrip()] + b + trail_parts))) for k, b in node.branches]
    return [lead_ws] * bool(lead_ws) + [Select(node.name, node.kind, node.head, branches, node.gap, node.tail, node.key_gap)] \
        + [trail_ws] * bool(trail_ws)


def _join(parts: list) -> list:
    out: list = []
    for p in parts:
        if isinstance(p, str) and out and isinstance(out[-1], str):
            out[-1] += p
        elif not (isinstance(p, str) and not p):
            out.append(p)
    return out


def plan(text: str, source_lang: str, target_lang: str, codes_of=None) -> Plan | None:
    """The message laid out for ``target_lang`` with its leaves, or None when ``text`` holds no plural or
    select (IcuError when it is not well-formed, TooComplex past MAX_LEAVES leaves)."""
    message = parse(text)
    if not has_select(message):
        return None
    message = hoist(message)
    result = Plan([])
    result.message = _relay(message, (), False, source_lang, target_lang, result.leaves, [])
    if len(result.leaves) > MAX_LEAVES:
        raise IcuError(f"more than {MAX_LEAVES} branches once laid out for the target language")
    return result


def _relay(message: list, path: tuple, plural: bool, src: str, tgt: str, leaves: list, hints: list) -> list:
    if not has_select(message):
        raw = "".join(message)
        leaf = Leaf(path, raw, plural, " ".join(hints))
        leaves.append(leaf)
        return [leaf]
    out: list = []
    for part in message:
        if not isinstance(part, Select):
            out.append(part)
            continue
        if part.kind == "select":
            branches = [(k, _relay(b, path + (k,), plural, src, tgt, leaves,
                                   hints + [f"This is the '{k}' case of {part.name}."])) for k, b in part.branches]
        else:
            ordinal = part.kind == "selectordinal"
            keys = [k for k, _ in part.branches]
            bodies = dict(part.branches)

            def codes_of(key, bodies=bodies):
                return sorted(_simple_args("".join(p for p in bodies[key] if isinstance(p, str))))

            branches = [(k, _relay(b, path + (k,), True, src, tgt, leaves,
                                   hints + [f"This is the exact case {k[1:]} of {part.name}."]))
                        for k, b in part.branches if k.startswith("=")]
            for cat in categories(tgt, ordinal):
                origin = source_category(keys, cat, src, tgt, ordinal, codes_of)
                counts = ", ".join(map(str, examples(tgt, cat, ordinal))) or "fractions"
                what = "ordinal" if ordinal else "plural"
                branches.append((cat, _relay(bodies[origin], path + (cat,), True, src, tgt, leaves, hints + [
                    f"This is the {what} form '{cat}' of {part.name}, used for counts such as {counts}."])))
        out.append(Select(part.name, part.kind, part.head, branches, part.gap, part.tail, part.key_gap))
    return out


_SIMPLE_ARG = re.compile(r"\{\s*[^\s{},]+\s*(?:,[^{}]*(?:\{[^{}]*\}[^{}]*)*)?\}")


def _simple_args(text: str) -> list[str]:
    return _SIMPLE_ARG.findall(text) + ["#"] * text.count("#")


# What a leaf's ICU text holds that the model must copy: quoted literals, '' (one apostrophe), simple
# arguments, and '#' (the count) inside a plural.
LEAF_CODES = re.compile(r"'[{}#|][^']*(?:''[^']*)*'|''|" + _SIMPLE_ARG.pattern + r"|#")


def render(plan: Plan, translations: dict[tuple, str]) -> str:
    """The message with each leaf's ICU text from ``translations`` (by path); KeyError when one is missing."""
    return _render(plan.message, translations)


def _render(message: list, translations) -> str:
    out = []
    for part in message:
        if isinstance(part, Leaf):
            out.append(translations[part.path])
        elif isinstance(part, Select):
            pieces = []
            for i, (key, body) in enumerate(part.branches):
                pieces.append(("" if i == 0 else part.gap) + f"{key}{part.key_gap}{{{_render(body, translations)}}}")
            out.append(part.head + "".join(pieces) + part.tail + "}")
        else:
            out.append(part)
    return "".join(out)


def escape(text: str, plural: bool) -> str:
    """Plain translated text as ICU message text: braces (and '#' in a plural) quoted, apostrophes that
    would start a quote doubled."""
    special = "{}#|" if plural else "{}|"
    out = []
    for i, ch in enumerate(text):
        if ch == "'":
            nxt = text[i + 1:i + 2]
            out.append("''" if (nxt and nxt in special + "'") or not nxt else "'")
        elif ch in "{}" or (plural and ch == "#"):
            out.append(f"'{ch}'")
        else:
            out.append(ch)
    return "".join(out)


def leaf_text(translation: str, codes: dict[int, Code], plural: bool, keep: set[int] = frozenset()) -> str:
    """A leaf's translation (balanced placeholders) as ICU text: literal codes restored as they were, the
    text between them escaped; placeholders numbered in ``keep`` (a file's own inline elements) stay."""
    out, pos = [], 0
    for m in PLACEHOLDER.finditer(translation):
        out.append(escape(translation[pos:m.start()], plural))
        pos = m.end()
        n = int(m.group(2))
        code = codes.get(n)
        if n in keep or code is None or code.literal is None:
            out.append(m.group(0))
        else:
            out.append(code.literal)
    out.append(escape(translation[pos:], plural))
    return "".join(out)


# -- ICU messages inside a bilingual file's segments (XLIFF) ----------------------------------------------

class Splitter:
    """Cuts the ICU messages among a bilingual file's segments into one segment per branch, and puts the
    branches' translations back together into the whole segment's target once all of them are there.

    Leaf segments carry the whole segment's handle, so notes and states go to the unit as before; the codes
    of the file (``<x id="INTERPOLATION"/>``) stay numbered as in the whole segment."""

    def __init__(self):
        self._leaves: dict[int, tuple] = {}  # id(leaf segment) -> (group, leaf)
        self._groups: list[dict] = []

    def split(self, seg, source_lang: str | None, target_lang: str | None) -> list:
        from bayling_cat.document import PLACEHOLDER as PH, Segment

        if not looks_like_icu(PH.sub("", seg.source)):
            return [seg]
        try:
            laid = plan(seg.source, source_lang or "en", target_lang or source_lang or "en")
        except IcuError as exc:
            seg.skip = seg.skip or f"an ICU message bayling-cat cannot read ({exc}); left alone"
            return [seg]
        if laid is None:
            return [seg]
        group = {"whole": seg, "plan": laid, "done": {}, "copied": True}
        self._groups.append(group)
        existing = _target_branches(seg, target_lang or source_lang or "en")
        out = []
        for leaf in laid.leaves:
            source, codes = _leaf_source(leaf.raw, seg.codes)
            current, tcodes = _leaf_source(existing[leaf.path], seg.codes) if leaf.path in existing else (None, {})
            target = None if seg.target is None else current if current is not None else seg.target
            hint = " ".join(x for x in (seg.hint, leaf.hint) if x)
            part = Segment(key=f"{seg.key}#{'/'.join(leaf.path)}", source=source, codes=codes, target=target,
                           current=current, target_codes=tcodes, skip=seg.skip, notes=seg.notes,
                           handle=seg.handle, hint=hint)
            self._leaves[id(part)] = (group, leaf)
            out.append(part)
        return out

    def is_branch(self, segment) -> bool:
        return id(segment) in self._leaves

    def collect(self, segment, text: str, copied: bool, bucket: str = "done"):
        """(segment, text, copied) to write: the segment itself when it is no ICU branch; the whole segment
        and its message once every branch has its translation; None while branches are missing.
        ``bucket``: "done" for targets, "suggest" for suggestions (collected apart)."""
        found = self._leaves.get(id(segment))
        if found is None:
            return segment, text, copied
        group, leaf = found
        whole = group["whole"]
        done = group.setdefault(bucket, {})
        done[leaf.path] = leaf_text(text, segment.codes, leaf.plural, keep=set(whole.codes))
        group["copied"] = group["copied"] and copied
        if len(done) < len(group["plan"].leaves):
            return None
        message = render(group["plan"], done)
        parse(message)  # never a broken message in a file: a failure fails this file with one line
        return whole, message, group["copied"]

    def incomplete(self) -> list:
        """Whole segments some of whose branches were translated and others not: left as they were."""
        return [g["whole"] for g in self._groups if g["done"] and len(g["done"]) < len(g["plan"].leaves)]


def _leaf_source(raw: str, unit_codes: dict) -> tuple[str, dict]:
    """A branch's text with ICU codes protected; literal codes are numbered after the file's own."""
    from bayling_cat.document import PLACEHOLDER as PH, protect

    codes = dict(unit_codes)
    text = protect(raw, LEAF_CODES, codes)
    used = {int(m.group(2)) for m in PH.finditer(text)}
    return text, {n: c for n, c in codes.items() if n in used}


def _target_branches(seg, target_lang: str) -> dict:
    """The branches of the segment's existing target, by path (its codes renumbered as in the source), so that
    each branch segment has its own existing translation: {} when the target is no ICU message."""
    from bayling_cat.document import align_target

    if seg.current is None:
        return {}
    aligned = align_target(seg)
    if aligned is None:
        return {}
    try:
        laid = plan(aligned, target_lang, target_lang)
    except IcuError:
        return {}
    return {} if laid is None else {leaf.path: leaf.raw for leaf in laid.leaves}
