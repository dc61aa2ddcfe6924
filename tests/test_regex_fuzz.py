"""Every regular expression of the file, language and model-output code that sees user text runs in linear time:
inputs of 10^5 characters built from the pattern's own metacharacters (and from the fragments that come closest
to a match, repeated) finish within a bound a quadratic pattern would miss by minutes (issue 25: the OpenAI
recognition's quadratic pattern froze the server for 52 s on a 20 KB request)."""

from __future__ import annotations

import random
import re
import time

import pytest

from bayling_cat import document, languages
from bayling_cat.connectors import po, po_formats, xmlio
from bayling_cat.engines import base
from bayling_cat.memory import tmx

N = 100_000
BOUND = 5.0  # seconds for all the inputs of one pattern; linear passes take milliseconds, quadratic ones minutes

# anchored patterns, applied with match() only by their callers (a bounded prefix): checked that way
ANCHORED = {"engines.base._PREAMBLE", "languages._TAG"}
PATTERNS = {
    "document.PLACEHOLDER": document.PLACEHOLDER,
    "xmlio._RAW_BREAK_IN_VALUE": xmlio._RAW_BREAK_IN_VALUE,
    "document._ANY_PLACEHOLDER": document._ANY_PLACEHOLDER,
    "engines.base._PREAMBLE": base._PREAMBLE,
    "engines.base._ABOUT_TRANSLATION": base._ABOUT_TRANSLATION,
    "languages._TAG": languages._TAG,
    "po.PLACEHOLDERS": po.PLACEHOLDERS,
    "po._HEADER_BLOCK": po._HEADER_BLOCK,
    "tmx._TU_START": tmx._TU_START,
    "tmx._TU_END": tmx._TU_END,
    "tmx._HEADER": tmx._HEADER,
    "xmlio._START_TAG": xmlio._START_TAG,
    **{f"po_formats[{flag}]": po_formats.pattern_for((flag,), po._ALWAYS[0], tuple(po._ALWAYS[1:]))
       for flag in po_formats.FORMATS},
}

# near-matches, repeated: where a backtracking pattern spends its time
FRAGMENTS = ["<1/", "</1", "<1/2", "~,", "~'", "~1,", "%1$", "%.", "%*", "{", "{a", "$", "${", "%<a>", "%{a",
             "translation ", "here is ", "the ", "sure, ", "a-", "x-", "en-", "-abcdefgh", "<tu", "</tu ", "<header ",
             '"a: b\\n"\n', "msgid \"\"\n", "<a b='", '<a b="', "<!--", "<![CDATA[", "翻译", " ", "\n"]


def _inputs(pattern: re.Pattern, n: int):
    rng = random.Random(25)
    source = pattern.pattern if isinstance(pattern.pattern, str) else pattern.pattern.decode("latin-1")
    alphabet = sorted(set(source) | set("aZ0 \n:"))
    yield "".join(rng.choice(alphabet) for _ in range(n))
    for fragment in FRAGMENTS:
        yield (fragment * (n // len(fragment) + 1))[:n]
        yield (fragment * (n // len(fragment) // 2))[: n // 2] + "x" * (n // 2)  # a long near-match, then text


def _run(name: str, n: int) -> float:
    pattern = PATTERNS[name]
    as_bytes = isinstance(pattern.pattern, bytes)
    started = time.monotonic()
    for text in _inputs(pattern, n):
        data = text.encode("utf-8") if as_bytes else text
        if name in ANCHORED:
            for start in range(0, 2000, 7):  # from many offsets, as on many inputs
                pattern.match(data, start)
        else:
            for _ in pattern.finditer(data):
                pass
    return time.monotonic() - started


@pytest.mark.parametrize("name", sorted(PATTERNS))
def test_a_pattern_that_sees_user_text_is_linear(name):
    """Ten times the input takes about ten times as long (a quadratic pattern: a hundred), within a bound; the
    half-second allowance absorbs a busy machine's noise on the short runs."""
    small, big = _run(name, N // 10), _run(name, N)
    assert big < BOUND and big < 30 * small + 0.5, (name, small, big)


def test_the_functions_around_them_are_linear_too():
    """The patterns as their callers use them, on the longest inputs they accept."""
    started = time.monotonic()
    for text in ("<1/" * 40_000, "</1." * 30_000, "<1/2/>" * 20_000, "x <3 " * 20_000):
        document.repair(text, {})
    flags: list = []
    base.strip_commentary("Here is the translation " * 5_000 + ": x", "Open", flags)
    for code in ("a-" * 50_000, "x-" + "a-" * 40, "en-" + "abcdefgh-" * 10):
        with pytest.raises(Exception):
            languages.normalize(code)
    po.edit_header(b'msgid ""\nmsgstr ""\n' + b'"a: b\\n"\n' * 20_000, {"Language": "de"})
    assert time.monotonic() - started < BOUND
