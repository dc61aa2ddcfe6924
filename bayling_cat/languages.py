"""Language codes as translators write them (de, pt-BR, zh_CN, ZH-HANS) and their English names."""

import re

from translate.lang import data as _tt

from bayling_cat.errors import UserError

# A well-formed BCP 47 tag (RFC 5646 section 2.1): language (with extended subtags), script, region,
# variants (ru-google, de-1996), extensions (en-u-ca-gregory) and private use (en-x-custom), or a private-use
# tag alone (x-xyz). Language subtags of 4 to 8 letters are left out: RFC 5646 reserves them and none is
# registered, so "deutsch" is a mistake to name, not a language. Written out: the grammar is these few lines,
# the tag must stay as the file wrote it (only its language is looked up, in translate-toolkit's table), and
# well-formed tags no registry lists (ru-google) must pass. Bounded input, no nested ambiguous repetition.
_TAG = re.compile(r"""(?:(?P<lang>[a-z]{2,3}(?:-[a-z]{3}){0,3})
    (?:-(?P<script>[a-z]{4}))?
    (?:-(?P<region>[a-z]{2}|[0-9]{3}))?
    (?P<rest>(?:-(?:[a-z0-9]{5,8}|[0-9][a-z0-9]{3}))*(?:-[a-wyz0-9](?:-[a-z0-9]{2,8})+)*(?:-x(?:-[a-z0-9]{1,8})+)?)
    |(?P<private>x(?:-[a-z0-9]{1,8})+))""", re.X)

# Names translate-toolkit does not give for a bare code (it lists only zh_CN, zh_TW, zh_HK).
_EXTRA = {"zh": "Chinese"}
_SCRIPTS = {"hans": "Simplified Chinese", "hant": "Traditional Chinese"}


def _invalid(code) -> UserError:
    return UserError(f"invalid language code {code!r}: expected a BCP 47 tag such as en, de, pt-BR, zh-Hans or "
                     "ru-x-custom")


def normalize(code: str, strict: bool = False) -> str:
    """Return the canonical BCP 47 form (language lower-case, Script title, REGION upper, the rest lower-case)
    of any well-formed tag whose language is known; variants, extensions and private use are kept. A language
    is known when translate-toolkit lists it; ISO 639-2/3 and deprecated codes are mapped to the code it lists
    (deu -> de, nob -> nb, iw -> he), and a language only CLDR names (Klingon: tlh) is accepted too, unless
    ``strict``: a guess from a file name (``app-fr.po``) must not read "app" as a language."""
    text = (code or "").strip().replace("_", "-")
    m = _TAG.fullmatch(text.lower()) if 0 < len(text) <= 80 else None
    if not m:
        raise _invalid(code)
    if m.group("private"):
        return m.group("private")
    lang, script, region = m.group("lang"), m.group("script"), m.group("region")
    if not _known(lang.split("-")[0]):
        standard = None if strict else _standard(lang.split("-")[0])
        if standard and _known(standard):
            lang = standard
        elif strict or _cldr_name(lang.split("-")[0]) is None:
            raise UserError(f"unknown language code {code!r}: expected a code such as en, de, pt-BR or zh-CN")
    parts = [lang]
    if script:
        parts.append(script.title())
    if region:
        parts.append(region.upper())
    return "-".join(parts) + m.group("rest")


def _known(lang: str) -> bool:
    """translate-toolkit's languages (the ones a PO file name may say: ISO 639-3 at large would read
    ``app-fr.po`` as the language "app"), and the range ISO 639 reserves for private use."""
    if lang in _tt.languages or lang in _EXTRA or any(k.startswith(lang + "_") for k in _tt.languages):
        return True
    return len(lang) == 3 and "qaa" <= lang <= "qtz"


def primary(code: str) -> str:
    """The language the model is asked for: ``ru`` for ru-google, ``en`` for en-US-x-custom, the tag itself for
    a private-use tag alone (x-xyz)."""
    canon = normalize(code)
    return canon if canon.startswith("x-") else canon.split("-")[0]


def name(code: str) -> str:
    """English name of a language for prompts: 'de' -> 'German', 'zh-Hant' -> 'Traditional Chinese'."""
    canon = normalize(code)
    if canon.startswith("x-"):  # private use: no language the model knows by name; the tag is its name
        return canon[2:]
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
        return _tt.languages[lang][0].split(";")[0]  # "Asturian; Bable; Leonese; Asturleonese"
    if lang in _EXTRA:
        return _EXTRA[lang]
    full = next((k for k in _tt.languages if k.startswith(lang + "_")), None)
    if full is not None:
        return _tt.languages[full][0].split(" (")[0]
    return _cldr_name(lang) or lang


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
