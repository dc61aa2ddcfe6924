"""Which chat requests are translation requests, and what they ask to translate.

CAT tools that speak the OpenAI protocol ask for translations in a few shapes (Weblate's machinery, OmegaT,
memoQ and Trados plugins). A request recognised here goes through bayling-cat's translation path (BayLing's
own prompt, inline-code protection and repair, glossary constraints, dynamic batching) instead of going raw
to the model; anything else is an ordinary chat turn. The rules, in the order they are tried:

1. **Weblate's JSON form** (Weblate 5.10 and later): the last user message is a JSON object with
   ``source_language``, ``target_language`` and ``strings`` (a list of ``{"source": ...}``); ``glossary`` is
   a list of ``{"source", "target", "flags"}`` or, in older versions, a ``{source: target}`` object. The
   answer is a JSON array with exactly one translation per string.
2. **An instruction that names the languages**, in the system prompt (anywhere) or at the start of the last
   user message: "Translate (the following text) from English to German", "Please translate the following
   text from en to de", "translating text from language 'en' to language 'de'" (Weblate before 5.10),
   "Translate into German" (source: English). Languages are English names or codes.
   The segment is the last user message, or, when the instruction opens it, what follows the instruction
   (after a colon on the same line, or on the next lines), unwrapped from quotes or a code fence. Segments
   joined by Weblate's ``==WEBLATE_PART==`` line are translated one by one and joined the same way; a segment
   that is a JSON array of strings is a batch answered with a JSON array of the same length.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache

from bayling_cat import languages
from bayling_cat.errors import UserError

WEBLATE_SEPARATOR = "\n==WEBLATE_PART==\n"
# placeholders the CAT tools put in segments, kept whole: Weblate's @@PH1@@ and [X12X], printf (%s, %1$d),
# numbered and named braces ({1}, {0}, {name}, {{var}}); XML-like tags are protected by the service itself
PLACEABLES = (r"@@PH\d+@@|\[X\d+X\]|%(?:\d+\$)?[-+#0]*\d*(?:\.\d+)?[sdifuxXeEgGc%@]|\{\{[^{}\s]{1,40}\}\}"
              r"|\{[A-Za-z0-9_.:-]{1,40}\}")
# a glossary block in a system prompt: Weblate before 5.10 ("Use the following glossary during the
# translation:") and OmegaT plugins ("Glossary:"), then one "source<TAB>target" (or " = ", " -> ") a line
GLOSSARY_BLOCK = re.compile(r"(?:Use the following glossary during the translation|Glossary|Terminology)\s*:[ \t]*\n"
                            r"(?P<lines>(?:[^\n]*(?:\t| = | -> | → )[^\n]*(?:\n|$))+)", re.I)
GLOSSARY_ENTRY = re.compile(r"^(?P<source>[^\t]+?)\s*(?:\t| = | -> | → )\s*(?P<target>.+?)\s*$")

# "names": English language names from translate-toolkit, plus the usual ways of naming Chinese variants
_EXTRA_NAMES = {"simplified chinese": "zh-Hans", "chinese simplified": "zh-Hans", "traditional chinese": "zh-Hant",
                "chinese traditional": "zh-Hant", "brazilian portuguese": "pt-BR", "european portuguese": "pt-PT",
                "mandarin": "zh", "farsi": "fa", "persian": "fa", "norwegian": "nb"}
# bare two-letter words that are language codes but more often English words; accepted only quoted or
# in a "from X to Y" slot
_AMBIGUOUS = {"to", "in", "it", "as", "is", "or", "an", "no", "my", "he", "me", "so", "be", "am", "on", "at",
              "by", "of", "if", "we", "us", "la", "da", "ha", "hi"}


class UnknownLanguage(ValueError):
    """A translation request in a known form whose languages cannot be read."""


@dataclass
class TranslationRequest:
    kind: str  # "weblate-json", "weblate-separator", "segment", "segments-json"
    source_lang: str
    target_lang: str
    texts: list[str]
    glossary: list[tuple[str, str, str]] = field(default_factory=list)  # (source, target, kind)

    def answer(self, translations: list[str]) -> str:
        """The assistant's content, in the shape the client parses."""
        if self.kind in ("weblate-json", "segments-json"):
            return json.dumps(translations, ensure_ascii=False)
        if self.kind == "weblate-separator":
            return WEBLATE_SEPARATOR.join(translations)
        return translations[0]


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """English language names -> codes: translate-toolkit's names ("Spanish; Castilian", "Portuguese
    (Brazil)"), then ISO 639's (pycountry) for the languages translate-toolkit does not name."""
    import pycountry
    from translate.lang import data

    found: dict[str, str] = {}

    def add(name: str, code: str) -> None:
        canon = _canonical(code)
        if canon is None:
            return
        for part in name.lower().split(";"):
            part = part.strip()
            if part:
                found.setdefault(part, canon)
                if " (" in part and "_" not in code:
                    found.setdefault(part.split(" (")[0], canon)

    for code, (name, *_rest) in data.languages.items():
        add(name, code)
    for lang in pycountry.languages:
        if hasattr(lang, "alpha_2"):
            add(lang.name, lang.alpha_2)
    found.update(_EXTRA_NAMES)
    return found


