"""LibreTranslate's protocol (/translate, /languages, /translate_file), as OmegaT's LibreTranslate plugin,
Weblate and the libretranslatepy client speak it."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from bayling_cat import languages
import re

from bayling_cat.server.common import (body, core, document_result, integer, lang, parts, request_glossary, service,
                                      string, text_list, upload)
from bayling_cat.server.documents import start_document
from bayling_cat.server.errors import ApiError
from bayling_cat.server.protocols import owner_of_translate
from bayling_cat.server.service import LANGUAGES
from bayling_cat.server.translating import TAGS, translate_marked
from bayling_cat.server.protocols import register

bp = Blueprint("libretranslate", __name__)
PREFIXES = ("/translate", "/languages", "/translate_file", "/download_file", "/detect")
AUTH_STATUS = 403
WEBLATE_PLACEABLE = r"\[X\d+X\]"


def error_body(status: int, message: str) -> dict:
    return {"error": message}


@bp.route("/languages", methods=["GET", "POST"])
def languages_lt():
    return jsonify([{"code": c, "name": languages.name(c), "targets": [t for t in LANGUAGES if t != c]}
                    for c in LANGUAGES])


@bp.post("/translate")
def translate_lt():
    if owner_of_translate(request.values, request.method) == "apertium":  # the path both protocols use
        from bayling_cat.server.apertium import translate_apertium

        return translate_apertium()
    data = body()
    if "q" not in data:
        raise ApiError(400, "Invalid request: missing q parameter")
    q = data["q"]
    texts = text_list(q, "q")
    source = string(data.get("source"), "source", required=False, default="auto", max_chars=64)
    if source == "auto":
        raise ApiError(400, "source 'auto' is not supported: give the source language")
    src, tgt = lang(source, "source"), lang(data.get("target"), "target")
    alternatives = integer(data.get("alternatives", 0), "alternatives", 0, 3)
    fmt = string(data.get("format"), "format", required=False, default="text", choices=("text", "html"))
    # Weblate wraps placeables as [X<offset>X]: kept whole in both formats
    pattern = re.compile(f"{WEBLATE_PLACEABLE}|{TAGS.pattern}" if fmt == "html" else WEBLATE_PLACEABLE, re.S)
    glossary = request_glossary(src, tgt)
    results = [(t.text, t.flags) for t in translate_marked(core(), texts, src, tgt, glossary, pattern)]
    service().count(texts)
    # "flags" is bayling-cat's own field, shaped like translatedText (LibreTranslate has none): e.g.
    # length-limit for a translation cut at the generation limit
    translated, flags = [text for text, _ in results], [f for _, f in results]
    answer = {"translatedText": translated if isinstance(q, list) else translated[0],
              "flags": flags if isinstance(q, list) else flags[0]}
    if alternatives:
        alts = [service().complete(t, "", src, tgt, alternatives + 1)[1][1:] for t in texts]
        answer["alternatives"] = alts if isinstance(q, list) else alts[0]
    return jsonify(answer)


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
