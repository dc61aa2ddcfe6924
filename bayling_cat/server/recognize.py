"""Which chat requests are translation requests, what they ask to translate, and in which form to answer.

Recognition is driven by ``SHAPES``: the request shapes the real plugins send, each with the plugin, its
versions and the source file it was read from. A request is matched in three steps:

1. **A structured request** in the last user message: Weblate's JSON payload (``source_language``,
   ``target_language``, ``strings``, ``glossary``), whose languages it carries itself.
2. **An instruction naming the languages**: at the start of the last user message, in the system prompt, or
   in the conversation's first user turn (plugins that send examples as earlier turns). Instructions are
   read in English, Chinese and Japanese (the languages the plugins' own prompts and UIs ship), language names
   and codes are mapped to BCP 47 by ``bayling_cat.langnames`` (langcodes), and a source language may be
   named outside a "from X" slot ("the following English text", "a sentence in FR", "下面的英语文本"). A
   request that names no source language has it detected from the text (``bayling_cat.langid``).
3. **The segment and its form**: the last user message (or what follows the instruction in it), passed on
   byte for byte: quotes, code fences, leading and trailing space are the segment's own. A segment may be a
   batch: Weblate's separator lines, a JSON array of strings, memoQ Multi-Supplier's ``{"1": ..., "2": ...}``
   object or its ``{"texts": [{"id", "text"}]}`` list; the answer has the same form and count.

The plugin itself (``TranslationRequest.shape``) is recognised by a phrase of its prompt that only it sends;
what is recognised is reported in the response's ``bayling_cat`` field.

**Bounded work.** Every regular expression here runs either on text of bounded length (a window of at most
``WINDOW`` characters around one of at most ``MAX_TRIGGERS`` trigger words, the first ``HEAD`` characters of
a message, one glossary line) or is a plain alternation of literals without nested repetition. Whole
messages are only scanned with ``str`` methods, ``json.loads`` (its recursion refused) and that alternation,
so recognition is linear in the size of the request (``tests/test_recognize.py`` checks it on 10^5-character
inputs built from each pattern's own metacharacters).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from bayling_cat import langnames

WEBLATE_SEPARATOR = "\n==WEBLATE_PART==\n"
# placeholders the CAT tools put in segments, kept whole: Weblate's @@PH1@@ and [X12X], TradosLLM's [[1]],
# printf (%s, %1$d), numbered and named braces ({1}, {0}, {name}, {{var}}); XML-like tags (memoQ's
# <inline_tag id="0">, OmegaT's <f0>, </b1>, <x2/>) are protected by the service itself
PLACEABLES = (r"@@PH\d{1,9}@@|\[X\d{1,9}X\]|\[\[\d{1,9}\]\]|%(?:\d{1,3}\$)?[-+#0]{0,4}\d{0,3}(?:\.\d{1,3})?"
              r"[sdifuxXeEgGc%@]|\{\{[^{}\s]{1,40}\}\}|\{[A-Za-z0-9_.:-]{1,40}\}")
HEAD = 600  # characters of the last user message an opening instruction is looked for in
WINDOW = 400  # characters after a trigger word an instruction is read in (and 160 before it)
MAX_TRIGGERS = 24  # trigger words looked at in one message
MAX_PROMPT_LINES = 4  # lines of more instruction ending in a colon skipped before a segment
# a source language detected from a request's own text is used only this sure (one-word UI strings are often
# guessed wrong: "Hello" is Breton to the identifier); below it, English, the source of most CAT projects
DETECT_CONFIDENCE = 0.4
# words that start (or end, in Chinese) every instruction we read: a plain alternation, linear to scan
TRIGGER = re.compile(r"translat|翻译|翻譯|译成|譯成|翻訳", re.I)
CJK_TRIGGERS = ("翻译", "翻譯", "译成", "譯成", "翻訳")  # the language names come before these


@dataclass(frozen=True)
class Shape:
    """A request shape a real plugin sends: where it came from, and how to answer it."""

    id: str
    plugin: str
    versions: str
    source: str  # the file the shape was read from
    answer: str  # segment, separator, json-array, json-object, json-texts
    signature: str = ""  # a phrase only this plugin's prompt holds ("" for the generic shapes)
    where: str = "system"  # the message the signature is in: the system prompt or the last user message


SHAPES = (
    Shape("weblate-json", "Weblate, OpenAI / Azure OpenAI / Ollama / Anthropic / LLM machinery", "5.10 and later",
          "weblate/machinery/llm.py (PROMPT, _build_message, _get_glossary_entry)", "json-array"),
    Shape("weblate-separator", "Weblate, OpenAI machinery", "5.3 to 5.9",
          "weblate/machinery/openai.py (PROMPT, SEPARATOR, SEPARATOR_PROMPT, GLOSSARY_PROMPT)", "separator",
          "You are a highly skilled translation assistant, adept at translating text"),
    Shape("memoq-multi-supplier-batch", "memoQ Multi-Supplier MT Plugin (OpenAI-compatible provider), batch",
          "1.x", "MultiSupplierMTPlugin/Helpers/BatchTranslateHelper.cs, ProvidersCommon/Options/LLM/"
          "LLMCommonSettings.cs (BathTranslateUserPrompt)", "json-object",
          "Return a valid JSON object with the same keys", "user"),
    Shape("memoq-multi-supplier", "memoQ Multi-Supplier MT Plugin (OpenAI-compatible provider)", "1.x",
          "MultiSupplierMTPlugin/ProvidersCommon/Options/LLM/LLMCommonSettings.cs (PromptTemplate.GetDefault)",
          "segment", "You are a professional translator using CAT tools."),
    Shape("tradosllm", "TradosLLM (Trados Studio), OpenAI-compatible engine", "1.x",
          "TradosToolkit/TranslationProvider/Engines/OpenAiCompatEngine.cs (TranslateOneAsync)", "segment",
          "You are a translation engine, NOT a chat assistant."),
    Shape("omegat-openai-translate", "OpenAI Translate plugin for OmegaT (ychoi-kr)", "0.3 to 0.5",
          "src/kr/ychoi/otplugin/OpenAITranslate.java (BASE_PROMPT, createSystemPrompt)", "segment",
          "You are a translation tool integrated in a CAT (Computer-Assisted Translation) tool."),
    Shape("omegat-openaitrans", "OmegaT OpenAI Translation Plugin (inertia42)", "1.x",
          "src/main/java/xyz/inerita/machinetranslators/openaitrans/OpenaiTranslate.java (defaultPrompt)",
          "segment", "Please translate the following text from "),
    Shape("omegat-llm-translate", "LLM Translate (ai4j) plugin for OmegaT (shutaozhenzhen)", "1.x",
          "src/main/java/com/thebook/llmtranslate/config/PluginConfig.java (DEFAULT_SYSTEM_PROMPT, "
          "DEFAULT_USER_PROMPT)", "segment", "Preserve any tags in the text. Return ONLY the translation"),
    Shape("segments-json", "any plugin sending a JSON array of strings", "", "", "json-array"),
    Shape("segment", "any prompt naming the languages", "", "", "segment"),
)
_BY_ID = {s.id: s for s in SHAPES}


class UnknownLanguage(ValueError):
    """A translation request in a known form whose languages cannot be read."""


@dataclass
class TranslationRequest:
    kind: str  # the answer's form: segment, separator, json-array, json-object, json-texts
    source_lang: str
    target_lang: str
    texts: list[str]
    glossary: list[tuple[str, str, str]] = field(default_factory=list)  # (source, target, kind)
    shape: str = "segment"
    keys: list = field(default_factory=list)  # the batch's own keys ("1", "2" or ids), for json-object/texts
    source_detected: bool = False

    def answer(self, translations: list[str]) -> str:
        """The assistant's content, in the shape the client parses."""
        if self.kind == "json-array":
            return json.dumps(translations, ensure_ascii=False)
        if self.kind == "json-object":
            return json.dumps(dict(zip(self.keys, translations)), ensure_ascii=False)
        if self.kind == "json-texts":
            return json.dumps({"texts": [{"id": k, "text": t} for k, t in zip(self.keys, translations)]},
                              ensure_ascii=False)
        if self.kind == "separator":
            return WEBLATE_SEPARATOR.join(translations)
        return translations[0]

    def describe(self) -> dict:
        """What was recognised, for the response's ``bayling_cat`` field: the shape (its id in SHAPES), the
        plugin it belongs to, the answer's form, the languages and whether the source was detected."""
        shape = _BY_ID.get(self.shape)
        return {"recognized": self.shape, "form": self.kind, "plugin": shape.plugin if shape else None,
                "source_lang": self.source_lang, "target_lang": self.target_lang,
                "source_detected": self.source_detected, "segments": len(self.texts)}


