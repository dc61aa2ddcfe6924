"""Model access for the server: the engine behind a batcher. Every protocol and the workbench translate
through the translation core (translating.py) on ``Service.engine``, a view of the engine whose model calls
wait a moment to be batched with the other requests' (batching.py); completions and chat turns go to the
engine as they are. Glossaries, conversations and jobs are objects of their own (glossaries.py,
conversations.py, jobs.py).
"""

from __future__ import annotations

import threading
from dataclasses import astuple, fields
from pathlib import Path

from bayling_cat.batching import Batcher, Busy
from bayling_cat.engines.base import BaseEngine
from bayling_cat.modelinfo import adaptation, credit
from bayling_cat.server.errors import ApiError
from bayling_cat.sessions import Latest

MAX_SEGMENTS = 1000
MAX_BODY = 32 * 1024 * 1024
# characters in one segment (or a completion's source and prefix): several times what a model's context holds;
# beyond it a request is refused before it reaches the tokenizer
MAX_TEXT = 20_000
TIMEOUT = 600.0
PROMPT_ROOM = 256  # tokens a completion keeps free for the prompt's template and the continuation
# languages offered to the protocols' language lists; any valid code is accepted in requests
LANGUAGES = ["en", "zh", "de", "fr", "es", "it", "pt", "ru", "ja", "ko", "ar", "nl", "pl", "tr", "cs", "sv", "uk",
             "vi", "id", "he"]


class BatchedEngine(BaseEngine):
    """The engine as the routes see it: the same interface, each ``generate`` call waiting a moment in the
    batcher to be made together with other requests' calls of the same options (decoding, banned words)."""

    def __init__(self, engine, service: "Service"):
        self.inner, self._service = engine, service
        self.path, self.info, self.template = engine.path, engine.info, engine.template
        self.decoding = engine.decoding
        self.sessions = engine.sessions

    def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None,
                 session=None, cancel=None):
        if session is not None and self.sessions:  # one segment's conversation, on its own kept state
            return self.inner.generate(conversations, source_texts, suppress_sequences, progress, on_done,
                                       session=session, cancel=cancel)
        key = (tuple(tuple(s) for s in suppress_sequences), astuple(self.decoding))
        results = self._service.submit(key, list(zip(conversations, source_texts)))
        if progress:
            progress(len(results))
        if on_done is not None:
            for i, gen in enumerate(results):
                on_done(i, gen)
        return results

    def complete(self, source, prefix, source_lang, target_lang, alternatives=5, session=None, cancel=None):
        return self.inner.complete(source, prefix, source_lang, target_lang, alternatives, session=session,
                                   cancel=cancel)

    def forget_session(self, session) -> None:
        self.inner.forget_session(session)

    def requests(self, texts, source_lang, target_lang, hints=None, terms=None, examples=None):
        return self.inner.requests(texts, source_lang, target_lang, hints, terms, examples)

    def banned_sequences(self, forms, keep=()):
        return self.inner.banned_sequences(forms, keep)

    def ban_tokens(self, text):
        return self.inner.ban_tokens(text)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def chat(self, messages, max_tokens=None, temperature=None, top_p=None, stop=(), on_text=None):
        return self.inner.chat(messages, max_tokens, temperature, top_p, stop, on_text)

    def status(self):
        return self.inner.status()


class Service:
    """The engine behind the batcher, and what the server counts (characters translated)."""

    def __init__(self, engine, max_batch: int = 32, window: float = 0.02, max_pending: int = 1024,
                 timeout: float = TIMEOUT, same_length_batches: bool = True):
        """``same_length_batches``: the engine batches only prompts of equal length, so that an answer never
        depends on the other requests it was batched with (padding flips greedy choices); off, batches are
        fuller and throughput higher."""
        self.raw = engine
        engine.decoding.same_length_batches = same_length_batches
        self.engine = BatchedEngine(engine, self)
        self.model_name = Path(str(engine.path or "model")).name
        self.adapted = adaptation(engine.info)  # what bayling-cat adapt made it from (None for another model)
        # what files credit machine output to (XLIFF origins): an adapted model by name and base
        self.tool = credit(getattr(engine.info, "name", "") or self.model_name, engine.info)
        self.timeout = timeout
        self.lock = threading.Lock()
        self.characters = 0
        self.latest = Latest()  # the completion running per segment: a newer one cancels it
        self.batcher = Batcher(self._run_batch, max_batch=max_batch, window=window, max_pending=max_pending,
                               workers=engine.inter_threads)

    def close(self) -> None:
        """On shutdown (safe to call twice): stop the batcher and let the engine release what it holds (a
        cluster's actors and the Ray instance it started)."""
        self.batcher.stop()
        self.raw.close()

    def submit(self, key, items: list) -> list:
        """Items (conversation, source text) through the batcher: busy is 503, too slow 504."""
        try:
            return self.batcher.submit(key, items, timeout=self.timeout)
        except Busy as exc:
            raise ApiError(503, f"busy: {exc}; try again shortly", retry_after=2) from None
        except TimeoutError as exc:
            raise ApiError(504, str(exc)) from None

    def _run_batch(self, key, items, deliver):
        suppress, decoding = key
        engine = self.raw
        if decoding != astuple(engine.decoding):  # a second try's decoding (repetition penalty)
            engine = engine.with_decoding(**{f.name: v for f, v in zip(fields(engine.decoding), decoding)})
        return engine.generate([c for c, _ in items], [s for _, s in items],
                               suppress_sequences=[list(s) for s in suppress], on_done=deliver)

    def count(self, texts) -> None:
        with self.lock:
            self.characters += sum(len(t) for t in texts)

    def count_tokens(self, text: str) -> int:
        """The model's token count (the whole text's words when the engine cannot say)."""
        try:
            return self.raw.count_tokens(text)
        except Exception:  # noqa: BLE001 - a token count is never worth an error
            return len(text.split())

    def complete(self, source: str, prefix: str, source_lang: str, target_lang: str, alternatives: int,
                 session=None):
        """The engine's completion, for a source and prefix that fit the model's context with room to spare
        (a longer one would make the engine allocate for the whole of it, to produce nothing). ``session``
        names the segment (default: its source and languages); a newer request for it cancels this one."""
        context = getattr(self.raw.info, "context_length", None)
        if context:
            used = self.count_tokens(source) + self.count_tokens(prefix)
            if used + PROMPT_ROOM > context:
                raise ApiError(413, f"the source and prefix are {used:,} tokens: together they must stay under "
                                    f"{context - PROMPT_ROOM:,} for this model")
        from bayling_cat.sessions import Cancelled, segment_key

        key = session if session is not None else segment_key(source, source_lang, target_lang)
        flag = self.latest.start(key)
        try:
            return self.raw.complete(source, prefix, source_lang, target_lang, alternatives, session=key,
                                     cancel=flag)
        except Cancelled as exc:
            raise ApiError(409, f"{exc}: nobody reads this answer") from None
        finally:
            self.latest.finish(key, flag)

    def chat(self, messages, **options):
        """An ordinary chat turn with the model's own template."""
        return self.raw.chat(messages, **options)
