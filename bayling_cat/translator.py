"""The one translation core. Every door (the file pipeline, standard input, each server protocol, the
workbench, evaluation) hands it segments and gets declared results back; none of them repeats a step:

    exact memory hit -> examples (the memory's best human fuzzy matches) -> the model, with glossary turns
    (steer, verify, revise, ban) -> a second try for a degenerate answer -> store in the memory
    -> inline codes repaired -> quality checks -> ``Translation``

The model is reached through ``engine``: a loaded engine, the server's batched view of one, a Ray cluster's
pool, or a test's scripted stand-in; anything with the engine's ``translate`` call (and, for glossaries and
retries, ``requests``/``generate``/``with_decoding``).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable, Sequence

from bayling_cat.document import FLAG_CODES, Code, keep_outer_space, repair
from bayling_cat.engines.base import BLOCKING_FLAGS, Generation, sanitize

FLAG_QA = "qa"  # translate-toolkit's checks failed (the findings are in ``Translation.checks``)
FLAG_RETRIED = "retried"  # the first answer was degenerate; this is the second try


@dataclass
class Request:
    """One segment to translate: its text with inline codes as placeholders (``<1>``, ``<2/>``), what each
    placeholder stands for, and what the model must know beyond the text (a plural form, a DeepL context)."""

    source: str
    codes: dict[int, Code] = field(default_factory=dict)
    hint: str | None = None


@dataclass
class Translation:
    """What the core did for one segment. ``text``: the translation, codes repaired, the source's outer
    whitespace kept. A file never gets a text that is not ``written`` (a blocking flag: a loop cut, the length
    limit, nothing generated); a protocol answers it with its flags, as its clients expect an answer."""

    source: str
    text: str
    flags: list[str] = field(default_factory=list)
    answer: str = ""  # the model's (or the memory's) text before the codes were repaired
    terms: object = None  # revision.TermReport under a glossary
    memory: str | None = None  # "human" or "machine": an exact memory match, reused without the model
    fuzzy: object = None  # memory.Hit: the best human fuzzy match (what a CAT tool would show beside it)
    examples: list[str] = field(default_factory=list)  # sources of the memory matches shown to the model
    checks: dict = field(default_factory=dict)  # failed quality checks: {name: message}

    @property
    def written(self) -> bool:
        return not any(f in BLOCKING_FLAGS for f in self.flags)

    @property
    def origin(self) -> str:
        """Where the text came from, in the formats' words: tm (a person's translation) or mt."""
        return "tm" if self.memory == "human" else "mt"


@dataclass
class CoreOptions:
    """How the core translates; the same options give the same translations through every door."""

    model_id: str | None = None  # what memory entries are keyed on: the model's name
    max_revisions: int = 2  # follow-up turns for terminology violations
    term_strategy: str = "none"  # "force": still-missing terms put in as protected placeholders
    checks: bool = True  # translate-toolkit's quality checks on every machine translation
    fuzzy_threshold: int = 75  # percent: least memory match given to the model as an example or shown
    chunk: int = 64  # distinct sources translated (and stored in the memory) together
    store: bool = True  # False: the memory is only read (evaluation must not change a user's memory)
    reuse: bool = True  # False: exact memory matches are not reused (the memory only gives examples)
    retry: bool = True  # a degenerate answer gets a second try with other decoding


@dataclass
class _Answer:
    """A distinct source's answer before it is fitted to each segment that holds it."""

    gen: Generation
    memory: str | None = None
    fuzzy: object = None
    examples: list[str] = field(default_factory=list)
    terms: object = None


