"""What every engine shares: decoding options, results and their flags, loop detection, and the part of an
engine that knows prompts but not tokens (translation requests, post-processing, generation limits).

An engine backend (``ctranslate2.py``, ``llamacpp.py``, ``cluster.py``) subclasses ``BaseEngine`` and implements
the token-level calls: ``generate``, ``complete``, ``chat``, ``ban_tokens`` and ``count_tokens``. Everything
above the engines (the pipeline, the revision loop, the server) uses only this interface.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Sequence

from bayling_cat import languages
from bayling_cat.document import FLAG_CHARS, PLACEHOLDER, clean_text
from bayling_cat.templates import Message

# BayLing's released weights are anonymised; its own inference puts the model card back.
ANONYMISED = {
    "[NAME]": "BayLing",
    "[INSTITUTE]": "NLP group of Institute of Computing Technology, Chinese Academy of Sciences (ICT/CAS)",
    "[CREATE_TIME]": "2023",
    "[名字]": "百聆",
    "[机构]": "中国科学院计算技术研究所自然语言处理研究组",
    "[开发时间]": "2023年",
}

# Flags a generation can carry. A flagged result is never silently a translation.
FLAG_REPETITION = "repetition"  # a runaway loop was cut
FLAG_LENGTH = "length-limit"  # stopped by the generation limit, not by an end token
FLAG_EXTRA_TEXT = "extra-text"  # text after the translation of a one-line source was cut
FLAG_EMPTY = "empty"  # nothing generated
FLAG_COMMENTARY = "commentary"  # the model introduced its translation ("Here is the translation: ..."); cut
FLAG_INVALID = "invalid-bytes"  # U+FFFD: the model emitted bytes that are not UTF-8 where a character was lost
BLOCKING_FLAGS = frozenset({FLAG_REPETITION, FLAG_LENGTH, FLAG_EMPTY})  # such output is never written as a translation
# tokens of continuation a predictive completion shows: a few words ahead of the translator, each keystroke
# answered in about as many decode steps (bench/interactive.py); accepted, the next completion goes on from there
CONTINUATION_TOKENS = 6
WORD_TOKENS = 6  # tokens an alternative next word may take to end (one still unfinished then is left out)


@dataclass
class DecodingOptions:
    beam_size: int = 1
    sampling_temperature: float = 0.0  # 0: greedy (or beam search)
    sampling_topk: int = 1
    sampling_topp: float = 1.0
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0
    max_batch_size: int = 16
    # generation limit: length_ratio x source tokens + length_extra, capped by max_new_tokens and the context
    length_ratio: float = 3.0
    length_extra: int = 16
    max_new_tokens: int = 1024
    # batch only prompts of equal length (no padding): a segment's translation then never depends on the
    # other segments it is batched with, so every door (a file, a protocol, the workbench) gives the same one;
    # off (serve --mixed-batches), batches are fuller and faster
    same_length_batches: bool = True

    def ct2_kwargs(self) -> dict:
        kw = dict(beam_size=self.beam_size, repetition_penalty=self.repetition_penalty,
                  no_repeat_ngram_size=self.no_repeat_ngram_size)
        if self.sampling_temperature > 0:
            kw.update(sampling_temperature=self.sampling_temperature,
                      sampling_topk=self.sampling_topk if self.sampling_topk != 1 else 0,
                      sampling_topp=self.sampling_topp, beam_size=1)
        return kw


@dataclass
class Generation:
    """One model answer: the text and what the engine noticed about it."""

    text: str
    flags: list[str] = field(default_factory=list)
    score: float | None = None
    generated_tokens: int = 0
    terms: object = None  # revision.TermReport: what the glossary stage found, when one ran

    @property
    def ok(self) -> bool:
        return not self.flags


@dataclass
class ChatTurn:
    """The model's answer to an ordinary chat turn (not a translation): the text, why it ended ("stop": an end
    token, a stop string or a cut loop; "length": the token limit) and the token counts."""

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int


CJK = re.compile("[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def word_done(text: str, piece: bytes) -> bool:
    """Whether ``text`` (a branch's text so far) is a whole word before a token writing ``piece``: it holds
    something and the token starts with a space or a line break (or is a special token, which writes
    nothing). Chinese, Japanese and Korean text has no spaces: there a word is the first token's characters."""
    if not text.strip():
        return False
    if CJK.search(text):
        return True
    return piece[:1] in (b" ", b"\n", b"\t") or piece == b""


def first_word(text: str) -> str:
    """The first word of ``text`` with the space before it (a CJK branch: its characters)."""
    m = re.match(r"\s*[^\s]+", text)
    if not m or not m.group(0).strip():
        return ""
    word = m.group(0)
    cjk = CJK.search(word)
    return word[:cjk.start() + 1] if cjk and cjk.start() == len(word) - len(word.lstrip()) else word


def whole_word(text: str, ended: bool) -> str:
    """The first word of ``text`` (decoded after the translator's prefix) when it is whole: more follows it
    after a space or a line break, or decoding ``ended`` there (an end token, or a branch stopped where the
    model began another word); a CJK character is a word. Otherwise "" (a word cut by the token limit)."""
    word = first_word(text)
    if word and (ended or text[len(word):][:1].isspace() or CJK.search(word)):
        return word
    return ""


class StopScanner:
    """Streams text deltas while watching for stop strings: text that could still turn out to begin a stop
    string is held back until it cannot."""

    def __init__(self, stop: Sequence[str], on_text=None):
        self.stop = [s for s in stop if s]
        self.on_text = on_text
        self.sent = 0
        self.hold = max((len(s) for s in self.stop), default=1) - 1

    def feed(self, text: str) -> str | None:
        """The full text so far; returns the text cut at a stop string once one appears, else None."""
        cuts = [text.find(s) for s in self.stop if s in text]
        if cuts:
            final = text[:min(cuts)]
            self.flush(final)
            return final
        safe = len(text) - self.hold
        if self.on_text and safe > self.sent:
            self.on_text(text[self.sent:safe])
            self.sent = safe
        return None

    def flush(self, text: str) -> None:
        if self.on_text and len(text) > self.sent:
            self.on_text(text[self.sent:])
        self.sent = max(self.sent, len(text))


def auto_threads() -> int:
    """CPU threads per translation: half the cores. Measured on the 2-core CI machine with the default model:
    one thread per batch translated twice as fast as two (0.15 s against 0.29 s a segment), and the other
    core is free for a second batch (inter_threads) or the rest of the program."""
    return max(1, cpu_cores() // 2)


def cpu_cores() -> int:
    """Cores this process may run on."""
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def find_repetition(ids: Sequence[int], max_unit: int = 40, min_span: int = 16,
                    min_repeats: int = 3) -> tuple[int, int] | None:
    """If ``ids`` ends in a loop (one unit of tokens repeated back to back), return (where to cut, unit length).

    The cut keeps the first occurrence of the unit. A loop is at least ``min_repeats`` copies covering at
    least ``min_span`` tokens; very short units (one or two tokens) need eight copies.
    """
    n = len(ids)
    best = None
    for unit in range(1, min(max_unit, n // min_repeats) + 1):
        tail = ids[n - unit:]
        count, start = 1, n - unit
        while start - unit >= 0 and ids[start - unit:start] == tail:
            count += 1
            start -= unit
        looping = count >= 8 if unit <= 2 else (count >= min_repeats and count * unit >= min_span)
        if looping:
            cut = start + unit
            if best is None or cut < best[0]:
                best = (cut, unit)
    return best


QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u201e": "\u201c", "\u00ab": "\u00bb", "\u300c": "\u300d",
          "\u2018": "\u2019"}


def strip_added_quotes(text: str, source: str) -> str:
    """Remove quotes the model put around the whole translation when the source had none."""
    if len(text) >= 2 and text[0] in QUOTES and text[-1] == QUOTES[text[0]]:
        src = source.strip()
        marks = set(QUOTES) | set(QUOTES.values())
        # a quote the source opens or ends with is the source's own (a Weblate batch splits '"Cancel' / 'Retry"')
        if src[:1] not in marks and src[-1:] not in marks:
            inner = text[1:-1].strip()
            if inner and text[0] not in inner:
                return inner
    return text


def sanitize(text: str, source: str, flags: list[str]) -> str:
    """Model output as text a file can hold: line breaks as line feeds, and no control characters or
    non-characters the source does not have itself (flagged, for a reviewer to look at). A U+FFFD the source
    does not hold (the decoder's mark for bytes that were not UTF-8: a character was lost) stays where it is,
    visible, and the translation is flagged."""
    text = text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text and "\r" not in source else text
    cleaned = clean_text(text, source)
    if cleaned != text and FLAG_CHARS not in flags:
        flags.append(FLAG_CHARS)
    if "\ufffd" in cleaned and "\ufffd" not in source and FLAG_INVALID not in flags:
        flags.append(FLAG_INVALID)
    return cleaned


# What a chat model says before its translation ("The translation of the given German text into English is:",
# "Here is the translation:", "Sure! Translation:", "以下是翻译："). Anchored and bounded: linear on any input.
_PREAMBLE = re.compile(
    r"\s{0,20}(?:(?:sure|okay|ok|certainly|of course)[!,.]?\s{1,5})?"
    r"(?:(?:here\s{1,3}is|here's|below\s{1,3}is|this\s{1,3}is)\s{1,3})?"
    r"(?:the|a|my|an)?\s{0,3}(?:[\w-]{1,30}\s{1,3}){0,2}translation\b[^:\n]{0,160}?:[ \t]{0,20}\n?"
    r"|\s{0,20}(?:以下是|下面是|这是)?[^\n:：]{0,30}的?翻译(?:结果|如下|为|是)?\s{0,3}[:：]\s{0,20}",
    re.I)
_ABOUT_TRANSLATION = re.compile(r"translat|翻译|翻譯|traduc|traduz|übersetz|перев", re.I)


def strip_commentary(text: str, source: str, flags: list[str]) -> str:
    """``text`` without the model's introduction of its translation, flagged ``commentary``; a source that
    itself speaks of translation (a CAT tool's own strings) is never touched."""
    if _ABOUT_TRANSLATION.search(source):
        return text
    m = _PREAMBLE.match(text)
    if not m or not m.group(0).strip():
        return text
    flags.append(FLAG_COMMENTARY)
    rest = text[m.end():].strip()
    if not rest:  # only the introduction: no translation at all
        flags.append(FLAG_EMPTY)
    return rest


def blank_stays_blank(run, texts, *per_text, on_done=None) -> list[Generation]:
    """Call ``run(indices, texts, *per_text, on_done)`` for the texts that hold something and answer each blank
    text with itself: a model asked to translate nothing invents something. ``per_text`` are lists with one
    entry per text (or None); ``on_done(i, generation)`` keeps the caller's numbering."""
    idx = [i for i, t in enumerate(texts) if t.strip()]
    if len(idx) == len(texts):
        return run(idx, list(texts), *per_text, on_done)
    out: list[Generation | None] = [Generation(t) if not t.strip() else None for t in texts]
    if on_done is not None:
        for i, gen in enumerate(out):
            if gen is not None:
                on_done(i, gen)
    if idx:
        inner = (lambda k, gen: on_done(idx[k], gen)) if on_done is not None else None
        picked = [None if values is None else [values[i] for i in idx] for values in per_text]
        for i, gen in zip(idx, run(idx, [texts[i] for i in idx], *picked, inner)):
            out[i] = gen
    return out  # type: ignore[return-value]


class BaseEngine:
    """The engine interface. Attributes every backend sets: ``path`` (the model), ``info`` (its ModelInfo),
    ``template`` (its PromptTemplate), ``decoding`` (DecodingOptions), ``device``, ``compute_type``,
    ``threads`` and ``inter_threads`` (how many calls may run at once).

    Backends implement:
    - ``generate(conversations, source_texts, suppress_sequences=(), progress=None, on_done=None)``: one
      Generation per conversation, flags set (repetition cut, length limit, extra text, empty);
    - ``complete(source, prefix, source_lang, target_lang, alternatives=5)``: (continuation, next words);
    - ``ban_tokens(text)``: the tokens a form is banned as (``banned_sequences`` builds every variant from it);
    - ``count_tokens(text)``;
    - ``chat(messages, max_tokens=None, temperature=None, top_p=None, stop=(), on_text=None)``: an ordinary
      chat turn with the model's own template (see ``ChatTurn``), streamed piece by piece to ``on_text``.

    Optional features, declared here with their defaults (callers read them, never probe with hasattr):
    - ``sessions``: whether ``complete`` and a one-conversation ``generate`` keep the conversation's model
      state under ``session`` (any hashable key: a segment being worked on) and evaluate only what is new on
      the next call. Default False: ``session`` is accepted and ignored. Reused state never changes an
      answer: it gives the tokens a fresh evaluation gives.
    - ``cancel``: a ``threading.Event`` given to ``complete`` or ``generate``; once set, a backend that can
      stops decoding at its next step and raises ``sessions.Cancelled``. Default: checked once, before the
      model runs.
    - ``forget_session(session)``: drop a kept state early (default: nothing to drop).
    """

    sessions = False

    path = None
    info = None
    template = None
    decoding: "DecodingOptions"
    # optional features, declared here with what an engine without them does
    concurrency = 1  # model calls that may run at once (a cluster's actors); the core sends that many chunks
    inter_threads = 1  # batches the engine runs at once (the server's batcher runs that many workers)

    def cancel(self) -> None:
        """Stop the calls running now (Ctrl-C, a client gone); an engine that cannot stop one lets it finish."""

    def close(self) -> None:
        """Release what the engine holds (a cluster's actors, the Ray instance it started)."""

    def status(self) -> dict | None:
        """What /health says about the engine beyond its name (a cluster's actors), or None."""
        return None

    def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None,
                 session=None, cancel=None):
        raise NotImplementedError

    def complete(self, source, prefix, source_lang, target_lang, alternatives=5, session=None, cancel=None):
        raise NotImplementedError

    def forget_session(self, session) -> None:
        """Drop the state kept under ``session`` (an engine without sessions keeps none)."""

    @staticmethod
    def check_cancel(cancel) -> None:
        """Raise ``Cancelled`` when ``cancel`` (a threading.Event or None) is set."""
        if cancel is not None and cancel.is_set():
            from bayling_cat.sessions import Cancelled

            raise Cancelled("a newer request for this segment replaced this one")

    def banned_sequences(self, forms: Sequence[str], keep: Sequence[str] = ()) -> list[list]:
        """Token sequences for words that must never be generated: each form as it would start a word and
        inside a word, capitalised and not. A sequence that begins a word in ``keep`` is left out, so that
        banning "Abo" never bans "Abonnement"."""
        def variants(form):
            out = set()
            for f in {form, form[:1].upper() + form[1:], form[:1].lower() + form[1:]}:
                for text in (f, " " + f):
                    toks = tuple(self.ban_tokens(text))
                    if toks:
                        out.add(toks)
            return out

        kept = set().union(*(variants(k) for k in keep)) if keep else set()
        sequences = []
        for form in forms:
            for seq in sorted(variants(form)):
                if any(k[:len(seq)] == seq for k in kept):
                    continue
                sequences.append(list(seq))
        return sequences

    def ban_tokens(self, text: str) -> list:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        raise NotImplementedError

    def chat(self, messages, max_tokens: int | None = None, temperature: float | None = None,
             top_p: float | None = None, stop: Sequence[str] = (), on_text=None) -> "ChatTurn":
        raise NotImplementedError

    def chat_prompt(self, messages, max_tokens: int | None) -> tuple[list[int], int]:
        """A chat turn's prompt tokens (the model's own template) and how many tokens the answer may take:
        ``max_tokens`` or the decoding limit, within the context left; 0 when the prompt fills it."""
        prompt = self.encode_prompt(self.template.render(messages))
        room = self.info.context_length - len(prompt)
        return prompt, (min(max_tokens or self.decoding.max_new_tokens, room) if room >= 1 else 0)

    def generation_limit(self, source_tokens: int, prompt_tokens: int) -> int:
        d = self.decoding
        limit = min(d.max_new_tokens, int(math.ceil(d.length_ratio * source_tokens)) + d.length_extra)
        room = self.info.context_length - prompt_tokens
        if room < 1:
            return 0
        return max(1, min(limit, room))

    def chat_text(self, text: str) -> str:
        """A chat answer as decoded, made readable: BayLing's anonymised names put back (a chat turn has no source
        that could hold them)."""
        text = text.lstrip()
        if self.info.template.startswith("bayling"):
            for token, value in ANONYMISED.items():
                text = text.replace(token, value)
        return text

    @staticmethod
    def _is_one_line(text: str) -> bool:
        return "\n" not in text.strip()

    def postprocess(self, text: str, source: str, flags: list[str]) -> str:
        """The decoded answer as a translation: line breaks as line feeds, BayLing's anonymised names put back,
        outer space, added quotes and commentary after a one-line translation removed. Characters no file may
        hold are the translation core's to remove (translator.py), once for every engine."""
        if "\r" in text and "\r" not in source:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if self.info.template.startswith("bayling"):
            for token, value in ANONYMISED.items():
                if token in text and token not in source:
                    text = text.replace(token, value)
            if "\\n" in text and "\\n" not in source:
                text = text.replace("\\n", "\n")
        text = text.strip()
        if self.info.template == "fewshot" and "\n\n" in text and "\n\n" not in source.strip():
            # a base model goes on with the next example after a blank line: the translation ends there
            text = text.split("\n\n", 1)[0].strip()
            if FLAG_LENGTH in flags:
                flags.remove(FLAG_LENGTH)
        text = strip_commentary(text, source, flags)
        text = strip_added_quotes(text, source)
        if self._is_one_line(source) and "\n" in text:
            # A one-line source has a one-line translation; what follows is commentary.
            text = text.split("\n", 1)[0].strip()
            flags.append(FLAG_EXTRA_TEXT)
            if FLAG_LENGTH in flags:  # the translation ended at the line break; only the commentary ran long
                flags.remove(FLAG_LENGTH)
        return text

    # -- translation ---------------------------------------------------------------------------------------

    def requests(self, texts: Sequence[str], source_lang: str, target_lang: str,
                 hints: Sequence[str | None] | None = None,
                 terms: Sequence[Sequence[tuple[str, str]]] | None = None,
                 examples: Sequence[Sequence[tuple[str, str]]] | None = None) -> list[list[Message]]:
        """The conversations that ask for each translation: approved examples from the translation memory
        first, as earlier turns (few-shot), then the request itself."""
        src_name, tgt_name = languages.name(source_lang), languages.name(target_lang)
        hints = hints or [None] * len(texts)
        terms = terms or [()] * len(texts)
        examples = examples or [()] * len(texts)
        if self.template.name == "fewshot":
            return self._fewshot_requests(texts, source_lang, target_lang, hints, terms, examples)

        def ask(text, hint=None, term_list=()):
            return Message("user", self.template.translation_request(
                text, src_name, tgt_name, [m.group(0) for m in PLACEHOLDER.finditer(text)], hint, term_list))

        out = []
        for t, hint, term_list, shots in zip(texts, hints, terms, examples):
            turns = []
            for source, target in shots:
                turns += [ask(source), Message("assistant", target)]
            out.append(turns + [ask(t, hint, term_list)])
        return out

    def _fewshot_requests(self, texts, source_lang, target_lang, hints, terms, examples) -> list[list[Message]]:
        """A base model's requests: one few-shot prompt each (fewshot.py), the memory's examples when there are
        any, else the built-in ones; a formality hint picks the formal or informal examples (other hints, and
        DeepL's context, are not something a base model can use: docs/engines.md)."""
        from bayling_cat import fewshot

        out = []
        for text, hint, term_list, shots in zip(texts, hints, terms, examples):
            formality = fewshot.formality_of(hint)
            if formality and not fewshot.supports_formality(target_lang, formality):
                formality = None  # the examples show the one form the language's software uses
            out.append([Message("user", fewshot.FewShotRequest(
                text, source_lang, target_lang, self._prompt_name(source_lang), self._prompt_name(target_lang),
                examples=list(shots), terms=list(term_list), formality=formality, builtin=self.builtin_examples))])
        return out

    @property
    def builtin_examples(self) -> bool:
        """Whether a base model's prompt shows the built-in examples when the memory has none: a model
        ``bayling-cat adapt`` trained learned the task without them (its metadata says so), and is asked as it
        was trained."""
        return bool(self.info.extra.get("builtin_examples", True)) if self.info is not None else True

    @staticmethod
    def _prompt_name(lang: str) -> str:
        """A language's name as a few-shot prompt's line label: 'Chinese', not 'Chinese (China)'."""
        return languages.name(lang).split(" (")[0]

    def with_decoding(self, **changes) -> "BaseEngine":
        """The same loaded model with other decoding options (for a retry)."""
        import copy
        from dataclasses import replace

        clone = copy.copy(self)
        clone.decoding = replace(self.decoding, **changes)
        return clone

    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str, progress=None,
                  hints: Sequence[str | None] | None = None, terms=None, banned: Sequence[str] = (),
                  on_done=None, examples=None) -> list[Generation]:
        """Translate segments in one call; results come back in input order.

        ``progress``, if given, is called with the number of segments each finished batch held; ``hints``
        (one per text, or None) tell the model what it must know beyond the text, e.g. a plural form;
        ``terms`` (one list of (source, target) pairs per text) are glossary terms to use; ``banned`` target
        words are never generated.
        """
        def run(idx, texts, hints, terms, examples, on_done):
            conversations = self.requests(texts, source_lang, target_lang, hints, terms, examples)
            return self.generate(conversations, texts, suppress_sequences=banned, progress=progress, on_done=on_done)

        return blank_stays_blank(run, texts, hints, terms, examples, on_done=on_done)

