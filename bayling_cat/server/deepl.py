"""DeepL API v2 (/v2/...), as the official deepl SDK (server_url), Weblate's DeepL backend and plugins with a
custom DeepL address speak it."""

from __future__ import annotations

import re
import time

from flask import Blueprint, Response, jsonify, request, send_file

from bayling_cat import languages
from bayling_cat.document import keep_outer_space
from bayling_cat.errors import UserError
from bayling_cat.server.common import body, service, text_list
from bayling_cat.server.service import LANGUAGES, ApiError, GlossaryRecord, entries_glossary

bp = Blueprint("deepl", __name__)
PREFIXES = ("/v2/",)
AUTH_STATUS = 403


def error_body(status: int, message: str) -> dict:
    return {"message": message}


@bp.post("/v2/translate")
def translate_deepl():
    data = body()
    if "text" not in data:
        raise ApiError(400, "Parameter 'text' not specified.")
    texts = text_list(data["text"], "text")
    tgt = deepl_lang(data.get("target_lang"), "target_lang")
    src = deepl_lang(data["source_lang"], "source_lang") if data.get("source_lang") else None
    glossary_ids = (data["glossary_id"],) if data.get("glossary_id") else ()
    glossary_ids += newer_glossary_ids(data)
    if glossary_ids and src is None:
        raise ApiError(400, "Use of a glossary requires the source_lang parameter to be set.")
    if src is None:
        src = "en"  # no language detection: English, as most CAT projects' source; say so in the reply
    hints = request_hints(data, texts, tgt)
    tag_handling = data.get("tag_handling")
    ignore = data.get("ignore_tags") or []
    if isinstance(ignore, str):
        ignore = ignore.split(",")
    if tag_handling in ("xml", "html"):
        # elements named in ignore_tags (Weblate sends <x id="N"></x> placeables) are kept whole
        tags = [t.strip() for t in ignore if isinstance(t, str) and t.strip()]
        extra = "|".join(rf"<{re.escape(t)}\b[^>]*>.*?</{re.escape(t)}\s*>|<{re.escape(t)}\b[^>]*/>"
                         for t in tags) or None
        results = [r[0] for r in service().translate_tagged(texts, src, tgt, extra_pattern=extra,
                                                          glossary_ids=glossary_ids, hints=hints)]
    elif tag_handling:
        raise ApiError(400, "Value for 'tag_handling' not supported.")
    else:
        gens = service().translate([t.strip() for t in texts], src, tgt, glossary_ids=glossary_ids, hints=hints)
        results = [keep_outer_space(t, g.text) for t, g in zip(texts, gens)]
    detected = src.split("-")[0].upper()
    return jsonify({"translations": [{"detected_source_language": detected, "text": r,
                                      "billed_characters": len(t)} for t, r in zip(texts, results)]})


@bp.route("/v2/languages", methods=["GET", "POST"])
def languages_deepl():
    # the DeepL SDK sends type=target in the body of a GET, which request.values ignores
    target = (request.args.get("type") or request.form.get("type") or "source") == "target"
    out = []
    for code in LANGUAGES:
        codes = {"en": ["EN-GB", "EN-US"], "pt": ["PT-BR", "PT-PT"], "zh": ["ZH-HANS", "ZH-HANT"]}.get(code) \
            if target else None
        for c in codes or [code.upper()]:
            entry = {"language": c, "name": languages.name(c)}
            if target:
                entry["supports_formality"] = True  # an instruction in BayLing's request
            out.append(entry)
    return jsonify(out)


@bp.route("/v2/usage", methods=["GET", "POST"])
def usage_deepl():
    return jsonify({"character_count": service().characters, "character_limit": 1_000_000_000_000})


@bp.get("/v2/glossary-language-pairs")
def glossary_pairs_deepl():
    return jsonify({"supported_languages": [{"source_lang": s, "target_lang": t}
                                            for s in LANGUAGES for t in LANGUAGES if s != t]})


def deepl_glossary(record: GlossaryRecord) -> dict:
    return {"glossary_id": record.id, "name": record.name, "ready": True,
            "source_lang": record.glossary.source_lang.split("-")[0],
            "target_lang": record.glossary.target_lang.split("-")[0],
            "creation_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(record.created)),
            "entry_count": len(record.glossary)}


