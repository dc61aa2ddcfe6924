"""Language names and codes as CAT tools and their plugins write them in prompts -> BCP 47 tags.

The names come from ``langcodes`` (with ``language_data``, which holds CLDR's language, script and territory
names in many languages), not from a table of our own: "German" -> de, "Deutsch" -> de, "德语" -> de,
"Klingon" -> tlh, "Simplified Chinese" -> zh-Hans. ``langcodes.find`` drops what a name says in parentheses,
so a qualifier is read separately, as a script ("Chinese (Traditional)" -> zh-Hant, "Serbian (Latin)" ->
sr-Latn) or as a territory ("German (Switzerland)" -> de-CH, "Chinese (Hong Kong S.A.R.)" -> zh-HK, the way
memoQ names its languages). Codes are read as tags (``pt_BR``, ``EN-US``, ``zh-Hant``, ``nob``).

``tag()`` gives the well-formed tag or None; ``canonical()`` then maps it to the code the rest of bayling-cat
uses (``languages.normalize``), or None for a tag that names no language anyone knows (``xx-YY``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from bayling_cat import languages
from bayling_cat.errors import UserError

# qualifiers memoQ and Trados write in a way CLDR does not name (memoQ's LanguageHelper: "Arabic (U.A.E.)",
# "Chinese (PRC)", "Norwegian (Bokmål)"); everything else is looked up in CLDR's names
_QUALIFIERS = {"u.a.e.": "AE", "prc": "CN", "bokmål": None, "bokmal": None, "nynorsk": None, "syllabics": "Cans",
               "scotland": None, "shahmukhi": "Arab"}
# names that mean a particular language first (langcodes gives the macrolanguage or a subtag we do not use)
_NAMES = {"mandarin": "zh", "norwegian (bokmål)": "nb", "norwegian (bokmal)": "nb", "norwegian (nynorsk)": "nn",
          "bokmål": "nb", "nynorsk": "nn", "cantonese": "yue", "filipino": "fil", "tagalog": "tl"}
_CODE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def tag(text: str) -> str | None:
    """A language name or code -> a BCP 47 tag (not checked against the languages bayling-cat knows)."""
    text = " ".join(text.split()).strip("'\"‘’“”「」[]:：, ")
    if text.endswith(".") and not text.endswith(".)"):
        text = text[:-1]
    if not text or len(text) > 80:
        return None
    if _CODE.fullmatch(text):
        found = _from_code(text)
        if found:
            return found
    return _from_name(text)


def canonical(text: str) -> str | None:
    """A language name or code -> the code bayling-cat uses for it, or None when it names no known language."""
    found = tag(text)
    if found is None:
        return None
    try:
        return languages.normalize(found)
    except UserError:
        return None


@lru_cache(maxsize=4096)
def _from_code(code: str) -> str | None:
    import langcodes

    value = code.replace("_", "-")
    if not langcodes.tag_is_valid(value):
        return None
    parsed = langcodes.Language.get(value)
    if parsed.language is None or parsed.language in ("und",) or not parsed.is_valid():
        return None
    return parsed.to_tag()


@lru_cache(maxsize=4096)
def _from_name(text: str) -> str | None:
    import langcodes

    lowered = text.lower()
    if lowered in _NAMES:
        return _NAMES[lowered]
    base, _, rest = text.partition("(")
    qualifier = rest.rstrip(")").strip() if rest else ""
    try:
        found = langcodes.find(base.strip())
    except LookupError:
        return None
    if found.language is None:
        return None
    if qualifier:
        found = _qualified(found, qualifier)
    return found.to_tag()


def _qualified(found, qualifier: str):
    """A name's parenthesised qualifier as a script or a territory of ``found``; unknown ones are dropped."""
    import langcodes

    key = qualifier.lower()
    if key in _QUALIFIERS:
        value = _QUALIFIERS[key]
        if value is None:
            return found
        return found.update_dict({"script": value} if len(value) == 4 else {"territory": value})
    cleaned = re.sub(r"\bS\.A\.R\.?", "", qualifier).strip()
    for kind, field in (("territory", "territory"), ("script", "script")):  # "Latin America" is no script
        try:
            part = langcodes.find_name(kind, cleaned, "en")
        except LookupError:
            continue
        value = getattr(part, field)
        if value:
            return found.update_dict({field: value})
    return found
