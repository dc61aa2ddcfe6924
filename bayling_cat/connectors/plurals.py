"""Plural rules for gettext catalogues from CLDR (through babel), for every language CLDR knows.

A gettext plural expression sees an integer count ``n`` only, so each CLDR rule is compiled with the
operands of an integer (i = n; v, w, f, t, e and c = 0), and a category no integer reaches (Russian "other",
used only for fractions) gets no form: Russian stays at 3 forms, Welsh has its 6 (zero, one, two, few, many,
other), French its 3 (one, many for millions, other). Each expression is checked against CLDR's own rule on
the counts that matter before it is used; a language CLDR does not know has no rule here (the caller falls
back to translate-toolkit's table).
"""

from __future__ import annotations

import functools
import gettext

# the counts a category can first be reached at: all small numbers, and the round ones the "many" of French,
# Spanish, Italian or Catalan (millions) and Cornish or Breton need
COUNTS = list(range(0, 1001)) + [10 ** k * m for k in range(3, 10) for m in (1, 2, 3, 5)] + [1000001, 100001]


@functools.lru_cache(maxsize=256)
def cldr_plural(lang: str) -> tuple[int, str] | None:
    """(nplurals, C expression) for a BCP 47 tag (``cy``, ``pt-BR``, ``ru-x-custom``), or None when CLDR has no
    locale for it."""
    try:
        from babel import Locale
        from babel.plural import _GettextCompiler, _plural_tags
    except ImportError:  # pragma: no cover - babel is a dependency
        return None

    class IntegerCompiler(_GettextCompiler):
        compile_e = _GettextCompiler.compile_v  # the compact exponent: 0 for a plain integer, as v is
        compile_c = _GettextCompiler.compile_v

    rule = None
    parts = lang.replace("_", "-").split("-")
    for candidate in ("_".join(p for p in parts[:3] if len(p) in (2, 3, 4)), parts[0]):
        try:
            rule = Locale.parse(candidate).plural_form
            break
        except Exception:  # noqa: BLE001 - babel raises UnknownLocaleError and ValueError for unknown tags
            continue
    if rule is None:
        return None
    reached = {rule(n) for n in COUNTS}
    tags = [t for t in _plural_tags if t in reached]
    conditions = [(tag, ast) for tag, ast in rule.abstract if tag in reached]
    default = "other" if "other" in reached else conditions[-1][0]
    compiler = IntegerCompiler()
    branches = "".join(f"{compiler.compile(ast)} ? {tags.index(tag)} : " for tag, ast in conditions if tag != default)
    expression = f"({branches}{tags.index(default)})"
    try:  # never an expression that says something else than CLDR
        func = gettext.c2py(expression)
    except (ValueError, SyntaxError):
        return None
    if any(func(n) != tags.index(rule(n)) for n in COUNTS):
        return None
    return len(tags), expression


def same_rule(a: tuple[int, str], b: tuple[int, str]) -> bool:
    """Whether two (nplurals, expression) rules put every count in the same form."""
    if a[0] != b[0]:
        return False
    try:
        fa, fb = gettext.c2py(a[1]), gettext.c2py(b[1])
    except (ValueError, SyntaxError):
        return False
    return all(fa(n) == fb(n) for n in COUNTS)