@lru_cache(maxsize=1)
def _lang_pattern() -> str:
    names = sorted(_names(), key=len, reverse=True)
    alternation = "|".join(re.escape(n).replace(r"\ ", r"\s+") for n in names)
    return rf"(?:{alternation})(?![\w-])|[A-Za-z]{{2,3}}(?:[-_][A-Za-z0-9]{{2,8}})*(?![\w-])"


def _canonical(code: str) -> str | None:
    try:
        return languages.normalize(code.replace("_", "-"))
    except UserError:
        return None


def language(token: str, slot: bool = False, quoted: bool = False) -> str | None:
    """A language name or code as people write it in prompts -> canonical code, or None."""
    word = " ".join(token.split()).strip("'\"‘’“”").lower()
    if word in _names():
        return _names()[word]
    if re.fullmatch(r"[a-z]{2,3}(?:[-_][a-z0-9]{2,8})*", word):
        if word in _AMBIGUOUS and not (slot or quoted):
            return None
        return _canonical(word)
    return None


def _instruction(text: str, anywhere: bool):
    """(source, target, match end) of the first translation instruction in ``text``, or None."""
    lang = _lang_pattern()
    q = r"['\"‘“]?"
    qe = r"['\"’”]?"
    optional_lang = r"(?:(?:the\s+)?language\s+)?"
    region = r"(?:\s*\([^()\n]{1,40}\))?"  # "English (United States)": the language is enough
    opener = r"(?:^|(?<=[.!?\n]))\s*(?:please\s*,?\s+)?(?:can you\s+|could you\s+)?" if not anywhere else r"\b"
    pattern = re.compile(
        rf"{opener}translat\w*(?P<mid>[^.:;!?]{{0,120}}?)\b(?:in)?to\s+{optional_lang}{q}(?P<tgt>{lang}){qe}{region}",
        re.I)
    for m in pattern.finditer(text):
        tgt_quoted = text[m.start("tgt") - 1:m.start("tgt")] in "'\"‘“" if m.start("tgt") else False
        mid = m.group("mid")
        src = None
        found = re.search(rf"\bfrom\s+{optional_lang}(?P<q>{q})(?P<src>{lang}){qe}{region}\s*(?:(?:language|text)\s*)?$",
                          mid, re.I)
        if found:
            src = language(found.group("src"), slot=True)
            if src is None:
                continue
            tgt = language(m.group("tgt"), slot=True)
        else:
            tgt = language(m.group("tgt"), quoted=tgt_quoted)
            bare = re.fullmatch(rf"\s*{q}(?P<src>{lang}){qe}{region}\s*", mid, re.I)  # "translates English to French"
            named = re.search(rf"\b(?P<src>{lang})\s+(?:text|sentences?|segments?|strings?|content)\b", mid, re.I)
            if bare and language(bare.group("src")):
                src = language(bare.group("src"))
            elif named:
                src = language(named.group("src"))
            elif mid.strip() and not re.fullmatch(
                    r"\s*(?:the\s+)?(?:following\s+|this\s+|these\s+|given\s+|below\s+)*"
                    r"(?:text|sentences?|segments?|strings?|content|phrase|paragraph|source|it|them)?\s*",
                    mid, re.I):
                continue  # "translate <something unusual> into X": not an instruction we can read
            src = src or "en"
        if tgt is None or src is None or src == tgt:
            continue
        return src, tgt, m.end()
    return None


