"""LibreTranslate's protocol (/translate, /languages, /translate_file), as OmegaT's LibreTranslate plugin,
Weblate and the libretranslatepy client speak it."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

from bayling_cat import languages
from bayling_cat.server.common import (body, core, document_result, integer, lang, parts, request_glossary, service,
                                      string, text_list, upload)
from bayling_cat.server.documents import start_document
from bayling_cat.server.errors import ApiError
from bayling_cat.server.service import LANGUAGES
from bayling_cat.server.translating import TAGS, translate_marked
from bayling_cat.server.protocols import register

bp = Blueprint("libretranslate", __name__)
PREFIXES = ("/translate", "/languages", "/translate_file", "/download_file", "/detect")
AUTH_STATUS = 403
# placeables kept whole in text format too: Weblate's [X<offset>X], and OmegaT's short tags (<f0>, </b1>, <x2/>),
# which its LibreTranslate plugin sends as they are shown in the editor
TEXT_PLACEABLES = r"\[X\d+X\]|</?[A-Za-z]{1,3}\d{1,4}/?>"


def error_body(status: int, message: str) -> dict:
    return {"error": message}


@bp.route("/languages", methods=["GET", "POST"])
def languages_lt():
    return jsonify([{"code": c, "name": languages.name(c), "targets": [t for t in LANGUAGES if t != c]}
                    for c in LANGUAGES])


def translate_lt():
    """LibreTranslate's /translate, by POST or by GET (OmegaT's LibreTranslate plugin); shared.py routes it."""
    data = body() if request.method == "POST" else \
        {k: (v if len(request.args.getlist(k)) == 1 else request.args.getlist(k)) for k, v in request.args.items()}
    if "q" not in data:
        raise ApiError(400, "Invalid request: missing q parameter")
    q = data["q"]
    texts = text_list(q, "q")
    source = string(data.get("source"), "source", required=False, default="auto", max_chars=64)
    tgt = lang(data.get("target"), "target")
    alternatives = integer(data.get("alternatives", 0), "alternatives", 0, 3)
    fmt = string(data.get("format"), "format", required=False, default="text", choices=("text", "html"))
    if source == "auto":  # each text's own language, as LibreTranslate detects it
        found = [_detected(t) for t in texts]
        sources = [f["language"] for f in found]
    else:
        found, sources = None, [lang(source, "source")] * len(texts)
    results = _translate_grouped(texts, sources, tgt, fmt)
    # "flags" is bayling-cat's own field, shaped like translatedText (LibreTranslate has none): e.g.
    # length-limit for a translation cut at the generation limit
    translated, flags = [text for text, _ in results], [f for _, f in results]
    one = not isinstance(q, list)
    answer = {"translatedText": translated[0] if one else translated, "flags": flags[0] if one else flags}
    if found is not None:
        answer["detectedLanguage"] = found[0] if one else found
    if alternatives:
        alts = [whole_alternatives(t, s, tgt, alternatives, main, fmt)
                for t, s, main in zip(texts, sources, translated)]
        answer["alternatives"] = alts[0] if one else alts
    return jsonify(answer)


def _pattern(fmt: str) -> re.Pattern:
    """What a request's text holds that the model must copy: the placeables, and markup in format html."""
    return re.compile(f"{TEXT_PLACEABLES}|{TAGS.pattern}" if fmt == "html" else TEXT_PLACEABLES, re.S)


def _translate_grouped(texts, sources, tgt, fmt):
    """Translate texts whose source languages may differ (source "auto"): one call of the core per language,
    answers in order."""
    out = [None] * len(texts)
    for src in dict.fromkeys(sources):
        idx = [i for i, s in enumerate(sources) if s == src]
        if src == tgt:  # already in the target language: LibreTranslate gives it back as it is
            for i in idx:
                out[i] = (texts[i], [])
            continue
        done = translate_marked(core(), [texts[i] for i in idx], src, tgt, request_glossary(src, tgt), _pattern(fmt))
        service().count([texts[i] for i in idx])
        for i, result in zip(idx, done):
            out[i] = (result.text, result.flags)
    return out


def _detected(text: str) -> dict:
    """The language a text is translated from under source "auto": the likeliest one when it is at least 40 %
    sure (DETECT_CONFIDENCE), else English (a one-word string is as often "sr" at 1 % as anything else); the
    confidence is the one the identifier gave the language used."""
    from bayling_cat import langid
    from bayling_cat.server.recognize import DETECT_CONFIDENCE

    ranked = langid.ranked(text, 3)
    if ranked and ranked[0][1] >= DETECT_CONFIDENCE:
        return {"confidence": round(ranked[0][1] * 100, 1), "language": ranked[0][0]}
    english = next((p for code, p in ranked if code == "en"), 0.0)
    return {"confidence": round(english * 100, 1), "language": "en"}


@bp.post("/detect")
def detect_lt():
    """LibreTranslate's /detect: the likeliest languages of ``q`` with their confidence (0 to 100)."""
    from bayling_cat import langid

    data = body()
    if "q" not in data:
        raise ApiError(400, "Invalid request: missing q parameter")
    texts = text_list(data["q"], "q")
    found = [[{"confidence": round(p * 100, 1), "language": code} for code, p in langid.ranked(t, 3)]
             for t in texts]
    return jsonify(found if isinstance(data["q"], list) else found[0])


def whole_alternatives(text: str, src: str, tgt: str, count: int, main: str, fmt: str = "text") -> list[str]:
    """Up to ``count`` other whole translations of ``text``, as LibreTranslate gives them (its engine returns
    several hypotheses): drawn by sampling from the same model through the translation core (placeables
    protected, glossary applied, as the main translation), each different from the main one and the others."""
    from bayling_cat.translator import CoreOptions, Translator

    if not text.strip() or src == tgt:
        return []
    sampler = Translator(service().engine.with_decoding(sampling_temperature=0.8, sampling_topk=40), None,
                         CoreOptions(model_id=service().model_name, checks=False, retry=False, store=False))
    glossary = request_glossary(src, tgt)
    seen, out = {main}, []
    for _ in range(2 * count + 1):  # sampling may repeat itself: a bounded number of draws
        [result] = translate_marked(sampler, [text], src, tgt, glossary, _pattern(fmt))
        if result.text.strip() and result.text not in seen:
            seen.add(result.text)
            out.append(result.text)
        if len(out) == count:
            break
    return out


@bp.post("/translate_file")
def translate_file_lt():
    data, name = upload("file", "Invalid request: missing file parameter")
    source = string(request.form.get("source"), "source", required=False, default="auto", max_chars=64)
    src = None if source == "auto" else lang(source, "source")
    tgt = lang(request.form.get("target"), "target")
    job = parts().jobs.get(start_document(parts(), data, name, src, tgt).id, wait=service().timeout)
    if job.status != "done":
        raise ApiError(400, job.error or "the file could not be translated")
    return jsonify({"translatedFileUrl": f"{request.host_url}download_file/{job.id}/{job.output.name}"})


@bp.get("/download_file/<job_id>/<name>")
def download_lt(job_id, name):
    return document_result(parts().jobs.get(job_id))


register("libretranslate", bp, PREFIXES, error_body, AUTH_STATUS, public=("/languages",))  # as in LibreTranslate
