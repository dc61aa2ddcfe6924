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
    """(answer, flags) per reference through the translation core, the seconds it took, and what the row
    should tell besides (how many distinct sources got examples from the memory). The answer is the model's,
    placeholders as it wrote them (``score`` measures the codes); the memory only gives examples, and only to
    the examples variant: the model is evaluated, not the memory."""
    from bayling_cat.translator import FLAG_QA, CoreOptions, Request, Translator

    if variant and variant.decoding:
        engine = engine.with_decoding(**variant.decoding)
    core = Translator(engine, memory if variant and variant.examples else None,
                      CoreOptions(checks=False, store=False, reuse=False))
    started = time.monotonic()
    out = core.translate([Request(r.source, r.codes, r.hint) for r in refs], source_lang, target_lang,
                         glossary if variant and variant.glossary else None, progress=progress)
    seconds = time.monotonic() - started
    answers = [(t.answer, [f for f in t.flags if f not in (FLAG_CODES, FLAG_QA)]) for t in out]
    extra = {}
    if variant and variant.examples:
        extra["sources_with_examples"] = len({(r.source, r.hint) for r, t in zip(refs, out) if t.examples})
    return answers, seconds, extra


def through_core(engine, refs, source_lang, target_lang, glossary, memory, model_id: str,
                 progress=None) -> tuple[list[tuple[str, list[str], bool]], float]:
    """What ``translate FILE`` would write (memory reuse and examples, glossary, retries, code repair, checks),
    the memory only read: (the text written or '' when nothing would be, its flags, whether the codes came
    through unrepaired)."""
    from bayling_cat.translator import CoreOptions, Request, Translator

    core = Translator(engine, memory, CoreOptions(model_id=model_id, store=False))
    started = time.monotonic()
    out = core.translate([Request(r.source, r.codes, r.hint) for r in refs], source_lang, target_lang, glossary,
                         progress=progress)
    seconds = time.monotonic() - started
    return [(t.text if t.written else "", list(t.flags), FLAG_CODES not in t.flags) for t in out], seconds
