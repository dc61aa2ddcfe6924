"""bayling-cat's own API (/v1, /health, /openapi.json), described in openapi.py."""

from __future__ import annotations


from flask import Blueprint, Response, jsonify, request

from bayling_cat import __version__
from bayling_cat.server.common import (body, boolean, check_text, core, document_result, glossaries, integer, lang,
                                      parts, request_glossary, service, string, string_list, terms_report,
                                      upload)
from bayling_cat.server.documents import start_document
from bayling_cat.server.errors import ApiError
from bayling_cat.server.glossaries import entries_glossary
from bayling_cat.server.openapi import spec
from bayling_cat.server.service import MAX_SEGMENTS, MAX_TEXT
from bayling_cat.server.translating import translate_marked
from bayling_cat.server.protocols import register
from bayling_cat.sessions import describe, segment_key

bp = Blueprint("native", __name__)
PREFIXES = ("/v1/", "/health", "/openapi.json")
AUTH_STATUS = 401
MAX_TURNS = 50  # revision turns in one conversation


def error_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message}}


@bp.get("/health")
def health():
    status = service().raw.status()
    return jsonify({"status": "ok", "model": service().model_name, "version": __version__,
                    "queued_segments": service().batcher.pending, "batches": service().batcher.batches,
                    "interactive": describe(service().raw),
                    **({"adapted": service().adapted} if service().adapted else {}),
                    **({"cluster": status} if status is not None else {})})


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())


@bp.post("/v1/translate")
def translate_v1():
    data = body()
    src = lang(data.get("source_lang"), "source_lang")
    tgt = lang(data.get("target_lang"), "target_lang")
    segments = data.get("segments")
    if not isinstance(segments, list) or not segments:
        raise ApiError(400, "'segments' must be a non-empty list")
    if len(segments) > MAX_SEGMENTS:
        raise ApiError(413, f"at most {MAX_SEGMENTS} segments in one request")
    ids, texts = [], []
    for i, seg in enumerate(segments):
        if isinstance(seg, dict):
            seg_id, seg = seg.get("id", i), seg.get("text")
            if isinstance(seg_id, bool) or not isinstance(seg_id, (str, int)):
                raise ApiError(400, f"segment {i}: 'id' must be a string or an integer")
            ids.append(check_text(str(seg_id), f"segment {i}: 'id'", 1000))
        else:
            ids.append(str(i))
        if not isinstance(seg, str):
            raise ApiError(400, f"segment {i}: a string or an object with a 'text' string")
        texts.append(check_text(seg, f"segment {i}"))
    glossary_ids = string_list(data.get("glossaries"), "glossaries", max_items=100)
    inline = data.get("terms")
    inline = entries_glossary([] if inline is None else inline, src, tgt)  # every entry's types and text checked
    max_revisions = integer(data.get("max_revisions", 2), "max_revisions")
    strategy = string(data.get("term_strategy"), "term_strategy", required=False, default="none",
                      choices=("none", "force"))
    glossary = request_glossary(src, tgt, glossary_ids, inline)
    results = translate_marked(core(max_revisions, strategy), texts, src, tgt, glossary)
    service().count(texts)
    matches = memory_matches(texts, src, tgt)
    return jsonify({"model": service().model_name, "source_lang": src, "target_lang": tgt, "translations": [
        {"id": i, "text": t.text, "flags": t.flags, "terms": terms_report(t.terms), **matches[n]}
        for n, (i, t) in enumerate(zip(ids, results))]})


def memory_matches(texts, src: str, tgt: str) -> list[dict]:
    """With ``serve --memory``: each segment's best human memory matches (exact or fuzzy, at least the fuzzy
    threshold), as a CAT tool lists them: percentage, source, target."""
    settings = parts().settings
    if settings.memory is None:
        return [{} for _ in texts]
    threshold = settings.fuzzy_threshold / 100
    return [{"matches": [{"percent": h.percent, "source": h.source, "target": h.target}
                         for h in settings.memory.matches(text.strip(), src, tgt, 3, threshold)]} for text in texts]


