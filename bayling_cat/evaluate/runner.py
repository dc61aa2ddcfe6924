"""Translating the references for one row: the plain model, a decoding variant (beam=5), the glossary
variant (revision.TermTranslator with -g), the examples variant (similar human translations from the memory
as few-shot turns), or the whole pipeline (--with-memory). The memory is never consulted otherwise: the model
is evaluated, not the memory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bayling_cat.document import FLAG_CODES, PLACEHOLDER, repair
from bayling_cat.errors import UserError
from bayling_cat.evaluate.metrics import Scored, edit_distance, sentence_chrf

# --variant keys -> engines.base.DecodingOptions fields, with their types and allowed ranges
DECODING = {
    "beam": ("beam_size", int, 1, 16), "beam_size": ("beam_size", int, 1, 16),
    "temperature": ("sampling_temperature", float, 0, None),
    "top_k": ("sampling_topk", int, 0, None), "top_p": ("sampling_topp", float, 0, 1),
    "repetition_penalty": ("repetition_penalty", float, 0, None),
    "no_repeat_ngram": ("no_repeat_ngram_size", int, 0, None),
    "no_repeat_ngram_size": ("no_repeat_ngram_size", int, 0, None),
    "max_new_tokens": ("max_new_tokens", int, 1, None),
}
STRATEGIES = ("glossary", "examples")


@dataclass
class Variant:
    name: str
    decoding: dict = field(default_factory=dict)
    glossary: bool = False
    examples: bool = False


def parse_variant(text: str) -> Variant:
    """'beam=5', 'glossary', 'examples', or several joined by commas: 'beam=5,glossary'."""
    variant = Variant(text.strip())
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise UserError(f"--variant {text!r}: empty; use e.g. beam=5, glossary or examples")
    for part in parts:
        key, _, value = part.partition("=")
        key = key.strip().lower().replace("-", "_")
        if not _ and key in STRATEGIES:
            setattr(variant, key, True)
            continue
        if key not in DECODING or not _:
            raise UserError(f"--variant {text!r}: unknown {part!r}; use glossary, examples or a decoding option "
                            f"({', '.join(k + '=N' for k in DECODING if not k.endswith('_size'))})")
        name, kind, low, high = DECODING[key]
        try:
            number = kind(value.strip())
        except ValueError:
            raise UserError(f"--variant {text!r}: {key} takes {'a whole number' if kind is int else 'a number'}, "
                            f"not {value.strip()!r}") from None
        if number < low or (high is not None and number > high):
            raise UserError(f"--variant {text!r}: {key} must be between {low} and {high if high else 'any'}")
        variant.decoding[name] = number
    if variant.decoding.get("sampling_temperature", 0) > 0 and "sampling_topk" not in variant.decoding:
        variant.decoding["sampling_topk"] = 0  # sampling from the whole distribution, as translate does
    return variant


def visible(text: str, codes: dict) -> str:
    """Text as a reader sees it: placeholders of literal codes (printf, {name}) back to their text, inline
    element codes removed. Without codes, text is left alone (a "<1>" a TMX holds is text)."""
    if not codes:
        return text.strip()
    from bayling_cat.quality import plain

    return plain(text, codes).strip()


def _kept(text: str, codes: dict, subset: dict) -> bool | None:
    """Whether every code of ``subset`` is in ``text`` exactly once and well formed (repair would change
    nothing); placeholders of the other codes are left out of the question, invented ones count against."""
    if not subset:
        return None
    others = set(codes) - set(subset)
    only = PLACEHOLDER.sub(lambda m: "" if int(m.group(2)) in others else m.group(0), text)
    return not repair(only, subset)[1]


def score(ref, raw: str, flags: list[str], glossary, checks: bool = True,
          codes_kept: bool | None = None, placeholders_kept: bool | None = None) -> Scored:
    """One segment: ``raw`` is the model's answer with placeholders as it wrote them."""
    from bayling_cat.quality import run_checks

    elements = {n: c for n, c in ref.codes.items() if c.literal is None}
    literals = {n: c for n, c in ref.codes.items() if c.literal is not None}
    flags = list(flags)
    if codes_kept is None and placeholders_kept is None:
        codes_kept, placeholders_kept = _kept(raw, ref.codes, elements), _kept(raw, ref.codes, literals)
        if raw and ref.codes and repair(raw, ref.codes)[1]:
            flags.append(FLAG_CODES)
    hypothesis = visible(raw, ref.codes)
    reference = visible(ref.reference, ref.codes)
    if checks and hypothesis and "qa" not in flags:
        failed = run_checks(visible(ref.source, ref.codes), hypothesis, ref.target_lang)
        if failed:
            flags.append("qa")
    terms = None
    if glossary is not None:
        from bayling_cat.revision import TermReport

        terms = TermReport.from_finding(glossary.check(ref.source, raw))
    return Scored(ref.origin, visible(ref.source, ref.codes), reference, hypothesis,
                  sentence_chrf(hypothesis, reference), edit_distance(hypothesis, reference),
                  [f for f in flags if f != "retried"], codes_kept, placeholders_kept, terms)