# -- JSON, never recursing past the parser's limit -------------------------------------------------------------

def loads(text: str):
    """``json.loads`` or None: a body of 100,000 '[' is not valid JSON here, not a RecursionError."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


# -- the instruction -------------------------------------------------------------------------------------------

_Q = "['\"‘“「]?"
_QE = "['\"’”」]?"
# a language as written in a prompt: a code (en, pt-BR, zh_Hans, EN-US), up to three capitalised or
# lower-case words with an optional parenthesised qualifier (Chinese (Traditional), German (Switzerland)),
# or a run of CJK characters ending in 语/文/語 (英语, 简体中文); each is checked by langnames afterwards
_LANG = (r"(?:[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}(?![\w-])"
         r"|[^\W\d_][\w'-]{1,30}(?:\s(?-i:[A-Z])[\w'-]{1,30}){0,2}(?:\s?\([^()\n]{1,40}\))?"
         r"|[\u3400-\u9fff]{1,8}?[语文語])")
_LANGWORD = r"(?:(?:the\s+)?language\s+)?"
_EN_FROM_TO = re.compile(
    rf"translat\w*\b(?P<mid>[^\n.!?:;]{{0,160}}?)\s*(?:\bfrom\s+{_LANGWORD}{_Q}(?P<src>{_LANG}){_QE})"
    rf"(?P<mid2>[\s\S]{{0,60}}?)\b(?:in)?to\s+{_LANGWORD}{_Q}(?P<tgt>{_LANG}){_QE}", re.I)
_EN_TO = re.compile(
    rf"translat\w*\b(?P<mid>[^\n.!?:;]{{0,160}}?)\b(?:in)?to\s+{_LANGWORD}{_Q}(?P<tgt>{_LANG}){_QE}", re.I)
# the source named elsewhere: "the following English text", "a sentence in FR", "Spanish to English"
_EN_NAMED = re.compile(rf"(?:\bin\s+{_Q}(?P<in>{_LANG}){_QE}|(?P<named>{_LANG})\s+(?:text|sentences?|segments?|"
                       r"strings?|content|phrases?|words?|paragraphs?|source))\b", re.I)
_ZH = re.compile(rf"(?:从{_Q}(?P<src>{_LANG}){_QE})?(?P<mid>[^\n。！？]{{0,40}}?)(?:翻译|翻譯|译|譯|翻訳)(?:成|为|為|到|至)?"
                 rf"{_Q}(?P<tgt>{_LANG}){_QE}")
# Japanese: "英語から日本語に翻訳してください", "日本語に翻訳して"
_JA = re.compile(rf"(?:{_Q}(?P<src>{_LANG}){_QE}から)?{_Q}(?P<tgt>{_LANG}){_QE}に翻訳")
_ZH_FROM = re.compile(rf"从{_Q}(?P<src>{_LANG}){_QE}$")
_ZH_NAMED = re.compile(rf"(?P<named>{_LANG})(?:文本|句子|内容|文字|段落|原文|字符串)")
# a bare "translate <something else> into X" is read only when the middle is one of these
_PLAIN_MIDDLE = re.compile(r"\s*(?:(?:the|this|these|following|given|below|above|my|user's|user|"
                           r"text|sentences?|segments?|strings?|content|phrases?|paragraphs?|source|it|them|"
                           r"JSON|input|message|provided|all|each|of|from|a|an)\b\s*)*", re.I)
# short codes that are English words: a language only in a "from X to Y" slot or in quotes
_ISO3 = {"eng", "deu", "ger", "fra", "fre", "spa", "ita", "por", "rus", "jpn", "kor", "zho", "chi", "ara", "nld",
         "dut", "pol", "tur", "ces", "cze", "swe", "ukr", "vie", "ind", "heb", "nob", "nno", "cat", "tlh"}
_AMBIGUOUS = {"to", "in", "it", "as", "is", "or", "an", "no", "my", "he", "me", "so", "be", "am", "on", "at",
              "by", "of", "if", "we", "us", "la", "da", "ha", "hi", "the", "and", "for", "all", "any", "can",
              "per", "was", "are", "you", "one", "new", "use", "see", "set", "run"}


def language(token: str, slot: bool = False) -> str | None:
    """A language name or code as people write it in prompts -> canonical code, or None."""
    word = " ".join(token.split()).strip("'\"‘’“”「」")
    if not word:
        return None
    if not slot and (word.lower() in _AMBIGUOUS or (re.fullmatch(r"[A-Za-z]{3}", word) and
                                                   word.lower() not in _ISO3)):
        return None  # "the", "API": three-letter codes of small languages, but words or acronyms first
    found = langnames.canonical(word)
    if found is None and len(word) <= 40 and re.fullmatch(r"[\u3040-\u30ff\u3400-\u9fff]+", word):
        for start in range(1, len(word) - 1):  # "下面的英语" -> "英语": a CJK run may hold words before the name
            found = langnames.canonical(word[start:])
            if found:
                break
    if found is None and " " in word and "(" not in word:  # "following Spanish", "German language"
        found = next((f for f in map(language, reversed(word.split(" "))) if f), None)
    return found


def _looks_like_code(token: str) -> bool:
    return bool(re.fullmatch(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,3}", token.strip("'\"‘’“”")))


def _target(token: str, slot: bool) -> str | None:
    """The target language; a well-formed code no one knows (xx-YY) is the client's error, not a chat."""
    found = language(token, slot=slot)
    if found is None and _looks_like_code(token) and (slot or "-" in token or "_" in token) and \
            token.strip("'\"").lower() not in _AMBIGUOUS:
        raise UnknownLanguage(f"unsupported language {token.strip()!r} in the translation instruction")
    return found


