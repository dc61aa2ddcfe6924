"""How every protocol and the workbench reach the translation core: one ``Translator`` over the batched
engine, the server's memory and the glossaries a request names, and markup in request texts (HTML or XML
tags, a plugin's placeholders) turned into the inline codes a file's segment would have.
"""

from __future__ import annotations

import re
import threading

from bayling_cat.document import PLACEHOLDER, Code
from bayling_cat.glossary import Glossary
from bayling_cat.translator import CoreOptions, Request, Translation, Translator

# markup in a request's text: elements (their start, end and empty tags), entities and OmegaT's own tags
TAGS = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>|&[A-Za-z]+;|&#\d+;|</?\d+/?>")
_START = re.compile(r"<([A-Za-z][\w:.-]*)(?:\s[^<>]*)?>\Z")  # a start tag (not an empty one)
_END = re.compile(r"</([A-Za-z][\w:.-]*)\s*>\Z")


class Settings:
    """What the server's translations share beyond the engine: the one memory of every door (protocols and
    workbench; an open one, or a location opened when first needed, so that a server nobody translates on
    leaves no file) and how similar a memory match must be to be shown or given to the model."""

    def __init__(self, memory=None, fuzzy_threshold: int = 75, location=None):
        self._memory, self.location, self.fuzzy_threshold = memory, location, fuzzy_threshold
        self._lock = threading.Lock()

    @property
    def memory(self):
        with self._lock:
            if self._memory is None and self.location is not None:
                from bayling_cat.memory import open_memory

                self._memory = open_memory(self.location)
        return self._memory


def translator(service, settings: Settings, max_revisions: int = 2, term_strategy: str = "none") -> Translator:
    """The core for one request: the batched engine, the server's memory, the request's options."""
    return Translator(service.engine, settings.memory, CoreOptions(
        model_id=service.model_name, max_revisions=max_revisions, term_strategy=term_strategy,
        fuzzy_threshold=settings.fuzzy_threshold))


def protect_markup(text: str, pattern: re.Pattern) -> tuple[str, dict[int, Code]]:
    """``text`` with each match of ``pattern`` as a placeholder the model copies: a start tag and its own end
    tag become a pair (``<1>Save</1>``, as a file's inline code would be), anything else a standalone code
    (``<2/>``). Placeholder-like text the request already holds is protected too, so nothing is taken for a
    code it is not."""
    found = [m for m in pattern.finditer(text) if m.group(0)]
    found += [m for m in PLACEHOLDER.finditer(text) if not any(f.start() <= m.start() < f.end() for f in found)]
    found.sort(key=lambda m: m.start())
    partner = _pairs([m.group(0) for m in found])
    codes: dict[int, Code] = {}
    numbers: dict[int, int] = {}
    parts, pos = [], 0
    for i, m in enumerate(found):
        parts.append(text[pos:m.start()])
        pos = m.end()
        if i in partner and partner[i] < i:  # the end tag of a pair
            parts.append(f"</{numbers[partner[i]]}>")
            continue
        n = len(codes) + 1
        numbers[i] = n
        paired = i in partner
        codes[n] = Code(n, None, paired=paired, can_delete=False, literal=m.group(0),
                        literal_end=found[partner[i]].group(0) if paired else None)
        parts.append(f"<{n}>" if paired else f"<{n}/>")
    parts.append(text[pos:])
    return "".join(parts), codes


def _pairs(tags: list[str]) -> dict[int, int]:
    """Which start tag closes at which end tag (by name, properly nested); both ways round."""
    pairs: dict[int, int] = {}
    stack: list[tuple[str, int]] = []
    for i, tag in enumerate(tags):
        start, end = _START.match(tag), _END.match(tag)
        if start and not tag.endswith("/>"):
            stack.append((start.group(1), i))
        elif end:
            for depth in range(len(stack) - 1, -1, -1):
                if stack[depth][0] == end.group(1):
                    pairs[stack[depth][1]] = i
                    pairs[i] = stack[depth][1]
                    del stack[depth:]
                    break
    return pairs


def restore_markup(text: str, codes: dict[int, Code]) -> str:
    """Placeholders back to the request's own markup (a repaired text holds only known, balanced ones)."""
    def put(m):
        code = codes.get(int(m.group(2)))
        if code is None:
            return ""
        return code.literal_end if m.group(1) == "/" else code.literal

    return PLACEHOLDER.sub(put, text)


def translate_marked(core: Translator, texts, source_lang: str, target_lang: str, glossary: Glossary | None = None,
                     pattern: re.Pattern | None = TAGS, hints=None) -> list[Translation]:
    """Texts that may hold markup, translated by the core with the markup as inline codes; each result's text
    has the markup back as it was sent."""
    prepared = [protect_markup(t, pattern) if pattern is not None else (t, {}) for t in texts]
    hints = hints or [None] * len(texts)
    out = core.translate([Request(p, codes, h) for (p, codes), h in zip(prepared, hints)], source_lang,
                         target_lang, glossary)
    for result, (_, codes) in zip(out, prepared):
        result.text = restore_markup(result.text, codes)
    return out
