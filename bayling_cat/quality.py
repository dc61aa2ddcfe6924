"""Checks a reviewer would run anyway, on every machine translation: translate-toolkit's checkers
(placeholders, printf and python-format, numbers, URLs, e-mails, XML tags, brackets, end punctuation,
double spaces), and bayling-cat's own test for degenerate output (empty, the source copied, loops, a length
far from the source's)."""

from __future__ import annotations

from functools import lru_cache

from bayling_cat.document import PLACEHOLDER

CHECKS = ("printf", "pythonbraceformat", "variables", "numbers", "urls", "emails", "xmltags", "brackets",
          "endpunc", "doublespacing", "escapes", "newlines")


@lru_cache(maxsize=16)
def _checker(target_lang: str):
    from translate.filters import checks

    return checks.StandardChecker(checkerconfig=checks.CheckerConfig(targetlanguage=target_lang.replace("-", "_")))


def run_checks(source: str, target: str, target_lang: str) -> dict[str, str]:
    """{check name: message} for each check the translation fails."""
    from translate.filters.checks import FilterFailure, SeriousFilterFailure
    from translate.storage import pypo

    checker = _checker(target_lang)
    unit = pypo.pounit(source)
    unit.target = target
    failures = {}
    for name in CHECKS:
        test = getattr(checker, name, None)
        if test is None:
            continue
        try:
            test(source, target)
        except (FilterFailure, SeriousFilterFailure) as exc:
            failures[name] = str(exc.messages[0] if getattr(exc, "messages", None) else exc)
        except Exception:  # noqa: BLE001 - a checker that cannot judge this pair says nothing
            continue
    return failures


def plain(text: str, codes) -> str:
    """Text for the checkers: literal codes (PO placeholders) restored, element codes removed. A removed code
    that stood between two spaces takes one along, so that "Click <x/> to" reads "Click to" and only a
    space the translation itself doubled shows up in the double-space check."""
    out, pos = "", 0
    for m in PLACEHOLDER.finditer(text):
        out += text[pos:m.start()]
        pos = m.end()
        code = codes.get(int(m.group(2)))
        if code is not None and code.literal is not None:
            out += code.literal
        elif out.endswith(" ") and text.startswith(" ", pos):
            pos += 1
    return out + text[pos:]


def degenerate(source: str, target: str, flags, source_lang: str, target_lang: str) -> str | None:
    """Why a translation is degenerate, or None."""
    if any(f in ("repetition", "empty") for f in flags) or not target.strip():
        return "empty or looping output"
    src, tgt = source.strip(), target.strip()
    letters = sum(c.isalpha() for c in src)
    if letters >= 8 and src == tgt and source_lang.split("-")[0] != target_lang.split("-")[0]:
        return "a copy of the source"
    if len(src) >= 20 and not (0.2 <= len(tgt) / len(src) <= 4.0):
        return "length far outside the source's"
    return None