def _windows(text: str, opening: bool):
    """(offset, window) pairs to read an instruction in: the start of the text, or around trigger words."""
    if opening:
        yield 0, text[:HEAD]
        return
    for n, m in enumerate(TRIGGER.finditer(text)):
        if n >= MAX_TRIGGERS:
            return
        start = max(0, m.start() - (160 if m.group(0) in CJK_TRIGGERS else 0))
        yield start, text[start:m.start() + WINDOW]


def _english(window: str, opening: bool):
    start = re.match(r"\s*(?:please\s*,?\s+)?(?:(?:can|could|would)\s+you\s+)?(?=translat)", window, re.I)
    if start is None:
        return None
    found = _EN_FROM_TO.match(window, start.end())
    if found and "\n\n" not in found.group("mid2"):
        src, tgt = language(found.group("src"), slot=True), _target(found.group("tgt"), slot=True)
        if src and tgt:
            return src, tgt, found.end()
    found = _EN_TO.match(window, start.end())
    if not found:
        return None
    tgt = _target(found.group("tgt"), slot=False)
    if tgt is None:
        return None
    mid, src = found.group("mid"), None
    named = _EN_NAMED.search(mid)
    if named:
        src = language(named.group("in") or named.group("named"), slot=bool(named.group("in")))
    bare = re.fullmatch(rf"\s*{_Q}(?P<src>{_LANG}){_QE}\s*", mid)
    if src is None and bare:
        src = language(bare.group("src"))
    if src is None and not _PLAIN_MIDDLE.fullmatch(mid[:160]):
        return None  # "translate <something unusual> into X": not an instruction we can read
    return src, tgt, found.end()


