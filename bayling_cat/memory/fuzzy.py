"""Fuzzy matching: the index keys of a source, and the CAT-style fuzzy percentage.

The index is a table of *grams* (words, word pairs and triples; single characters, pairs and triples of
characters for scripts written without spaces: Chinese, Japanese, Korean, Thai). A lookup counts, for each
stored human unit, how many of the query's rarer grams it shares; the best-ranked few are then scored with
a real edit distance.
Word grams rather than SQLite FTS5's trigram tokenizer: a trigram OR-query over a million sentences walks
postings of trigrams such as " th" that half the memory holds, while rare words and word pairs and
triples pick a near-duplicate out of a million units with a few short index reads (bench/memory.py).

The score a CAT user sees is the character Levenshtein similarity of the two sources in percent
(rapidfuzz's C++ implementation): 100 minus the share of characters inserted, deleted or substituted,
on whitespace-normalised text where case and punctuation count, as in CAT tools.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

DEFAULT_THRESHOLD = 75  # percent, the fuzzy threshold CAT tools ship with

# scripts written without spaces: every character is a token, so pairs of characters play the part of words
_NO_SPACE = ("\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3040-\u30ff\u3100-\u312f\u3131-\u318f\u31a0-\u31ff"
             "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\u0e00-\u0e7f\U00020000-\U0003134f")
_TOKEN = re.compile(f"[{_NO_SPACE}]|[^\\W{_NO_SPACE}]+")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """The form both sides of a comparison take: NFC, whitespace runs as one space, no outer space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def tokens(text: str) -> list[str]:
    if text.isascii():  # NFKC leaves ASCII alone and casefold is lower there: the common case, a third faster
        return _TOKEN.findall(text.lower())
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def grams(text: str, prefix: str = "") -> set[str]:
    """Index keys: each token, pair and triple of neighbouring tokens, prefixed (the language pair). Triples
    pick out sentences made only of common words, whose single words and pairs half the memory shares."""
    toks = tokens(text)
    keys = {prefix + t for t in toks}
    keys.update(f"{prefix}{a} {b}" for a, b in zip(toks, toks[1:]))
    keys.update(f"{prefix}{a} {b} {c}" for a, b, c in zip(toks, toks[1:], toks[2:]))
    return keys


def score(query: str, candidate: str, cutoff: float = 0.0) -> float:
    """Fuzzy match as a fraction (1.0 = identical after whitespace normalisation); 0 below ``cutoff``."""
    return Levenshtein.normalized_similarity(normalize(query), normalize(candidate), score_cutoff=cutoff)


def percent(value: float) -> int:
    """The match percentage CAT tools show: rounded down, so 99.6 % is never shown as a 100 % match."""
    return int(value * 100 + 1e-9)


def best(query: str, candidates, threshold: float, limit: int) -> list[tuple[float, object]]:
    """Score (text, payload) candidates; the ``limit`` best at or above ``threshold`` (a fraction), best first,
    one per distinct source."""
    q = normalize(query)
    scored, seen = [], set()
    for text, payload in candidates:
        if text in seen:
            continue
        seen.add(text)
        s = Levenshtein.normalized_similarity(q, normalize(text), score_cutoff=threshold)
        if s and s >= threshold:
            scored.append((s, payload))
    scored.sort(key=lambda p: -p[0])
    return scored[:limit]
