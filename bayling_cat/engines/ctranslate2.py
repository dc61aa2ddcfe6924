"""The CTranslate2 engine: the only place that knows CTranslate2 and tokens.

It loads a converted model folder (weights, tokenizer.json, bayling_cat.json) with ``ctranslate2.Generator``
and the ``tokenizers`` library; it never imports torch or transformers.
"""

from __future__ import annotations

import itertools
import re
import weakref
from typing import Sequence

from bayling_cat.engines.base import (CONTINUATION_TOKENS, BaseEngine, ChatTurn, DecodingOptions, FLAG_EMPTY,
                                      FLAG_LENGTH, FLAG_REPETITION, WORD_TOKENS, Generation, StopScanner,
                                      auto_threads, find_repetition, whole_word)
from bayling_cat.errors import ModelError, UserError
from bayling_cat.modelinfo import ModelInfo, check_model_folder
from bayling_cat.templates import Message, PromptTemplate

DEVICES = ("auto", "cpu", "cuda")
COMPUTE_TYPES = ("auto", "default", "int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16",
                 "float16", "bfloat16", "float32")



def resolve_device(device: str) -> str:
    import ctranslate2

    if device not in DEVICES:
        raise UserError(f"unknown device {device!r} (known: {', '.join(DEVICES)})")
    if device == "auto":
        return "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
    if device == "cuda" and ctranslate2.get_cuda_device_count() == 0:
        raise UserError("device cuda asked for, but CTranslate2 sees no CUDA GPU on this machine")
    return device


def resolve_compute_type(compute_type: str, device: str, quantization: str) -> str:
    import ctranslate2

    if compute_type not in COMPUTE_TYPES:
        raise UserError(f"unknown compute type {compute_type!r} (known: {', '.join(COMPUTE_TYPES)})")
    if compute_type != "auto":
        return compute_type
    if device == "cuda":
        supported = ctranslate2.get_supported_compute_types("cuda")
        wanted = "int8_float16" if quantization.startswith("int8") else "float16"
        return wanted if wanted in supported else "default"
    return "default"