@bp.post("/v1/revise")
def revise_v1():
    from bayling_cat.revision import Conversation

    data = body()
    instruction = string(data.get("instruction"), "instruction", max_chars=MAX_TEXT)
    cid = string(data.get("conversation_id"), "conversation_id", required=False, max_chars=100)
    chat = parts().conversations.get(cid) if cid else None
    if chat is None:
        source = string(data.get("source"), "source", max_chars=MAX_TEXT)
        translation = string(data.get("translation"), "translation", max_chars=MAX_TEXT)
        chat = Conversation(source, translation, lang(data.get("source_lang"), "source_lang"),
                            lang(data.get("target_lang"), "target_lang"))
    if len(chat.turns) >= MAX_TURNS:  # each turn lengthens every later prompt: bounded like everything else
        raise ApiError(409, f"this conversation has {len(chat.turns)} turns, the most one may have: start a new "
                            "one with the last translation as 'translation'")
    result = core().revise(chat, instruction.strip(),
                           session=segment_key(chat.source, chat.source_lang, chat.target_lang))
    cid = parts().conversations.keep(chat, cid)
    return jsonify({"conversation_id": cid, "translation": result.text, "flags": result.flags,
                    "turns": len(chat.turns)})


@bp.post("/v1/complete")
def complete_v1():
    data = body()
    source = string(data.get("source"), "source", max_chars=MAX_TEXT)
    prefix = string(data.get("prefix"), "prefix", required=False, default="", max_chars=MAX_TEXT, blank=True)
    n = integer(data.get("alternatives", 5), "alternatives", 0, 10)
    src, tgt = lang(data.get("source_lang"), "source_lang"), lang(data.get("target_lang"), "target_lang")
    session = string(data.get("session"), "session", required=False, max_chars=200)
    continuation, words = service().complete(source, prefix, src, tgt, n,
                                             session=("client", session) if session else None)
    return jsonify({"prefix": prefix, "continuation": continuation, "alternatives": words})


@bp.post("/v1/documents")
def documents_v1():
    data, name = upload("file")
    tgt = lang(request.form.get("target_lang"), "target_lang")
    src = lang(request.form["source_lang"], "source_lang") if request.form.get("source_lang") else None
    glossary_ids = tuple(g for g in string_list(request.form.getlist("glossaries"), "glossaries", max_items=100)
                         if g)
    wait = not boolean(request.args.get("async", ""), "async")
    job = start_document(parts(), data, name, src, tgt, glossary_ids)
    if not wait:
        return jsonify({"id": job.id, "status": "queued", "status_url": f"/v1/documents/{job.id}"}), 202
    return document_result(parts().jobs.get(job.id, wait=service().timeout))


@bp.get("/v1/documents/<job_id>")
def document_status_v1(job_id):
    job = parts().jobs.get(job_id)
    return jsonify({"id": job_id, "status": job.status, "error": job.error,
                    "result_url": f"/v1/documents/{job_id}/result" if job.status == "done" else None})


@bp.get("/v1/documents/<job_id>/result")
def document_result_v1(job_id):
    return document_result(parts().jobs.get(job_id))


@bp.get("/v1/glossaries")
def glossaries_v1():
    return jsonify({"glossaries": [r.info() for r in glossaries().all()]})


@bp.post("/v1/glossaries")
def create_glossary_v1():
    if request.files.get("file") is not None:
        data, name = upload("file")
        record = glossaries().from_file(
            string(request.form.get("name"), "name", required=False, default=name), data, name,
            lang(request.form.get("source_lang"), "source_lang"),
            lang(request.form.get("target_lang"), "target_lang"))
    else:
        data = body()
        src = lang(data.get("source_lang"), "source_lang")
        tgt = lang(data.get("target_lang"), "target_lang")
        entries = data.get("entries")
        if not isinstance(entries, list) or not entries:
            raise ApiError(400, "'entries' must be a non-empty list of {source, target, kind}")
        name = string(data.get("name"), "name", required=False, default="glossary")
        record = glossaries().add(name, entries_glossary(entries, src, tgt))
    return jsonify(record.info()), 201


@bp.get("/v1/glossaries/<gid>")
def glossary_v1(gid):
    record = glossaries().get(gid)
    if record is None:
        raise ApiError(404, f"unknown glossary {gid!r}")
    info = record.info()
    info["entries"] = [{"source": t.source, "targets": t.targets, "forbidden": t.forbidden, "dnt": t.dnt}
                       for t in record.glossary.terms]
    return jsonify(info)


@bp.delete("/v1/glossaries/<gid>")
def delete_glossary_v1(gid):
    glossaries().remove(gid)
    return Response(status=204)


register("native", bp, PREFIXES, error_body, AUTH_STATUS, public=("/health", "/openapi.json"))