def translate(engine, refs, source_lang: str, target_lang: str, variant: Variant | None, glossary, memory,
              progress=None) -> tuple[list[tuple[str, list[str]]], float, dict]:
    """(answer, flags) per reference, the seconds the model took, and what the row should tell besides
    (how many distinct sources got examples from the memory)."""
    translator = engine
    if variant and variant.decoding:
        if not hasattr(engine, "with_decoding"):
            raise UserError(f"--variant {variant.name!r}: this engine has no decoding options")
        translator = engine.with_decoding(**variant.decoding)
    if variant and variant.glossary:
        from bayling_cat.revision import TermTranslator

        translator = TermTranslator(translator, {(source_lang, target_lang): glossary})
    jobs = list(dict.fromkeys((r.source, r.hint) for r in refs))  # each distinct source once, as translate does
    kwargs = {}
    if any(h for _, h in jobs):
        kwargs["hints"] = [h for _, h in jobs]
    started = time.monotonic()
    if variant and variant.examples:
        kwargs["examples"] = [[(h.source, h.target) for h in memory.similar(t, source_lang, target_lang)]
                              for t, _ in jobs]
    out = translator.translate([t for t, _ in jobs], source_lang, target_lang, progress=progress, **kwargs)
    seconds = time.monotonic() - started
    answers = {job: (gen.text, list(gen.flags)) for job, gen in zip(jobs, out)}
    extra = {"sources_with_examples": sum(1 for shots in kwargs["examples"] if shots)} if "examples" in kwargs else {}
    return [answers[(r.source, r.hint)] for r in refs], seconds, extra


class _NullConnector:
    """The pipeline writes into a connector; an evaluation keeps the results on the segments only."""

    def clear_notes(self, segment):
        pass

    def add_note(self, segment, text):
        pass

    def write_target(self, segment, text, copied, origin="mt"):
        pass

    def write_suggestion(self, segment, text):
        pass


class _ReadOnlyMemory:
    """The memory as the pipeline reads it; what the pipeline would store is dropped (evaluating must not
    change the user's memory)."""

    def __init__(self, memory):
        self._memory = memory

    def __getattr__(self, name):
        return getattr(self._memory, name)

    def add(self, rows):
        pass


def through_pipeline(engine, refs, source_lang, target_lang, glossaries, memory_path: Path, model_id: str,
                     progress_factory=None) -> tuple[list[tuple[str, list[str], bool]], float]:
    """The whole translate pipeline (memory reuse and examples, glossary, retries, code repair, checks):
    (the text written or '' when nothing would be, its flags, whether the codes came through unrepaired)."""
    from bayling_cat import pipeline
    from bayling_cat.document import Segment

    class Evaluation(pipeline.Pipeline):
        @property
        def memory(self):
            real = pipeline.Pipeline.memory.fget(self)
            return None if real is None else _ReadOnlyMemory(real)

    options = pipeline.Options(source_lang=source_lang, target_lang=target_lang, glossaries=list(glossaries),
                               memory=memory_path, model_id=model_id, checks=True)
    run = Evaluation(engine, options, progress_factory=progress_factory)
    segments = [Segment(key=r.origin, source=r.source, codes=r.codes, hint=r.hint) for r in refs]
    for seg in segments:
        run.decide(seg)
    result = pipeline.FileResult(input=Path("references"), source_lang=source_lang, target_lang=target_lang,
                                 segments=segments, connector=_NullConnector())
    started = time.monotonic()
    run.translate_all([result])
    seconds = time.monotonic() - started
    return [(seg.translation or "", list(seg.flags), FLAG_CODES not in seg.flags) for seg in segments], seconds