def _chinese(window: str, opening: bool):
    found = _ZH.search(window)
    if not found or (opening and found.start() > 80):
        return None
    tgt = _target(found.group("tgt"), slot=False)  # "请翻译 API 文档" names no language
    if tgt is None:
        return None
    src = language(found.group("src"), slot=True) if found.group("src") else None
    mid = found.group("mid") or ""
    inner = _ZH_FROM.search(mid)
    if src is None and inner:
        src = language(inner.group("src"), slot=True)
    if src is None:
        named = _ZH_NAMED.search(mid)
        src = language(named.group("named")) if named else None
    return src, tgt, found.end()


def _japanese(window: str, opening: bool):
    found = _JA.search(window)
    if not found or (opening and found.start() > 80):
        return None
    tgt = _target(found.group("tgt"), slot=False)
    src = language(found.group("src"), slot=True) if found.group("src") else None
    return (src, tgt, _end_of_sentence(window, found.end())) if tgt else None


def _end_of_sentence(window: str, end: int) -> int:
    """The end of a Japanese instruction's sentence ("...に翻訳してください。"): up to its full stop or colon."""
    stop = re.compile(r"[。．：:！\n]").search(window, end, end + 40)
    if stop is None:
        return end
    return stop.start() if window[stop.start()] in "：:" else stop.end()


