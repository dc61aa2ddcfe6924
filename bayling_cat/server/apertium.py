"""Apertium's APY protocol (/translate with ``langpair``, /listPairs), for OmegaT core: its only machine
translation connector with a custom server address is Apertium's (Options > Machine Translation > Apertium >
"use a custom server"). OmegaT sends ``GET {server}/translate?q=...&markUnknown=no&langpair=en|de&key=...``
and reads ``responseData.translatedText``, ``responseStatus`` and ``responseDetails``.

``/translate`` is shared with LibreTranslate: a request with ``langpair`` is Apertium's (the LibreTranslate
route hands it over here), one with ``source``/``target`` is LibreTranslate's.
"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from bayling_cat.errors import UserError
from bayling_cat import languages
from bayling_cat.server.common import check_text, core, request_glossary, service
from bayling_cat.server.errors import ApiError
from bayling_cat.server.service import LANGUAGES, MAX_SEGMENTS
from bayling_cat.server.translating import translate_marked
from bayling_cat.server.protocols import register

bp = Blueprint("apertium", __name__)
PREFIXES = ("/listPairs", "/listLanguageNames")
AUTH_STATUS = 403
REASONS = {400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
           413: "Payload Too Large", 500: "Internal Server Error", 503: "Service Unavailable",
           504: "Gateway Timeout"}


def error_body(status: int, message: str) -> dict:
    # the classic shape OmegaT and ScaleMT clients read, and the fields newer APY versions add
    return {"responseData": None, "responseDetails": message, "responseStatus": status,
            "status": "error", "code": status, "message": REASONS.get(status, "Error"), "explanation": message}


def apertium_lang(code: str) -> str:
    """Apertium's language codes (ISO 639-3 ``eng``, ``spa``; OmegaT's ``en_US``, ``pt_BR``, ``ca_valencia``,
    ``oc_aran``; two-letter ``en``) -> the canonical code bayling-cat uses."""
    import pycountry

    parts = re.split(r"[-_]", code.strip())
    base = parts[0].lower()
    if len(base) == 3:
        found = pycountry.languages.get(alpha_3=base)
        base = getattr(found, "alpha_2", None) or base
    # a region (US) or script (Hans) is kept; Apertium's variant names (valencia, aran) are not BCP 47 subtags
    rest = [p for p in parts[1:] if re.fullmatch(r"[A-Za-z]{2}|[0-9]{3}|Hans|Hant|Latn|Cyrl|Arab", p, re.I)]
    try:
        return languages.normalize("-".join([base, *rest]))
    except UserError:
        raise ApiError(400, f"That pair is invalid: unknown language {code!r}, use e.g. eng|spa or en|de") from None


def apertium_code(code: str) -> str:
    import pycountry

    found = pycountry.languages.get(alpha_2=code)
    return getattr(found, "alpha_3", code)


@bp.route("/listPairs", methods=["GET", "POST"])
def list_pairs():
    codes = [apertium_code(c) for c in LANGUAGES]
    return jsonify({"responseData": [{"sourceLanguage": s, "targetLanguage": t} for s in codes for t in codes
                                     if s != t], "responseDetails": None, "responseStatus": 200})


@bp.route("/listLanguageNames", methods=["GET", "POST"])
def list_language_names():
    wanted = [c for c in re.split(r"[+ ,]", request.values.get("languages", "")) if c] or \
        [apertium_code(c) for c in LANGUAGES]
    out = {}
    for code in wanted:
        try:
            out[code] = languages.name(apertium_lang(code))
        except (ApiError, UserError):
            continue
    return jsonify(out)


def translate_apertium():
    """/translate?langpair= by GET (OmegaT) or POST (shared.py routes it here); several ``q`` are one batch."""
    pair = request.values.get("langpair")
    if not pair:
        raise ApiError(400, "Missing argument langpair")
    src, sep, tgt = pair.partition("|")
    if not sep or not src.strip() or not tgt.strip():
        raise ApiError(400, f"That pair is invalid, use e.g. eng|spa (got {pair!r})")
    src, tgt = apertium_lang(src), apertium_lang(tgt)
    texts = request.values.getlist("q")
    if not texts:
        raise ApiError(400, "Missing argument q")
    if len(texts) > MAX_SEGMENTS:
        raise ApiError(413, f"at most {MAX_SEGMENTS} texts in one request")
    for i, text in enumerate(texts):  # the limits every protocol applies: 20,000 characters, text XML can hold
        check_text(text, "q" if len(texts) == 1 else f"q number {i + 1}")
    fmt = request.values.get("format", "txt") or "txt"
    if fmt not in ("txt", "html"):
        raise ApiError(400, f"format must be txt or html, not {fmt!r}")
    if request.values.get("markUnknown", "no") not in ("yes", "no", "true", "false", "1", "0"):
        raise ApiError(400, "markUnknown must be yes or no")
    todo = [i for i, t in enumerate(texts) if t.strip()]
    out = list(texts)
    if todo:
        # OmegaT's own tags (<f0>, </b1>) and HTML markup come back as they were, in both formats
        results = translate_marked(core(), [texts[i] for i in todo], src, tgt, request_glossary(src, tgt))
        service().count([texts[i] for i in todo])
        for i, result in zip(todo, results):
            out[i] = result.text
    data = {"translatedText": out[0]} if len(texts) == 1 else [{"translatedText": t} for t in out]
    return jsonify({"responseData": data, "responseDetails": None, "responseStatus": 200})


register("apertium", bp, PREFIXES, error_body, AUTH_STATUS)
