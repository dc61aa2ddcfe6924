"""Scores: sacrebleu's BLEU, chrF++ and TER for the corpus (with their signatures, so figures compare with
published ones), sentence chrF and edit distance per segment, and what a CAT project cares about: exact
matches, segments that need nearly no post-editing, inline codes and placeholders kept, terminology."""

from __future__ import annotations

from dataclasses import dataclass, field

NEAR = 0.05  # "within 5% edit distance": characters to change / longer of the two texts

# sacrebleu tokenizers that need extras (MeCab) for Japanese and Korean; without them characters are scored
_NEEDS_EXTRA = {"ja": "ja-mecab", "ko": "ko-mecab"}
_ASIAN = {"zh", "ja", "ko"}


@dataclass
class Scored:
    """One segment as the report shows it."""

    origin: str
    source: str
    reference: str
    hypothesis: str
    chrf: float
    edit_distance: float
    flags: list[str] = field(default_factory=list)
    codes_kept: bool | None = None  # None: the source has no inline codes
    placeholders_kept: bool | None = None  # None: the source has no placeholders
    terms: object = None  # revision.TermReport against -g, when a glossary was given
    comet: float | None = None

    def as_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if v is not None and k != "terms"}
        if self.comet is not None:
            out["comet"] = 100 * self.comet
        if self.terms is not None and self.terms.matched:
            r = self.terms
            out["terms"] = {"required": r.required, "present": r.present, "forbidden_hits": r.forbidden_hits,
                            **({"violated": r.violated} if r.violated else {})}
        return out


def _primary(lang: str) -> str:
    return lang.split("-")[0].lower()


def corpus_metrics(target_lang: str):
    """BLEU, chrF++ and TER objects set up for the target language."""
    from sacrebleu.metrics import BLEU, CHRF, TER

    lang = _primary(target_lang)
    try:
        bleu = BLEU(trg_lang=lang)
    except RuntimeError:  # MeCab missing for ja/ko: characters, and the signature says tok:char
        bleu = BLEU(tokenize="char")
    return bleu, CHRF(word_order=2), TER(asian_support=lang in _ASIAN)


def sentence_chrf(hypothesis: str, reference: str) -> float:
    from sacrebleu.metrics import CHRF

    return CHRF().sentence_score(hypothesis, [reference]).score


def edit_distance(hypothesis: str, reference: str) -> float:
    """Normalised character edit distance (Levenshtein / length of the longer text)."""
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.normalized_distance(hypothesis, reference)


def summarise(scored: list[Scored], target_lang: str) -> tuple[dict, dict]:
    """(metrics, signatures) for one row."""
    bleu, chrf, ter = corpus_metrics(target_lang)
    hyps = [s.hypothesis for s in scored]
    refs = [[s.reference for s in scored]]
    b, c, t = bleu.corpus_score(hyps, refs), chrf.corpus_score(hyps, refs), ter.corpus_score(hyps, refs)
    n = len(scored)

    def share(values):
        values = [v for v in values if v is not None]
        return sum(values) / len(values) if values else None

    metrics = {
        "segments": n,
        # full precision: the figures are sacrebleu's own, comparable digit for digit
        "bleu": b.score, "chrf++": c.score, "ter": t.score,
        "exact_match": share([s.hypothesis.strip() == s.reference.strip() for s in scored]),
        "within_5pct": share([s.edit_distance <= NEAR for s in scored]),
        "mean_sentence_chrf": sum(s.chrf for s in scored) / n if n else None,
        "code_accuracy": share([s.codes_kept for s in scored]),
        "code_segments": sum(1 for s in scored if s.codes_kept is not None),
        "placeholder_accuracy": share([s.placeholders_kept for s in scored]),
        "placeholder_segments": sum(1 for s in scored if s.placeholders_kept is not None),
        "flagged": share([bool(s.flags) for s in scored]),
    }
    if any(s.comet is not None for s in scored):
        metrics["comet"] = 100 * sum(s.comet for s in scored) / n
    signatures = {"BLEU": str(bleu.get_signature()), "chrF2++": str(chrf.get_signature()),
                  "TER": str(ter.get_signature())}
    return metrics, signatures


def terminology(scored: list[Scored]) -> dict | None:
    """Term success rate and forbidden-term hits, as ``bayling-cat check`` reports them."""
    from bayling_cat.pipeline import terminology_totals

    reports = [s.terms for s in scored if s.terms is not None]
    if not reports:
        return None
    totals = terminology_totals(reports)
    return {k: totals[k] for k in ("required", "present", "term_success_rate", "forbidden_hits",
                                   "segments_with_terms")}


def worst_first(scored: list[Scored]) -> list[Scored]:
    return sorted(scored, key=lambda s: (s.chrf, -s.edit_distance, s.origin))