def instruction(text: str, opening: bool):
    """(source or None, target, end of the instruction) of the first translation instruction in ``text``
    (``opening``: only one that starts it), or None."""
    for offset, window in _windows(text, opening):
        for reader in (_english, _chinese, _japanese):
            found = reader(window, opening)
            if found and found[0] != found[1]:
                return found[0], found[1], offset + found[2]
    return None


# -- the segment -----------------------------------------------------------------------------------------------

def _after_instruction(text: str, end: int) -> str:
    """What follows an instruction in the same message, byte for byte: the rest of its line after a colon (the
    spaces and line breaks right after the colon are the prompt's), else the lines after it; up to
    MAX_PROMPT_LINES lines of more instruction that end with a colon ("Return a valid JSON object ...:") are
    the prompt's too."""
    rest = text[end:]
    line_end = rest.find("\n")
    line = rest if line_end < 0 else rest[:line_end]
    colon = re.match(r"[ \t]*['\"’”」]?[ \t]*[:：][ \t]*", line[:40])
    if colon:
        tail = rest[colon.end():]
        return tail.lstrip("\r\n") if tail[:1] in ("\r", "\n") else tail
    if line_end < 0:
        return ""
    start = end + line_end + 1
    for _ in range(MAX_PROMPT_LINES):  # at most a few lines of more instruction, each found by position
        while text[start:start + 1] in ("\r", "\n") and start < len(text):
            start += 1
        stop = text.find("\n", start, start + 300)
        if stop < 0 or not text[start:stop].rstrip().endswith((":", "：")):
            break
        start = stop + 1
    return text[start:]


def _batch(segment: str):
    """A segment that is a batch: (answer form, texts, keys), or None."""
    stripped = segment.strip()
    if not stripped[:1] in ("[", "{"):
        return None
    data = loads(stripped)
    if isinstance(data, list) and data and all(isinstance(t, str) for t in data):
        return "json-array", data, []
    if isinstance(data, dict) and data and all(re.fullmatch(r"\d{1,6}", str(k)) for k in data) and \
            all(isinstance(v, str) for v in data.values()):
        return "json-object", list(data.values()), list(data)
    texts = data.get("texts") if isinstance(data, dict) and len(data) == 1 else None
    if isinstance(texts, list) and texts and all(isinstance(t, dict) and isinstance(t.get("text"), str) and
                                                 isinstance(t.get("id"), int) for t in texts):
        return "json-texts", [t["text"] for t in texts], [t["id"] for t in texts]
    return None


# -- glossaries ------------------------------------------------------------------------------------------------

_GLOSSARY_HEADERS = ("use the following glossary during the translation:", "glossary:", "terminology:", "术语表：",
                     "术语表:", "术语：", "术语:")


def glossary_lines(system: str) -> list[tuple[str, str, str]]:
    """Glossary entries in a system prompt: a header line (Weblate before 5.10: "Use the following glossary
    during the translation:"; OmegaT plugins: "Glossary:"), then one entry a line until the first line that is
    not one: ``source<TAB>target`` (Weblate, the ychoi-kr OmegaT plugin), ``source = target``,
    ``source -> target``, or ``src: source, loc: target, comment: ...`` (OmegaT plugins' glossary lines)."""
    out, reading = [], False
    for line in system.splitlines():
        if not reading:
            reading = line.strip().lower() in _GLOSSARY_HEADERS
            continue
        entry = _glossary_entry(line)
        if entry is None:
            reading = line.strip().lower() in _GLOSSARY_HEADERS
            continue
        out.append(entry)
    return _entries(out)