class Engine(BaseEngine):
    """A converted model, ready to translate lists of segments."""

    def __init__(self, model_dir, device: str = "auto", device_index: int | list[int] = 0,
                 compute_type: str = "auto", threads: int = 0, inter_threads: int = 1,
                 decoding: DecodingOptions | None = None):
        import ctranslate2
        import tokenizers

        self.path = check_model_folder(model_dir)
        self.info = ModelInfo.read(self.path)
        self.template = PromptTemplate(self.info.template, self.info.chat_template, self.info.bos_token,
                                       self.info.eos_token)
        self.device = resolve_device(device)
        self.compute_type = resolve_compute_type(compute_type, self.device, self.info.quantization)
        self.decoding = decoding or DecodingOptions()
        if threads == 0 and self.device == "cpu":
            threads = auto_threads()
        self.threads, self.inter_threads = threads, inter_threads
        try:
            self.tokenizer = tokenizers.Tokenizer.from_file(str(self.path / "tokenizer.json"))
        except Exception as exc:  # the tokenizers library raises plain Exceptions
            raise ModelError(f"{self.path / 'tokenizer.json'}: unreadable tokenizer ({exc})") from None
        try:
            self.generator = ctranslate2.Generator(
                str(self.path), device=self.device, device_index=device_index, compute_type=self.compute_type,
                intra_threads=threads, inter_threads=inter_threads)
        except (RuntimeError, ValueError) as exc:
            raise ModelError(f"{self.path}: CTranslate2 cannot load this model on {self.device} "
                             f"with compute type {self.compute_type} ({exc})") from None
        self._special = self._special_tokens()
        self._newline_ids: list[int] | None = None
        self._split = re.compile("(" + "|".join(re.escape(t) for t in sorted(self._special, key=len, reverse=True))
                                 + ")") if self._special else None

    # -- tokens -------------------------------------------------------------------------------------------

    def _special_tokens(self) -> dict[str, str]:
        """Special token strings that may appear in rendered prompts, mapped to their token strings."""
        names = set(self.info.end_tokens)
        if self.info.bos_token:
            names.add(self.info.bos_token)
        if self.info.template == "bayling-llama3":
            names.update(("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"))
        special = {}
        for name in names:
            if self.tokenizer.token_to_id(name) is None:
                raise ModelError(f"{self.path}: the tokenizer has no token {name!r} named in {self.info.template!r} "
                                 "metadata")
            special[name] = name
        return special

    def encode_prompt(self, text: str) -> list[str]:
        """Token strings for a rendered prompt, BOS first; each special token string is its single token.

        The tokenizer encodes the whole text, as Hugging Face does. Should it not treat a special string
        as one token (an old tokenizer without it among its added tokens), the text is split on the
        special strings and the pieces encoded one by one.
        """
        tokens: list[str] = []
        if self.info.add_bos and self.info.bos_token:
            tokens.append(self.info.bos_token)
        encoded = self.tokenizer.encode(text, add_special_tokens=False).tokens
        if all(encoded.count(s) == text.count(s) for s in self._special):
            return tokens + encoded
        for piece in self._split.split(text):
            if piece in self._special:
                tokens.append(piece)
            elif piece:
                tokens.extend(self.tokenizer.encode(piece, add_special_tokens=False).tokens)
        return tokens

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    # -- generation ----------------------------------------------------------------------------------------

    def generate(self, conversations: Sequence[Sequence[Message]], source_texts: Sequence[str],
                 suppress_sequences: Sequence[str] = (), progress=None, on_done=None, session=None,
                 cancel=None) -> list[Generation]:
        """Answer each conversation. ``source_texts[i]`` is the text being translated in conversation i:
        it sets the generation limit and decides what counts as a loop or as extra text.

        ``on_done(i, generation)``, if given, is called as soon as answer i is complete, while the rest of its
        batch is still decoding (greedy and sampling only): the server answers short requests early.
        No sessions here (``session`` is ignored); ``cancel`` is checked before the model runs."""
        self.check_cancel(cancel)
        if len(conversations) != len(source_texts):
            raise ValueError("one source text per conversation")
        prompts = [self.encode_prompt(self.template.render(c)) for c in conversations]
        src_lens = [self.count_tokens(s) for s in source_texts]
        one_line = [self._is_one_line(s) for s in source_texts]
        # one-line sources stop at a line break (what follows is commentary), so they batch apart
        order = sorted(range(len(prompts)), key=lambda i: (one_line[i], len(prompts[i]), i))
        results: list[Generation | None] = [None] * len(prompts)
        bs = max(1, self.decoding.max_batch_size)
        suppress = [list(s) if not isinstance(s, str) else self.tokenizer.encode(s, add_special_tokens=False).tokens
                    for s in suppress_sequences if s]
        base_ends = self._end_ids
        batches = []
        for group in (False, True):
            members = [i for i in order if one_line[i] == group]
            # with same_length_batches, only prompts of one length share a batch: padding changes the
            # numbers enough to flip greedy choices, so an answer would depend on the segments batched with it
            runs = [list(run) for _, run in itertools.groupby(members, key=lambda i: len(prompts[i]))] \
                if self.decoding.same_length_batches else [members]
            batches += [run[k:k + bs] for run in runs for k in range(0, len(run), bs)]
        for batch in batches:
            ends = base_ends + (self.newline_ids if one_line[batch[0]] else [])
            # each segment has its own limit, so a result never depends on the batch it fell into
            limits = {i: self.generation_limit(src_lens[i], len(prompts[i])) for i in batch}
            runnable = [i for i in batch if limits[i] > 0]
            for i in batch:
                if limits[i] == 0:
                    results[i] = Generation("", [FLAG_LENGTH])
            if not runnable:
                continue
            callback = None
            if on_done is not None and self.decoding.beam_size == 1:
                callback = self._early(runnable, limits, source_texts, on_done)
            outputs = self.generator.generate_batch(
                [prompts[i] for i in runnable], max_length=max(limits[i] for i in runnable),
                include_prompt_in_result=False, end_token=ends, min_length=1 if one_line[batch[0]] else 0,
                return_scores=True, suppress_sequences=suppress or None, callback=callback,
                **self.decoding.ct2_kwargs())
            for i, out in zip(runnable, outputs):
                ids = out.sequences_ids[0][:limits[i]]
                results[i] = self._finish(ids, out.scores[0] if out.scores else None, limits[i], source_texts[i])
                if on_done is not None and callback is None:
                    on_done(i, results[i])
            if progress is not None:
                progress(len(batch))
        return results  # type: ignore[return-value]

    def _early(self, runnable, limits, source_texts, on_done):
        """A CTranslate2 step callback that hands each answer over as soon as it ends (or reaches its own
        limit, where its decoding also stops) instead of when the whole batch does."""
        tokens: dict[int, list[int]] = {}
        delivered: set[int] = set()
        # CTranslate2 may release this callback in one of its own threads after the call returned; were it to
        # hold the last reference to the engine, the generator would be destroyed there, join its own thread
        # and abort the process (std::system_error). So the callback holds the engine weakly.
        engine = weakref.ref(self)

        def step(result) -> bool:
            i = runnable[result.batch_id]
            got = tokens.setdefault(i, [])
            got.append(result.token_id)
            stop = len(got) >= limits[i]
            if (result.is_last or stop) and i not in delivered:
                delivered.add(i)
                on_done(i, engine()._finish(got[:limits[i]], None, limits[i], source_texts[i]))
            return stop

        return step

    @property
    def _end_ids(self) -> list[int]:
        """The end tokens' ids (read from the metadata each time: a few dictionary look-ups)."""
        return [self.tokenizer.token_to_id(t) for t in self.info.end_tokens]

    @property
    def newline_ids(self) -> list[int]:
        """Tokens that are nothing but line breaks (and spaces): where a one-line translation ends."""
        if self._newline_ids is None:
            marks = ("\n", "Ċ", "<0x0A>")
            found = []
            for token, i in self.tokenizer.get_vocab().items():
                if any(m in token for m in marks) and len(token) <= 12:
                    text = self.tokenizer.decode([i])
                    if "\n" in text and not text.strip():
                        found.append(i)
            self._newline_ids = sorted(found)
        return self._newline_ids

    def _finish(self, ids: list[int], score: float | None, limit: int, source: str) -> Generation:
        flags: list[str] = []
        if ids and ids[-1] in self._end_ids:  # return_end_token is off, but be safe
            ids = ids[:-1]
        loop = find_repetition(ids)
        if loop is not None:
            cut, unit = loop
            looped = " ".join(self.tokenizer.decode(ids[cut - unit:]).split())
            if looped not in " ".join(source.split()):  # a repetition the source has is not a loop
                ids = ids[:cut]
                flags.append(FLAG_REPETITION)
        if FLAG_REPETITION not in flags and len(ids) >= limit:
            flags.append(FLAG_LENGTH)
        text = self.decode_whole(ids)
        text = self.postprocess(text, source, flags)
        if not text.strip():
            flags.append(FLAG_EMPTY)
        return Generation(text, flags, score, len(ids))

    def decode_whole(self, ids: Sequence[int]) -> str:
        """The text of ``ids`` without a broken last character.

        A byte-level or byte-fallback tokenizer spells one character with up to four tokens; a cut (the
        generation limit, a loop cut, a sampling model's stray byte) can fall between them, and the decoder
        then ends the text with U+FFFD. The tokens of that incomplete character are dropped; whatever
        flag the cut set (length-limit) stays for the caller to report.
        """
        ids = list(ids)
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        if not text.endswith("\ufffd"):
            return text
        for drop in range(1, min(4, len(ids)) + 1):
            shorter = self.tokenizer.decode(ids[:-drop], skip_special_tokens=True)
            if not shorter.endswith("\ufffd"):
                return shorter
        return text.rstrip("\ufffd")

    def complete(self, source: str, prefix: str, source_lang: str, target_lang: str,
                 alternatives: int = 5, session=None, cancel=None) -> tuple[str, list[str]]:
        """Interactive-predictive translation: the continuation of ``prefix`` (what the translator has typed),
        and other likely next words, from CTranslate2's forced prefix and ``return_alternatives``.
        CTranslate2 has no prefix cache: every call evaluates the whole prompt (``session`` is ignored), and
        ``cancel`` is checked before the model runs."""
        self.check_cancel(cancel)
        [conversation] = self.requests([source], source_lang, target_lang)
        prompt = self.encode_prompt(self.template.render(conversation))
        prefix_tokens = self.tokenizer.encode(prefix, add_special_tokens=False).tokens if prefix else []
        limit = self.generation_limit(self.count_tokens(source), len(prompt))
        limit = min(max(1, limit - len(prefix_tokens)), CONTINUATION_TOKENS)
        ends = list(self._end_ids)
        if self._is_one_line(source):
            ends += self.newline_ids
        [best] = self.generator.generate_batch([prompt + prefix_tokens], max_length=limit,
                                               include_prompt_in_result=False, end_token=ends)
        words: list[str] = []
        if alternatives > 0:
            # greedy search with return_alternatives: one hypothesis per likely next token (beam search with
            # alternatives crashes CTranslate2 4.8 on CPU; this form does not). With alternatives, max_length
            # counts the prompt too: WORD_TOKENS beyond it, as the llama.cpp engine, and each alternative is cut
            # where its word ends (one that does not end within them is left out)
            [alts] = self.generator.generate_batch([prompt + prefix_tokens],
                                                   max_length=len(prompt) + len(prefix_tokens) + WORD_TOKENS,
                                                   include_prompt_in_result=False, beam_size=1,
                                                   num_hypotheses=alternatives, return_alternatives=True)
        prefix_ids = [self.tokenizer.token_to_id(t) for t in prefix_tokens]
        decoded_prefix = self.tokenizer.decode(prefix_ids)

        def after_prefix(ids):  # never a broken last character (see decode_whole), as in translations
            text = self.decode_whole(prefix_ids + list(ids))
            return text[len(decoded_prefix):] if text.startswith(decoded_prefix) else text

        ids = best.sequences_ids[0]
        loop = find_repetition(ids)
        if loop is not None:
            ids = ids[:loop[0]]
        continuation = after_prefix(ids).split("\n")[0]
        for ids in (alts.sequences_ids if alternatives > 0 else []):
            word = whole_word(after_prefix(ids), len(ids) < WORD_TOKENS)
            if word and word not in words:
                words.append(word)
        return continuation, words

    def chat(self, messages: Sequence[Message], max_tokens: int | None = None, temperature: float | None = None,
             top_p: float | None = None, stop: Sequence[str] = (), on_text=None) -> ChatTurn:
        """An ordinary chat turn with the model's own template, token by token (CTranslate2's
        generate_tokens): ``on_text(delta)`` gets the answer as it grows. Greedy unless a temperature is given;
        a runaway loop is cut like a translation's."""
        prompt, limit = self.chat_prompt(messages, max_tokens)
        if limit < 1:
            return ChatTurn("", "length", len(prompt), 0)
        kwargs = dict(max_length=limit, end_token=self._end_ids, repetition_penalty=self.decoding.repetition_penalty)
        if temperature:
            kwargs.update(sampling_temperature=temperature, sampling_topk=0, sampling_topp=top_p or 1.0)
        scanner = StopScanner(stop, on_text)
        ids: list[int] = []
        text, finish = "", "length"
        ends = set(self._end_ids)
        for step in self.generator.generate_tokens(prompt, **kwargs):
            if step.token_id in ends:
                finish = "stop"
                break
            ids.append(step.token_id)
            if len(ids) % 8 == 0 and find_repetition(ids) is not None:
                ids = ids[:find_repetition(ids)[0]]
                text = self._chat_text(ids)
                finish = "stop"
                break
            text = self._chat_text(ids)
            if text.endswith("\ufffd"):  # a character split across tokens: wait for its last byte
                continue
            cut = scanner.feed(text)
            if cut is not None:
                text, finish = cut, "stop"
                break
        else:
            if len(ids) < limit:
                finish = "stop"
        scanner.flush(text)
        return ChatTurn(text, finish, len(prompt), len(ids))

    def _chat_text(self, ids: list[int]) -> str:
        return self.chat_text(self.tokenizer.decode(ids, skip_special_tokens=True))

    def ban_tokens(self, text: str) -> list[str]:
        """The tokens ``suppress_sequences`` takes for ``text`` (CTranslate2 bans token strings)."""
        return self.tokenizer.encode(text, add_special_tokens=False).tokens

