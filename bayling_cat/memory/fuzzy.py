"""Fuzzy matching: the index keys of a source, and the CAT-style fuzzy percentage.

The index is a table of *grams* (words, pairs of neighbouring words and pairs with one word between them;
characters in their place for scripts written without spaces: Chinese, Japanese, Korean, Thai), each stored as a 63-bit
xxHash of its text seeded by the language pair: integer keys make the index a third of the size of text keys
and a million units' entries sort in seconds. A lookup counts, for each stored human unit, how many of the
query's rarer grams it shares; the best-ranked few are then scored with a real edit distance.
Word grams rather than SQLite FTS5's trigram tokenizer: a trigram OR-query over a million sentences walks
postings of trigrams such as " th" that half the memory holds, while rare words and word pairs pick a
near-duplicate out of a million units with a few short index reads (bench/memory.py).

The score a CAT user sees is the character Levenshtein similarity of the two sources in percent
(rapidfuzz's C++ implementation): 100 minus the share of characters inserted, deleted or substituted,
on whitespace-normalised text where case and punctuation count, as in CAT tools.
"""

from __future__ import annotations

import re
import unicodedata

import xxhash
from rapidfuzz.distance import Levenshtein

DEFAULT_THRESHOLD = 75  # percent, the fuzzy threshold CAT tools ship with

# scripts written without spaces: every character is a token, so pairs of characters play the part of words
_NO_SPACE = ("\u2e80-\u2fdf\u3005\u3007\u3021-\u3029\u3040-\u30ff\u3100-\u312f\u3131-\u318f\u31a0-\u31ff"
             "\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\u0e00-\u0e7f\U00020000-\U0003134f")
_TOKEN = re.compile(f"[{_NO_SPACE}]|[^\\W{_NO_SPACE}]+")
_SPACE = re.compile(r"\s+")
_ASCII_TOKEN = re.compile(rb"[a-z0-9_]+")  # what _TOKEN finds in lower-cased ASCII text
_HASH = xxhash.xxh3_64_intdigest


def normalize(text: str) -> str:
    """The form both sides of a comparison take: NFC, whitespace runs as one space, no outer space."""
    return _SPACE.sub(" ", unicodedata.normalize("NFC", text)).strip()


def tokens(text: str) -> list[str]:
    if text.isascii():  # NFKC leaves ASCII alone and casefold is lower there: the common case, a third faster
        return _TOKEN.findall(text.lower())
    return _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold())


def pair_seed(source_lang: str, target_lang: str) -> int:
    """The seed of a language pair's index keys: the same words in two pairs give different keys."""
    return _HASH(f"{source_lang}>{target_lang}".encode("utf-8"))


# a unit of at least this many tokens is stored under its pairs only: a near-duplicate shares several of
# them, and its single words (a third of the index) only repeat what the pairs hold
SHORT = 4


def keys(text: str, seed: int, lookup: bool = False) -> set[int]:
    """Index keys: the hash of each token (of short units only, and of every query: ``lookup``), each pair of
    neighbouring tokens and each pair with one token between them (63 bits, so that they fit a signed 64-bit
    integer column). The gapped pairs bridge a changed word: "save * file" is shared by "save the file" and
    "save this file", and they pick out sentences made only of common words, whose single words and pairs
    half the memory shares (bench/memory.py: 99.2 % of near-duplicates found at a million units, against
    98.5 % with word triples in their place, for as many index entries). The hashes are stable across
    processes, machines and Python releases (xxHash of the UTF-8 text), so an index built by one run is read
    by every other."""
    if text.isascii():  # the common case: tokens found in the encoded text, no per-token encode
        toks = _ASCII_TOKEN.findall(text.lower().encode("ascii"))
    else:
        toks = [t.encode("utf-8", "surrogatepass") for t in tokens(text)]
    out = {_HASH(t, seed) >> 1 for t in toks} if lookup or len(toks) < SHORT else set()
    out.update(_HASH(a + b" " + b, seed) >> 1 for a, b in zip(toks, toks[1:]))
    out.update(_HASH(a + b" * " + c, seed) >> 1 for a, c in zip(toks, toks[2:]))
    return out


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


_DIFF_TOKEN = re.compile(f"</?\\d+/?>|[{_NO_SPACE}]|[^\\W{_NO_SPACE}]+|[^\\w\\s]")


def differences(match: str, query: str) -> list[tuple[str, str]]:
    """How a match's source differs from the source being translated, as a CAT tool shows it: pieces
    ("=", text both share), ("-", text only the match has), ("+", words only the new source has), word by
    word (character by character in scripts without spaces, inline codes as one piece). Joined, the "=" and
    "-" pieces give the match's source back; "+" pieces carry the new source's spacing around them."""
    from difflib import SequenceMatcher

    a = [(m.start(), m.end(), m.group(0).casefold()) for m in _DIFF_TOKEN.finditer(match)]
    b = [(m.start(), m.end(), m.group(0).casefold()) for m in _DIFF_TOKEN.finditer(query)]

    def span(i1, i2):  # the match's tokens i1..i2 with the space after them (and before the first token)
        return match[0 if i1 == 0 else a[i1][0]:len(match) if i2 >= len(a) else a[i2][0]]

    out: list[tuple[str, str]] = []
    for op, i1, i2, j1, j2 in SequenceMatcher(None, [t for *_, t in a], [t for *_, t in b],
                                              autojunk=False).get_opcodes():
        if op == "equal":
            out.append(("=", span(i1, i2)))
            continue
        if i2 > i1:
            out.append(("-", span(i1, i2)))
        if j2 > j1:
            shown = next((t for o, t in reversed(out) if o != "-"), "")  # the new source's text so far
            spaced = shown[-1:].isspace() or not shown
            words = query[b[j1][0]:b[j2 - 1][1]]
            before = not spaced and j1 > 0 and query[b[j1 - 1][1]:b[j1][0]] != ""
            after = spaced and i2 < len(a) and j2 < len(b) and query[b[j2 - 1][1]:b[j2][0]] != ""
            out.append(("+", (" " if before else "") + words + (" " if after else "")))
    if not a and query.strip():
        out = [("+", query.strip())]
    return [(op, text) for op, text in out if text]