@bp.post("/v2/glossaries")
def create_glossary_deepl():
    data = body()
    for name in ("name", "source_lang", "target_lang", "entries"):
        if not data.get(name):
            raise ApiError(400, f"Parameter '{name}' not specified.")
    src, tgt = deepl_lang(data["source_lang"], "source_lang"), deepl_lang(data["target_lang"], "target_lang")
    fmt = data.get("entries_format", "tsv")
    if fmt not in ("tsv", "csv"):
        raise ApiError(400, "Value for 'entries_format' not supported.")
    entries = []
    for n, line in enumerate(str(data["entries"]).splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t") if fmt == "tsv" else line.split(",")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
            raise ApiError(400, f"Invalid glossary entries: line {n} has no source and target")
        entries.append({"source": parts[0].strip(), "target": parts[1].strip()})
    record = service().add_glossary(str(data["name"]), entries_glossary(entries, src, tgt))
    return jsonify(deepl_glossary(record)), 201


@bp.get("/v2/glossaries")
def list_glossaries_deepl():
    with service().lock:
        return jsonify({"glossaries": [deepl_glossary(r) for r in service().glossaries.values()]})


@bp.route("/v2/glossaries/<gid>", methods=["GET", "DELETE"])
def glossary_deepl(gid):
    with service().lock:
        record = service().glossaries.get(gid)
        if record is None:
            raise ApiError(404, "Glossary not found.")
        if request.method == "DELETE":
            del service().glossaries[gid]
            return Response(status=204)
    return jsonify(deepl_glossary(record))


@bp.get("/v2/glossaries/<gid>/entries")
def glossary_entries_deepl(gid):
    with service().lock:
        record = service().glossaries.get(gid)
    if record is None:
        raise ApiError(404, "Glossary not found.")
    lines = [f"{t.source}\t{t.preferred}" for t in record.glossary.terms if t.targets or t.dnt]
    return Response("\n".join(lines), mimetype="text/tab-separated-values")


@bp.post("/v2/document")
def document_deepl():
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "Parameter 'file' not specified.")
    tgt = deepl_lang(request.form.get("target_lang"), "target_lang")
    src = deepl_lang(request.form["source_lang"], "source_lang") if request.form.get("source_lang") else None
    glossary_ids = (request.form["glossary_id"],) if request.form.get("glossary_id") else ()
    job_id = service().start_document(upload.read(), upload.filename, src, tgt, glossary_ids)
    with service().lock:
        key = service().jobs[job_id]["key"]
    return jsonify({"document_id": job_id, "document_key": key})


def deepl_job(job_id):
    data = body()
    job = service().document(job_id)
    if data.get("document_key") != job["key"]:
        raise ApiError(403, "Invalid document key.")
    return job


@bp.post("/v2/document/<job_id>")
def document_status_deepl(job_id):
    job = deepl_job(job_id)
    status = {"queued": "queued", "translating": "translating", "done": "done", "error": "error"}[job["status"]]
    answer = {"document_id": job_id, "status": status}
    if status == "done":
        answer["billed_characters"] = job["characters"]
    elif status == "translating":
        answer["seconds_remaining"] = 2
    elif status == "error":
        answer["error_message"] = job["error"]
    return jsonify(answer)


@bp.post("/v2/document/<job_id>/result")
def document_result_deepl(job_id):
    job = deepl_job(job_id)
    if job["status"] != "done":
        raise ApiError(503, "Document not ready.", retry_after=2)
    return send_file(job["output"], as_attachment=True, download_name=job["name"])


def deepl_lang(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Parameter '{name}' not specified.")
    code = value.strip()
    code = {"EN": "en", "PT": "pt", "ZH": "zh"}.get(code.upper(), code)
    try:
        return languages.normalize(code)
    except UserError:
        raise ApiError(400, f"Value for '{name}' not supported.") from None


# -- what newer clients send on /v2/translate ------------------------------------------------------------------

FORMALITIES = ("default", "more", "less", "prefer_more", "prefer_less")
FLAGS = {"0", "1", "false", "true", "nonewlines"}


def request_hints(data: dict, texts: list[str], target_lang: str):
    """``formality`` becomes an instruction in BayLing's request and ``context`` is given to the model as
    context (neither is translated nor returned); ``model_type``, ``split_sentences`` and
    ``preserve_formatting`` are accepted (each segment is translated whole, its outer whitespace kept)."""
    from bayling_cat.templates import Note, formality_instruction

    formality = data.get("formality") or "default"
    if formality not in FORMALITIES:
        raise ApiError(400, "Value for 'formality' not supported.")
    context = data.get("context")
    if context is not None and not isinstance(context, str):
        raise ApiError(400, "Value for 'context' not supported.")
    for name in ("split_sentences", "preserve_formatting"):
        value = data.get(name)
        if value is not None and str(value).lower() not in FLAGS:
            raise ApiError(400, f"Value for '{name}' not supported.")
    if data.get("model_type") not in (None, "latency_optimized", "quality_optimized", "prefer_quality_optimized"):
        raise ApiError(400, "Value for 'model_type' not supported.")
    note = Note(formality_instruction(formality, target_lang) or "", context)
    return [note] * len(texts) if note else None


def newer_glossary_ids(data: dict) -> tuple[str, ...]:
    """``glossary_ids`` (a list, or one comma-separated field in a form) as the newer SDKs send it."""
    ids = data.get("glossary_ids")
    if ids is None:
        return ()
    if isinstance(ids, str):
        ids = ids.split(",")
    if not isinstance(ids, list) or any(not isinstance(g, str) for g in ids):
        raise ApiError(400, "Value for 'glossary_ids' not supported.")
    return tuple(g.strip() for g in ids if g.strip())