def _unwrap(text: str) -> str:
    stripped = text.strip()
    fence = re.fullmatch(r"```[\w-]*\n(.*?)\n?```", stripped, re.S)
    if fence:
        return fence.group(1)
    for a, b in (('"""', '"""'), ("'''", "'''"), ('"', '"'), ("“", "”"), ("«", "»"), ("「", "」")):
        if len(stripped) > len(a) + len(b) and stripped.startswith(a) and stripped.endswith(b) and \
                a not in stripped[len(a):-len(b)]:
            return stripped[len(a):-len(b)]
    return text


def _after_instruction(text: str, end: int) -> str:
    """What follows an instruction in the same message: the rest of its line after a colon, else the next
    lines (the rest of the instruction's own line is more instruction: "... to German. Keep it short.")."""
    rest = text[end:]
    line, newline, following = rest.partition("\n")
    colon = re.match(r"\s*['\"’”]?\s*[:：]\s*(?P<tail>.*)$", line)
    if colon and colon.group("tail").strip():
        return colon.group("tail") + newline + following
    return following


def _text(content) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text parts can be read here
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) == len(content) and all(isinstance(t, str) for t in parts):
            return "".join(parts)
    return None


def _weblate_json(content: str) -> TranslationRequest | None:
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("strings"), list) or not data["strings"]:
        return None
    texts = [s.get("source") if isinstance(s, dict) else None for s in data["strings"]]
    if any(not isinstance(t, str) for t in texts):
        return None
    # Weblate's codes: pt_BR, zh_Hans, sr@latin (the @variant is Weblate's own)
    codes = [str(data.get(name, "")).split("@")[0] for name in ("source_language", "target_language")]
    src, tgt = (language(c, slot=True) for c in codes)
    if src is None or tgt is None:
        raise UnknownLanguage(f"unsupported language in {codes[0]!r} -> {codes[1]!r}")
    glossary = data.get("glossary") or []
    pairs = glossary.items() if isinstance(glossary, dict) else \
        [(g.get("source"), g.get("target")) for g in glossary if isinstance(g, dict)] if isinstance(glossary, list) \
        else []
    return TranslationRequest("weblate-json", src, tgt, texts, _entries(pairs))


def _entries(pairs) -> list[tuple[str, str, str]]:
    out = []
    for source, target in pairs:
        if isinstance(source, str) and isinstance(target, str) and source.strip() and target.strip():
            kind = "dnt" if source.strip() == target.strip() else "preferred"
            out.append((source.strip(), target.strip(), kind))
    return out


def recognize(messages: list[dict]) -> TranslationRequest | None:
    """The translation request in a chat, or None for an ordinary chat turn. ``messages`` are validated
    OpenAI messages (role and content)."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    if not users or messages[-1]["role"] != "user":
        return None
    last = _text(messages[-1]["content"])
    if last is None:
        return None
    found = _weblate_json(last)
    if found is not None:
        return found
    system = "\n".join(t for m in messages if m["role"] in ("system", "developer")
                       for t in [_text(m["content"])] if t)
    segment = None
    instruction = _instruction(last, anywhere=False)
    if instruction is not None:
        segment = _after_instruction(last, instruction[2]).strip()
    else:
        instruction = _instruction(system, anywhere=True) if system else None
        if instruction is None:
            # an instruction in the conversation's first user turn, segments in the later ones
            first = _text(messages[users[0]]["content"]) if users[0] != len(messages) - 1 else None
            instruction = _instruction(first, anywhere=False) if first else None
        segment = last
    if instruction is None or not segment.strip():
        return None
    src, tgt, _ = instruction
    glossary = []
    for block in GLOSSARY_BLOCK.finditer(system):
        rows = [GLOSSARY_ENTRY.match(line) for line in block.group("lines").splitlines()]
        glossary += _entries((m.group("source"), m.group("target")) for m in rows if m)
    segment = _unwrap(segment)
    if WEBLATE_SEPARATOR in segment:
        return TranslationRequest("weblate-separator", src, tgt, segment.split(WEBLATE_SEPARATOR), glossary)
    batch = _json_strings(segment)
    if batch is not None:
        return TranslationRequest("segments-json", src, tgt, batch, glossary)
    return TranslationRequest("segment", src, tgt, [segment], glossary)


def _json_strings(text: str) -> list[str] | None:
    stripped = text.strip()
    if not stripped.startswith("["):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    if isinstance(data, list) and data and all(isinstance(t, str) for t in data):
        return data
    return None
