"""bayling-cat's own API (/v1, /health, /openapi.json), described in openapi.py."""

from __future__ import annotations


from flask import Blueprint, Response, jsonify, request

from bayling_cat import __version__
from bayling_cat.server.common import body, document_result, integer, lang, service, terms_report
from bayling_cat.server.openapi import spec
from bayling_cat.server.service import MAX_SEGMENTS, ApiError, entries_glossary

bp = Blueprint("native", __name__)
PREFIXES = ("/v1/", "/health", "/openapi.json")
AUTH_STATUS = 401


def error_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message}}


@bp.get("/health")
def health():
    return jsonify({"status": "ok", "model": service().model_name, "version": __version__,
                    "queued_segments": service().batcher.pending, "batches": service().batcher.batches})


@bp.get("/openapi.json")
def openapi():
    return jsonify(spec())


@bp.get("/v1/models")
def models():
    engine = service().engine
    info = getattr(engine, "info", None)
    return jsonify({"models": [{
        "name": service().model_name, "path": str(getattr(engine, "path", "")), "loaded": True,
        "template": getattr(info, "template", None), "quantization": getattr(info, "quantization", None),
        "device": getattr(engine, "device", None), "compute_type": getattr(engine, "compute_type", None)}]})


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
        if isinstance(seg, str):
            ids.append(str(i))
            texts.append(seg)
        elif isinstance(seg, dict) and isinstance(seg.get("text"), str):
            ids.append(str(seg.get("id", i)))
            texts.append(seg["text"])
        else:
            raise ApiError(400, f"segment {i}: a string or an object with a 'text' string")
    glossary_ids = data.get("glossaries") or []
    if not isinstance(glossary_ids, list) or any(not isinstance(g, str) for g in glossary_ids):
        raise ApiError(400, "'glossaries' must be a list of glossary ids")
    inline = data.get("terms") or []
    if inline:
        entries_glossary(inline, src, tgt)  # validates the entries, with their own error messages
        inline = [(e["source"].strip(), (e.get("target") or "").strip(), e.get("kind", "preferred"))
                  for e in inline]
    max_revisions = integer(data.get("max_revisions", 2), "max_revisions")
    strategy = data.get("term_strategy", "none")
    if strategy not in ("none", "force"):
        raise ApiError(400, "'term_strategy' must be 'none' or 'force'")
    results = service().translate_tagged(texts, src, tgt, glossary_ids=tuple(glossary_ids),
                                       max_revisions=max_revisions, strategy=strategy, inline=tuple(inline))
    matches = memory_matches(texts, src, tgt)
    return jsonify({"model": service().model_name, "source_lang": src, "target_lang": tgt, "translations": [
        {"id": i, "text": text, "flags": flags, "terms": terms_report(terms), **matches[n]}
        for n, (i, (text, flags, terms)) in enumerate(zip(ids, results))]})


def memory_matches(texts, src: str, tgt: str) -> list[dict]:
    """With ``serve --memory``: each segment's best human memory matches (exact or fuzzy, at least the fuzzy
    threshold), as a CAT tool lists them: percentage, source, target."""
    memory = getattr(service(), "memory", None)
    if memory is None:
        return [{} for _ in texts]
    threshold = service().fuzzy_threshold / 100
    out = []
    for text in texts:
        found = []
        exact = memory.exact(text.strip(), src, tgt) if text.strip() else None
        if exact is not None and exact.origin == "human":
            found.append(exact)
        found += memory.similar(text, src, tgt, 3 - len(found), threshold)
        out.append({"matches": [{"percent": h.percent, "source": h.source, "target": h.target} for h in found]})
    return out