def _glossary_entry(line: str):
    if len(line) > 1000 or not line.strip():
        return None
    omegat = re.match(r"\s*src:\s*(?P<s>.+?),\s*loc:\s*(?P<t>.+?)(?:,\s*comment:.*)?$", line, re.I)
    if omegat:
        return omegat.group("s"), omegat.group("t")
    for separator in ("\t", " = ", " -> ", " → "):
        if separator in line:
            source, target = line.split(separator, 1)
            return source, target.split("\t", 1)[0]
    return None


def _entries(pairs, forbidden=()) -> list[tuple[str, str, str]]:
    out = []
    for n, (source, target) in enumerate(pairs):
        if isinstance(source, str) and isinstance(target, str) and source.strip() and target.strip():
            kind = "forbidden" if n in forbidden else "dnt" if source.strip() == target.strip() else "preferred"
            out.append((source.strip(), target.strip(), kind))
    return out


# -- the request -----------------------------------------------------------------------------------------------

def _text(content) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text parts can be read here
        parts = [p.get("text") for p in content if isinstance(p, dict) and p.get("type") == "text"]
        if len(parts) == len(content) and all(isinstance(t, str) for t in parts):
            return "".join(parts)
    return None


def _weblate_json(content: str) -> TranslationRequest | None:
    if not content.lstrip().startswith("{"):
        return None
    data = loads(content)
    if not isinstance(data, dict) or not isinstance(data.get("strings"), list) or not data["strings"] or \
            "source_language" not in data:
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
    if isinstance(glossary, dict):  # Weblate 5.10 to 5.12: {source: target}
        pairs, forbidden = list(glossary.items()), ()
    else:  # 5.13 and later: [{"source", "target", "flags"}]; a "forbidden" term must not be used
        items = [g for g in glossary if isinstance(g, dict)] if isinstance(glossary, list) else []
        pairs = [(g.get("source"), g.get("target")) for g in items]
        forbidden = {i for i, g in enumerate(items) if "forbidden" in (g.get("flags") or [])}
    return TranslationRequest("json-array", src, tgt, texts, _entries(pairs, forbidden), shape="weblate-json")


def _signature(system: str, last: str) -> str | None:
    for shape in SHAPES:
        if shape.signature and shape.signature in (system if shape.where == "system" else last):
            return shape.id
    return None


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
    system = "\n".join(t for m in messages if m["role"] in ("system", "developer") for t in [_text(m["content"])] if t)
    said = instruction(last, opening=True)
    if said is not None:
        segment = _after_instruction(last, said[2])
    else:
        said = instruction(system, opening=False) if system else None
        if said is None and users[0] != len(messages) - 1:
            # an instruction in the conversation's first user turn, segments in the later ones
            first = _text(messages[users[0]]["content"])
            said = instruction(first, opening=True) if first else None
        segment = last
    if said is None:
        return None
    src, tgt, _ = said
    glossary = glossary_lines(system)
    shape = _signature(system, last) or "segment"
    if WEBLATE_SEPARATOR in segment:
        kind, texts, keys = "separator", segment.split(WEBLATE_SEPARATOR), []
        shape = "weblate-separator"
    else:
        kind, texts, keys = _batch(segment) or ("segment", [segment], [])
        if kind == "json-array" and shape == "segment":
            shape = "segments-json"
    detected = src is None
    if src is None:
        src = detect_source(texts, tgt)
    return TranslationRequest(kind, src, tgt, texts, glossary, shape=shape, keys=keys, source_detected=detected)


def detect_source(texts: list[str], target: str) -> str:
    """The source language of a request that names none: detected from its text; English when the text says
    nothing (no letters) or looks like the target language itself."""
    from bayling_cat import langid

    base = target.split("-")[0]
    for code, confidence in langid.ranked("\n".join(texts), 3):
        if code.split("-")[0] != base and confidence >= DETECT_CONFIDENCE:
            return code
    return "en" if base != "en" else "de"
