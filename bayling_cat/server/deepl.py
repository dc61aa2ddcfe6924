"""DeepL API v2 (/v2/...), as the official deepl SDK (server_url), Weblate's DeepL backend and plugins with a
custom DeepL address speak it."""

from __future__ import annotations

import re
import secrets
import time

from flask import Blueprint, Response, jsonify, request

from bayling_cat import languages
from bayling_cat.document import keep_outer_space
from bayling_cat.errors import UserError
from bayling_cat.server.common import (body, boolean, send_document, service, string, string_list, text_list,
                                      upload)
from bayling_cat.server.service import LANGUAGES, MAX_BODY, MAX_TEXT, ApiError, GlossaryRecord, entries_glossary

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
    src = deepl_lang(data["source_lang"], "source_lang") if data.get("source_lang") not in (None, "") else None
    glossary_id = string(data.get("glossary_id"), "glossary_id", required=False, max_chars=100)
    glossary_ids = (glossary_id,) if glossary_id else ()
    glossary_ids += newer_glossary_ids(data)
    if glossary_ids and src is None:
        raise ApiError(400, "Use of a glossary requires the source_lang parameter to be set.")
    if src is None:
        src = "en"  # no language detection: English, as most CAT projects' source; say so in the reply
    check_ignored_options(data)
    hints = request_hints(data, texts, tgt)
    tag_handling = string(data.get("tag_handling"), "tag_handling", required=False, max_chars=100)
    ignore = string_list(data.get("ignore_tags"), "ignore_tags", max_items=100, max_chars=100, comma=True)
    if tag_handling in ("xml", "html"):
        # elements named in ignore_tags (Weblate sends <x id="N"></x> placeables) are kept whole
        tags = [t.strip() for t in ignore if t.strip()]
        extra = "|".join(rf"<{re.escape(t)}\b[^>]*>.*?</{re.escape(t)}\s*>|<{re.escape(t)}\b[^>]*/>"
                         for t in tags) or None
        results = [(text, flags) for text, flags, _ in service().translate_tagged(
            texts, src, tgt, extra_pattern=extra, glossary_ids=glossary_ids, hints=hints)]
    elif tag_handling:
        raise ApiError(400, "Value for 'tag_handling' not supported.")
    else:
        gens = service().translate([t.strip() for t in texts], src, tgt, glossary_ids=glossary_ids, hints=hints)
        results = [(keep_outer_space(t, g.text), list(g.flags)) for t, g in zip(texts, gens)]
    detected = src.split("-")[0].upper()
    # "flags" is bayling-cat's own field (DeepL has none): what the native API reports, e.g. length-limit for
    # a translation cut at the generation limit; DeepL clients ignore fields they do not know
    return jsonify({"translations": [{"detected_source_language": detected, "text": text,
                                      "billed_characters": len(t), "flags": flags}
                                     for t, (text, flags) in zip(texts, results)]})


def check_ignored_options(data: dict) -> None:
    """DeepL's other options, each checked at the edge so that a mistake is not silent (formality and context
    are then acted on by request_hints; the rest are accepted)."""
    string(data.get("formality"), "formality", required=False,
           choices=("default", "more", "less", "prefer_more", "prefer_less"))
    split = data.get("split_sentences")
    if split is not None and str(split) not in ("0", "1", "nonewlines"):
        raise ApiError(400, "Value for 'split_sentences' not supported.")
    for name in ("preserve_formatting", "outline_detection", "show_billed_characters"):
        if data.get(name) is not None:
            boolean(data[name], name)
    string(data.get("context"), "context", required=False, max_chars=MAX_TEXT)
    string(data.get("model_type"), "model_type", required=False, max_chars=100)
    string_list(data.get("splitting_tags"), "splitting_tags", max_items=100, max_chars=100, comma=True)
    string_list(data.get("non_splitting_tags"), "non_splitting_tags", max_items=100, max_chars=100, comma=True)


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
        if data.get(name) is None or data.get(name) == "":
            raise ApiError(400, f"Parameter '{name}' not specified.")
    name = string(data["name"], "name")
    src, tgt = deepl_lang(data["source_lang"], "source_lang"), deepl_lang(data["target_lang"], "target_lang")
    fmt = string(data.get("entries_format"), "entries_format", required=False, default="tsv", choices=("tsv", "csv"))
    text = string(data["entries"], "entries", max_chars=MAX_BODY)
    entries = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split("\t") if fmt == "tsv" else line.split(",")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
            raise ApiError(400, f"Invalid glossary entries: line {n} has no source and target")
        entries.append({"source": parts[0].strip(), "target": parts[1].strip()})
    record = service().add_glossary(name, entries_glossary(entries, src, tgt))
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
            service().check_remove(gid)
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
    data, name = upload("file", "Parameter 'file' not specified.")
    tgt = deepl_lang(request.form.get("target_lang"), "target_lang")
    src = deepl_lang(request.form["source_lang"], "source_lang") if request.form.get("source_lang") else None
    glossary_id = string(request.form.get("glossary_id"), "glossary_id", required=False, max_chars=100)
    job_id = service().start_document(data, name, src, tgt, (glossary_id,) if glossary_id else ())
    with service().lock:
        key = service().jobs[job_id]["key"]
    return jsonify({"document_id": job_id, "document_key": key})


def deepl_job(job_id):
    key = string(body().get("document_key"), "document_key", max_chars=100)
    job = service().document(job_id)
    if not secrets.compare_digest(key.encode(), job["key"].encode()):
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
    if job["status"] == "error":  # final: "not ready" would have the client poll forever
        raise ApiError(400, f"Document translation failed: {job['error']}")
    if job["status"] != "done":
        raise ApiError(503, "Document not ready.", retry_after=2)
    return send_document(job, job["name"])


def deepl_lang(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Parameter '{name}' not specified.")
    if len(value) > 64 or not value.isprintable():
        raise ApiError(400, f"Value for '{name}' not supported.")
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