class Translator:
    """The core. ``memory`` is an open memory (or None); ``glossary`` is given per call (a door knows which
    glossaries a request or a run asks for)."""

    def __init__(self, engine, memory=None, options: CoreOptions | None = None):
        """``engine``: the engine, or a function that loads it (called when the first segment needs the
        model, so that a run the memory answers whole never loads one)."""
        self._engine = engine
        self.memory = memory
        self.options = options or CoreOptions()
        self.model_calls = 0  # segments sent to the model (retries included)
        self._count = threading.Lock()

    @property
    def engine(self):
        if callable(self._engine) and not hasattr(self._engine, "translate"):
            self._engine = self._engine()
        return self._engine

    @property
    def loaded(self) -> bool:
        return not (callable(self._engine) and not hasattr(self._engine, "translate"))

    # -- the public calls ---------------------------------------------------------------------------------

    def translate(self, requests: Sequence[Request], source_lang: str, target_lang: str, glossary=None,
                  progress: Callable[[int], None] | None = None, on_chunk=None) -> list[Translation]:
        """Translate segments; results in input order. Each distinct (source, hint) goes to the model once.
        ``progress(n)``: n more distinct sources done; ``on_chunk(requests, translations)``: called as each
        chunk is done (and stored), for doors that show results as they arrive."""
        jobs = list(dict.fromkeys((r.source.strip(), r.hint) for r in requests if r.source.strip()))
        codes = {(r.source.strip(), r.hint): r.codes for r in requests}
        answers: dict[tuple, _Answer] = {}
        todo = []
        for job in jobs:
            hit = self._exact(job, source_lang, target_lang, glossary)
            if hit is not None:
                answers[job] = hit
            else:
                todo.append(job)
        if progress and len(jobs) > len(todo):
            progress(len(jobs) - len(todo))
        if on_chunk is not None and answers:
            done = [r for r in requests if (r.source.strip(), r.hint) in answers]
            on_chunk(done, [self._finish(r, answers[(r.source.strip(), r.hint)], target_lang) for r in done])
        chunks = [todo[i:i + self.options.chunk] for i in range(0, len(todo), self.options.chunk)]

        def finished(chunk, out):
            self._store(chunk, out, source_lang, target_lang, glossary, codes)
            answers.update(zip(chunk, out))
            if on_chunk is not None:
                wanted = set(chunk)
                done = [r for r in requests if (r.source.strip(), r.hint) in wanted]
                on_chunk(done, [self._finish(r, answers[(r.source.strip(), r.hint)], target_lang) for r in done])

        self._run_chunks(chunks, source_lang, target_lang, glossary, progress, finished)
        return [self._finish(r, answers[(r.source.strip(), r.hint)], target_lang) if r.source.strip()
                else Translation(r.source, r.source) for r in requests]

    def memory_key(self, glossary) -> str | None:
        """What a translation made with a glossary is stored under: the glossary's terms and how hard the run
        pushed for them, so that a run asking for more is not answered by one that asked for less."""
        if glossary is None:
            return None
        return f"{glossary.fingerprint}/{self.options.term_strategy}/r{self.options.max_revisions}"

    def finish(self, request: Request, gen: Generation, target_lang: str, memory: str | None = None,
               glossary=None) -> Translation:
        """A generation made elsewhere (a revision turn, a memory match the translator picked) fitted to its
        segment exactly as a translation is: sanitized, codes repaired, checked, terms found."""
        answer = _Answer(Generation(gen.text, list(gen.flags), gen.score, gen.generated_tokens), memory)
        answer.gen.text = sanitize(answer.gen.text, request.source, answer.gen.flags)
        if glossary is not None:
            from bayling_cat.revision import TermReport

            answer.terms = gen.terms or TermReport.from_finding(
                glossary.check(request.source.strip(), answer.gen.text))
        return self._finish(request, answer, target_lang)

    def revise(self, conversation, instruction: str, codes: dict | None = None, session=None) -> Translation:
        """The next turn of a segment's revision conversation (revision.Conversation), its answer fitted to the
        segment as a translation is; ``codes``: what the source's placeholders stand for; ``session``: the key
        under which an engine with sessions keeps the segment's state (the turn then evaluates only what is new)."""
        gen = conversation.revise(self.engine, instruction, session=session)
        gen.text = sanitize(gen.text, conversation.source, gen.flags)
        conversation.turns[-1] = (instruction, gen.text)  # the conversation goes on from the cleaned answer
        with self._count:
            self.model_calls += 1
        request = Request(conversation.source, codes or {}, conversation.hint)
        return self._finish(request, _Answer(gen), conversation.target_lang)

    # -- the steps ----------------------------------------------------------------------------------------

    def _exact(self, job, source_lang, target_lang, glossary) -> _Answer | None:
        """An exact memory match as the model's answer would be: its flags, and under a glossary the
        terminology findings for the stored target (the notes and totals of the first run)."""
        if self.memory is None or not self.options.reuse:
            return None
        hit = self.memory.exact(job[0], source_lang, target_lang, self.options.model_id,
                                self.memory_key(glossary), job[1])
        if hit is None:
            return None
        flags = list(hit.flags)
        answer = _Answer(Generation(sanitize(hit.target, job[0], flags), flags), memory=hit.origin)
        answer.fuzzy = hit if hit.origin == "human" else self._best_fuzzy(job[0], source_lang, target_lang)
        if glossary is not None:
            from bayling_cat.revision import TermReport

            answer.terms = TermReport.from_finding(glossary.check(job[0], answer.gen.text))
        return answer

    def _best_fuzzy(self, source, source_lang, target_lang):
        found = self.memory.similar(source, source_lang, target_lang, 1, self.options.fuzzy_threshold / 100)
        return found[0] if found else None

    def _run_chunks(self, chunks, source_lang, target_lang, glossary, progress, finished) -> None:
        """Translate the chunks, ``finished(chunk, answers)`` as each is done. An engine that runs several
        calls at once (a cluster's actors: ``concurrency``) gets that many chunks at a time, each sent as it
        would be alone, so the answers are the same; memory and files stay in this thread."""
        workers = self.engine.concurrency
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                finished(chunk, self._model(chunk, source_lang, target_lang, glossary, progress))
            return
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bayling-cat-chunk")
        futures = {pool.submit(self._model, c, source_lang, target_lang, glossary, progress): c for c in chunks}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    finished(futures[future], future.result())
        except BaseException:
            # Ctrl-C or a chunk that failed for good: nothing more starts, what runs is cancelled, and every
            # chunk already stored stays in the memory for the next run
            for future in futures:
                future.cancel()
            self.engine.cancel()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _engine_for(self, source_lang, target_lang, glossary, retry: bool = False):
        engine = self.engine
        if retry:  # a second try: a repetition penalty and no repeated 3-grams
            engine = engine.with_decoding(repetition_penalty=1.3, no_repeat_ngram_size=3)
        if glossary is None:
            return engine
        from bayling_cat.revision import TermTranslator

        return TermTranslator(engine, {(source_lang, target_lang): glossary},
                              max_revisions=self.options.max_revisions, term_strategy=self.options.term_strategy)

    def _model(self, jobs, source_lang, target_lang, glossary, progress) -> list[_Answer]:
        """One chunk through the model: examples from the memory first, then a second try of each degenerate
        answer with other decoding (kept only when it is better)."""
        from bayling_cat.quality import degenerate

        matches = [[] for _ in jobs]
        if self.memory is not None:
            matches = [self.memory.similar(t, source_lang, target_lang, 2, self.options.fuzzy_threshold / 100)
                       for t, _ in jobs]
        kwargs = {}
        if any(h for _, h in jobs):
            kwargs["hints"] = [h for _, h in jobs]
        if any(matches):
            kwargs["examples"] = [[(h.source, h.target) for h in found] for found in matches]
        texts = [t for t, _ in jobs]
        out = self._engine_for(source_lang, target_lang, glossary).translate(texts, source_lang, target_lang,
                                                                             progress=progress, **kwargs)
        for text, gen in zip(texts, out):  # model output is untrusted: cleaned once, here, whatever the engine
            gen.text = sanitize(gen.text, text, gen.flags)
        calls = len(jobs)
        retry = [i for i, (text, gen) in enumerate(zip(texts, out))
                 if self.options.retry and degenerate(text, gen.text, gen.flags, source_lang, target_lang)]
        if retry:
            again = self._engine_for(source_lang, target_lang, glossary, retry=True).translate(
                [texts[i] for i in retry], source_lang, target_lang,
                **{k: [v[i] for i in retry] for k, v in kwargs.items()})
            calls += len(retry)
            for i, gen in zip(retry, again):
                gen.text = sanitize(gen.text, texts[i], gen.flags)
                if not degenerate(texts[i], gen.text, gen.flags, source_lang, target_lang):
                    gen.flags = list(gen.flags) + [FLAG_RETRIED]
                    out[i] = gen
        with self._count:
            self.model_calls += calls
        return [_Answer(gen, None, found[0] if found else None, [h.source for h in found],
                        gen.terms) for gen, found in zip(out, matches)]

    def _store(self, chunk, out, source_lang, target_lang, glossary, codes) -> None:
        """A chunk's answers into the memory at once, flagged ones too (the same model would only repeat
        them), with what each placeholder stands for: a run killed now resumes after this chunk."""
        if self.memory is None or not self.options.store:
            return
        from bayling_cat.memory.tmx import stored_codes

        key = self.memory_key(glossary)
        self.memory.add([{"source": job[0], "target": a.gen.text, "source_lang": source_lang,
                          "target_lang": target_lang, "hint": job[1], "model": self.options.model_id,
                          "glossary": key, "flags": a.gen.flags,
                          "codes": stored_codes(codes[job]) if codes.get(job) else None}
                         for job, a in zip(chunk, out)])

    def _finish(self, request: Request, answer: _Answer, target_lang: str) -> Translation:
        """One segment's result: nothing written for a blocking flag; else the codes repaired against this
        segment's own codes, its outer whitespace, and the quality checks (not on a person's translation)."""
        flags = list(answer.gen.flags)
        text, changed = repair(keep_outer_space(request.source, answer.gen.text), request.codes)
        if changed:
            flags.append(FLAG_CODES)
        result = Translation(request.source, text, flags, answer.gen.text, answer.terms, answer.memory,
                             answer.fuzzy, list(answer.examples))
        if not result.written:
            return result
        if self.options.checks and answer.memory != "human":
            from bayling_cat.quality import plain, run_checks

            result.checks = run_checks(plain(request.source, request.codes).strip(),
                                       plain(text, request.codes).strip(), target_lang)
            if result.checks:
                flags.append(FLAG_QA)
        return result
