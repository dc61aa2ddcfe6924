"""Language codes as translators write them (de, pt-BR, zh_CN, ZH-HANS) and their English names."""

import re

from translate.lang import data as _tt

from bayling_cat.errors import UserError

_CODE = re.compile(r"^([A-Za-z]{2,3})(?:[-_]([A-Za-z]{4}))?(?:[-_]([A-Za-z]{2}|[0-9]{3}))?$")

# Names translate-toolkit does not give for a bare code (it lists only zh_CN, zh_TW, zh_HK).
_EXTRA = {"zh": "Chinese"}
_SCRIPTS = {"hans": "Simplified Chinese", "hant": "Traditional Chinese"}


def normalize(code: str) -> str:
    """Return the canonical BCP 47 form (language lower-case, Script title, REGION upper)."""
    m = _CODE.match(code.strip()) if code else None
    if not m:
        raise UserError(f"invalid language code {code!r}: expected a code such as en, de, pt-BR or zh-CN")
    lang, script, region = m.group(1).lower(), m.group(2), m.group(3)
    if not _listed(lang):
        standard = _standard(lang)  # ISO 639-2/3 and deprecated codes: deu -> de, nob -> nb, iw -> he
        if standard and _listed(standard):
            lang = standard
        elif _cldr_name(lang) is None:
            raise UserError(f"unknown language code {code!r}: expected a code such as en, de, pt-BR or zh-CN")
    parts = [lang]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts)


def name(code: str) -> str:
    """English name of a language for prompts: 'de' -> 'German', 'zh-Hant' -> 'Traditional Chinese'."""
    canon = normalize(code)
    parts = canon.split("-")
    lang = parts[0]
    script = next((p for p in parts[1:] if len(p) == 4), None)
    if script and script.lower() in _SCRIPTS and lang == "zh":
        return _SCRIPTS[script.lower()]
    if lang == "zh":
        region = next((p for p in parts[1:] if len(p) != 4), None)
        if region in ("TW", "HK", "MO"):
            return "Traditional Chinese"
        return "Chinese"
    if lang in _tt.languages:
        return _tt.languages[lang][0]
    if lang in _EXTRA:
        return _EXTRA[lang]
    full = next((k for k in _tt.languages if k.startswith(lang + "_")), None)
    if full is None:
        return _cldr_name(lang)
    return _tt.languages[full][0].split(" (")[0]


def _listed(lang: str) -> bool:
    return lang in _tt.languages or lang in _EXTRA or any(k.startswith(lang + "_") for k in _tt.languages)


def _standard(lang: str) -> str | None:
    """The language subtag BCP 47 prefers for ``lang`` (langcodes), or None."""
    import langcodes

    try:
        return langcodes.standardize_tag(lang).split("-")[0]
    except (ValueError, LookupError):
        return None


def _cldr_name(lang: str) -> str | None:
    """The English name CLDR gives a language translate-toolkit does not list (Klingon: tlh), via langcodes;
    None for a code that names no language (xx)."""
    import langcodes

    try:
        parsed = langcodes.Language.get(lang)
    except (ValueError, LookupError):
        return None
    if not parsed.is_valid():
        return None
    name = parsed.language_name("en")
    return None if name.startswith("Unknown language") else name