@bp.post("/v1/revise")
def revise_v1():
    from bayling_cat.revision import Conversation

    data = body()
    instruction = data.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise ApiError(400, "'instruction' is required")
    cid = data.get("conversation_id")
    chat = service().conversation(cid) if cid else None
    if chat is None:
        for name in ("source", "translation"):
            if not isinstance(data.get(name), str) or not data[name].strip():
                raise ApiError(400, f"'{name}' is required to start a conversation (or give conversation_id)")
        chat = Conversation(data["source"], data["translation"], lang(data.get("source_lang"), "source_lang"),
                            lang(data.get("target_lang"), "target_lang"))
    gen = chat.revise(service().engine, instruction.strip())
    cid = service().keep_conversation(chat, cid)
    return jsonify({"conversation_id": cid, "translation": gen.text, "flags": gen.flags,
                    "turns": len(chat.turns)})


@bp.post("/v1/complete")
def complete_v1():
    data = body()
    source, prefix = data.get("source"), data.get("prefix", "")
    if not isinstance(source, str) or not source.strip():
        raise ApiError(400, "'source' is required")
    if not isinstance(prefix, str):
        raise ApiError(400, "'prefix' must be a string")
    n = integer(data.get("alternatives", 5), "alternatives", 0, 10)
    continuation, words = service().engine.complete(source, prefix, lang(data.get("source_lang"), "source_lang"),
                                          lang(data.get("target_lang"), "target_lang"), n)
    return jsonify({"prefix": prefix, "continuation": continuation, "alternatives": words})


@bp.post("/v1/documents")
def documents_v1():
    upload = request.files.get("file")
    if upload is None:
        raise ApiError(400, "upload the document as the multipart field 'file'")
    tgt = lang(request.form.get("target_lang"), "target_lang")
    src = lang(request.form["source_lang"], "source_lang") if request.form.get("source_lang") else None
    glossary_ids = tuple(g for g in request.form.getlist("glossaries") if g)
    job_id = service().start_document(upload.read(), upload.filename, src, tgt, glossary_ids)
    if request.args.get("async") in ("1", "true", "yes"):
        return jsonify({"id": job_id, "status": "queued", "status_url": f"/v1/documents/{job_id}"}), 202
    job = service().document(job_id, wait=service().timeout)
    return document_result(job)


@bp.get("/v1/documents/<job_id>")
def document_status_v1(job_id):
    job = service().document(job_id)
    return jsonify({"id": job_id, "status": job["status"], "error": job["error"],
                    "result_url": f"/v1/documents/{job_id}/result" if job["status"] == "done" else None})


@bp.get("/v1/documents/<job_id>/result")
def document_result_v1(job_id):
    return document_result(service().document(job_id))


@bp.get("/v1/glossaries")
def glossaries_v1():
    with service().lock:
        return jsonify({"glossaries": [r.info() for r in service().glossaries.values()]})


@bp.post("/v1/glossaries")
def create_glossary_v1():
    if request.files.get("file") is not None:
        upload = request.files["file"]
        record = service().glossary_from_file(
            request.form.get("name") or upload.filename or "glossary", upload.read(), upload.filename,
            lang(request.form.get("source_lang"), "source_lang"),
            lang(request.form.get("target_lang"), "target_lang"))
    else:
        data = body()
        src = lang(data.get("source_lang"), "source_lang")
        tgt = lang(data.get("target_lang"), "target_lang")
        entries = data.get("entries")
        if not isinstance(entries, list) or not entries:
            raise ApiError(400, "'entries' must be a non-empty list of {source, target, kind}")
        record = service().add_glossary(str(data.get("name") or "glossary"), entries_glossary(entries, src, tgt))
    return jsonify(record.info()), 201


@bp.get("/v1/glossaries/<gid>")
def glossary_v1(gid):
    with service().lock:
        record = service().glossaries.get(gid)
    if record is None:
        raise ApiError(404, f"unknown glossary {gid!r}")
    info = record.info()
    info["entries"] = [{"source": t.source, "targets": t.targets, "forbidden": t.forbidden, "dnt": t.dnt}
                       for t in record.glossary.terms]
    return jsonify(info)


@bp.delete("/v1/glossaries/<gid>")
def delete_glossary_v1(gid):
    with service().lock:
        if service().glossaries.pop(gid, None) is None:
            raise ApiError(404, f"unknown glossary {gid!r}")
    return Response(status=204)
