"""The local REST hook for CAT tools: bayling-cat's own API, plus the LibreTranslate and DeepL v2 protocols
that OmegaT, Weblate, Trados and memoQ plugins already speak. One model, loaded once; requests that arrive
together are translated in one engine call (see batching.py).

A Flask app served by waitress (``bayling-cat serve``); a thin shell over the same engine, glossaries,
revision conversations and document pipeline as the command line.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask, Response, jsonify, request, send_file
from werkzeug.exceptions import HTTPException

from bayling_cat import __version__, languages
from bayling_cat.batching import Batcher, Busy
from bayling_cat.document import Code, keep_outer_space, protect, repair, restore_literals
from bayling_cat.errors import UserError
from bayling_cat.glossary import Glossary, GlossaryError, Term, load

MAX_SEGMENTS = 1000
MAX_BODY = 32 * 1024 * 1024
TIMEOUT = 600.0
CONVERSATION_TTL = 3600.0
# languages offered to the protocols' language lists; any valid code is accepted in requests
LANGUAGES = ["en", "zh", "de", "fr", "es", "it", "pt", "ru", "ja", "ko", "ar", "nl", "pl", "tr", "cs", "sv", "uk",
             "vi", "id", "he"]
TAGS = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>|&[A-Za-z]+;|&#\d+;|</?\d+/?>")


class ApiError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass
class GlossaryRecord:
    id: str
    name: str
    glossary: Glossary
    created: float = field(default_factory=time.time)

    def info(self) -> dict:
        return {"id": self.id, "name": self.name, "source_lang": self.glossary.source_lang,
                "target_lang": self.glossary.target_lang, "entry_count": len(self.glossary)}


class Service:
    """What the routes share: the engine behind a batcher, glossaries, conversations, document jobs."""

    def __init__(self, engine, glossary_files=(), max_batch: int = 32, window: float = 0.02,
                 max_pending: int = 1024, timeout: float = TIMEOUT):
        self.engine = engine
        self.timeout = timeout
        self.lock = threading.Lock()
        self.glossaries: dict[str, GlossaryRecord] = {}
        self.files: list[Path] = list(glossary_files)
        self._loaded: dict[tuple[str, str], list[Glossary]] = {}
        self.conversations: dict[str, tuple[object, float]] = {}
        self.jobs: dict[str, dict] = {}
        self.characters = 0
        self.workdir = Path(tempfile.mkdtemp(prefix="bayling-cat-serve-"))
        self.batcher = Batcher(self._run_batch, max_batch=max_batch, window=window, max_pending=max_pending,
                               workers=getattr(engine, "inter_threads", 1))

    # -- translation through the batcher ---------------------------------------------------------------

    def _run_batch(self, key, texts, hints, deliver=None):
        source_lang, target_lang, glossary_ids, max_revisions, strategy, inline = key
        glossary = self.glossary_for(source_lang, target_lang, glossary_ids)
        if inline:
            entries = [{"source": s, "target": t, "kind": k} for s, t, k in inline]
            glossary = Glossary.merge([g for g in (glossary, _entries_glossary(entries, source_lang, target_lang))
                                       if g is not None])
        if glossary is None:
            return self.engine.translate(texts, source_lang, target_lang, hints=hints, on_done=deliver)
        from bayling_cat.revision import TermTranslator

        translator = TermTranslator(self.engine, {(source_lang, target_lang): glossary},
                                    max_revisions=max_revisions, term_strategy=strategy)
        return translator.translate(texts, source_lang, target_lang, hints=hints)

    def translate(self, texts, source_lang, target_lang, glossary_ids=(), max_revisions=2, strategy="none",
                  hints=None, inline=()):
        """``inline``: (source, target, kind) glossary entries that come with the request itself."""
        key = (source_lang, target_lang, tuple(glossary_ids), max_revisions, strategy, tuple(inline))
        try:
            results = self.batcher.submit(key, texts, hints, timeout=self.timeout)
        except Busy as exc:
            raise ApiError(503, f"busy: {exc}; try again shortly", retry_after=2) from None
        except TimeoutError as exc:
            raise ApiError(504, str(exc)) from None
        with self.lock:
            self.characters += sum(len(t) for t in texts)
        return results

    def translate_tagged(self, texts, source_lang, target_lang, extra_pattern=None, **kwargs):
        """Texts with markup: tags (and ignored elements) become placeholders the model copies."""
        pattern = re.compile(f"{extra_pattern}|{TAGS.pattern}", re.S) if extra_pattern else TAGS
        prepared = []
        for text in texts:
            codes: dict[int, Code] = {}
            prepared.append((protect(text, pattern, codes), codes))
        results = self.translate([p.strip() for p, _ in prepared], source_lang, target_lang, **kwargs)
        out = []
        for (text, codes), gen in zip(prepared, results):
            fixed, changed = repair(keep_outer_space(text, gen.text), codes)
            flags = list(gen.flags) + (["codes-repaired"] if changed else [])
            out.append((restore_literals(fixed, codes), flags, getattr(gen, "terms", None)))
        return out

    # -- glossaries -------------------------------------------------------------------------------------

    def _startup_glossaries(self, source_lang, target_lang) -> list[Glossary]:
        """The --glossary files for one language pair, read once."""
        key = (source_lang, target_lang)
        with self.lock:
            cached = self._loaded.get(key)
        if cached is None:
            cached = []
            for path in self.files:
                try:
                    cached.append(load(path, source_lang, target_lang))
                except GlossaryError:
                    continue  # a startup glossary for another language pair
            with self.lock:
                self._loaded[key] = cached
        return cached

    def glossary_for(self, source_lang, target_lang, ids) -> Glossary | None:
        chosen = list(self._startup_glossaries(source_lang, target_lang))
        with self.lock:
            for gid in ids:
                record = self.glossaries.get(gid)
                if record is None:
                    raise ApiError(404, f"unknown glossary {gid!r}")
                g = record.glossary
                if g.source_lang.split("-")[0] != source_lang.split("-")[0] or \
                        g.target_lang.split("-")[0] != target_lang.split("-")[0]:
                    raise ApiError(400, f"glossary {gid!r} is {g.source_lang} -> {g.target_lang}, not "
                                        f"{source_lang} -> {target_lang}")
                chosen.append(Glossary(g.terms, source_lang, target_lang, g.name))
        return Glossary.merge(chosen)

    def add_glossary(self, name: str, glossary: Glossary) -> GlossaryRecord:
        record = GlossaryRecord(uuid.uuid4().hex[:16], name, glossary)
        with self.lock:
            self.glossaries[record.id] = record
        return record

    def glossary_from_file(self, name: str, data: bytes, filename: str, source_lang: str, target_lang: str):
        suffix = Path(filename or "glossary.csv").suffix.lower() or ".csv"
        path = self.workdir / f"{uuid.uuid4().hex}{suffix}"
        path.write_bytes(data)
        try:
            glossary = load(path, source_lang, target_lang)
        except UserError as exc:
            raise ApiError(400, str(exc).replace(str(path), filename or "glossary")) from None
        finally:
            path.unlink(missing_ok=True)
        return self.add_glossary(name, glossary)

    # -- conversations ----------------------------------------------------------------------------------

    def conversation(self, cid):
        now = time.time()
        with self.lock:
            for key in [k for k, (_, exp) in self.conversations.items() if exp < now]:
                del self.conversations[key]
            if cid is None:
                return None
            found = self.conversations.get(cid)
            if found is None:
                raise ApiError(404, f"unknown or expired conversation {cid!r}")
            return found[0]

    def keep_conversation(self, chat, cid=None) -> str:
        cid = cid or uuid.uuid4().hex
        with self.lock:
            if len(self.conversations) >= 10000:
                oldest = min(self.conversations, key=lambda k: self.conversations[k][1])
                del self.conversations[oldest]
            self.conversations[cid] = (chat, time.time() + CONVERSATION_TTL)
        return cid

    # -- documents --------------------------------------------------------------------------------------

    def start_document(self, data: bytes, filename: str, source_lang, target_lang, glossary_ids=()) -> str:
        job_id = uuid.uuid4().hex
        folder = self.workdir / job_id
        folder.mkdir()
        name = Path(filename or "document").name or "document"
        path = folder / name
        path.write_bytes(data)
        job = {"id": job_id, "status": "queued", "input": path, "output": None, "error": None,
               "key": secrets.token_hex(16), "characters": 0, "name": name}
        with self.lock:
            self.jobs[job_id] = job
        threading.Thread(target=self._document, args=(job, source_lang, target_lang, glossary_ids),
                         daemon=True).start()
        return job_id

    def _document(self, job, source_lang, target_lang, glossary_ids):
        from bayling_cat.pipeline import Options, Pipeline

        job["status"] = "translating"
        service = self

        class Through:  # the pipeline's translator: through the batcher, so documents share the model fairly
            def translate(self, texts, src, tgt, progress=None, hints=None):
                out = service.translate(texts, src, tgt, glossary_ids=glossary_ids, hints=hints)
                if progress:
                    progress(len(texts))
                return out

        try:
            out = job["input"].parent / "out" / job["input"].name
            options = Options(source_lang=source_lang, target_lang=target_lang, output=out)
            [result] = Pipeline(Through(), options).run([str(job["input"])])
            if result.error:
                raise UserError(result.error.replace(str(job["input"]), job["name"]))
            job["output"] = result.output
            job["characters"] = sum(len(s.source) for s in result.segments)
            job["status"] = "done"
        except (UserError, ApiError) as exc:
            job["error"] = getattr(exc, "message", None) or str(exc)
            job["status"] = "error"
        except Exception as exc:  # noqa: BLE001 - reported to the client as the job's error
            job["error"] = f"translation failed: {type(exc).__name__}"
            job["status"] = "error"

    def document(self, job_id, wait: float = 0.0) -> dict:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"unknown document {job_id!r}")
        deadline = time.time() + wait
        while job["status"] in ("queued", "translating") and time.time() < deadline:
            time.sleep(0.05)
        return job


# -- request helpers --------------------------------------------------------------------------------------

def _lang(value, field_name: str, status: int = 400) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(status, f"'{field_name}' is required")
    try:
        return languages.normalize(value.strip())
    except UserError:
        raise ApiError(status, f"unsupported {field_name} {value!r}") from None


def _body() -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return data
    return {k: (v if len(request.form.getlist(k)) == 1 else request.form.getlist(k)) for k, v in request.form.items()}


def _int(value, name, low=0, high=10) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"'{name}' must be an integer") from None
    if not low <= number <= high:
        raise ApiError(400, f"'{name}' must be between {low} and {high}")
    return number


def _texts(value, name: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or any(not isinstance(t, str) for t in items):
        raise ApiError(400, f"'{name}' must be a string or a list of strings")
    if len(items) > MAX_SEGMENTS:
        raise ApiError(413, f"at most {MAX_SEGMENTS} texts in one request")
    return items


def _terms_report(report) -> dict | None:
    if report is None:
        return None
    return {"matched": report.matched, "applied": report.applied, "violated": report.violated,
            "revisions": report.revisions}


def create_app(engine, glossary_files=(), api_key: str | None = None, max_batch: int = 32, window: float = 0.02,
               max_pending: int = 1024, cors: str | None = None, timeout: float = TIMEOUT) -> Flask:
    from bayling_cat.openapi import spec

    app = Flask("bayling_cat")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    service = Service(engine, glossary_files, max_batch=max_batch, window=window, max_pending=max_pending,
                      timeout=timeout)
    app.extensions["bayling_cat"] = service
    model_name = Path(str(getattr(engine, "path", "model"))).name

    def protocol() -> str:
        path = request.path
        if path.startswith("/v2/"):
            return "deepl"
        if path.startswith(("/translate", "/languages", "/translate_file", "/download_file", "/detect")):
            return "libretranslate"
        return "native"

    def error_response(status: int, message: str, retry_after: int | None = None):
        kind = protocol()
        body = {"message": message} if kind == "deepl" else {"error": message} if kind == "libretranslate" \
            else {"error": {"code": status, "message": message}}
        response = jsonify(body)
        response.status_code = status
        if retry_after:
            response.headers["Retry-After"] = str(retry_after)
        return response

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.retry_after)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return error_response(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(UserError)
    def user_error(exc: UserError):
        return error_response(400, str(exc))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unexpected error")
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")

    @app.before_request
    def check_key():
        # as in LibreTranslate itself, the language list is public (its clients ask without a key)
        if request.method == "OPTIONS" or api_key is None or request.path in ("/health", "/openapi.json", "/languages"):
            return None
        given = request.headers.get("X-API-Key")
        auth = request.headers.get("Authorization", "")
        for scheme in ("Bearer ", "DeepL-Auth-Key "):
            if auth.startswith(scheme):
                given = auth[len(scheme):].strip()
        if given is None:
            try:
                data = request.get_json(silent=True) if request.is_json else None
            except Exception:  # noqa: BLE001 - a malformed body is reported by the route itself
                data = None
            given = (data or {}).get("api_key") if isinstance(data, dict) else None
            for name in ("api_key", "auth_key"):
                given = given or request.args.get(name) or request.form.get(name)
        if not given or not secrets.compare_digest(str(given), api_key):
            raise ApiError(403 if protocol() != "native" else 401, "invalid or missing API key")
        return None

    @app.after_request
    def add_cors(response):
        if cors:
            response.headers["Access-Control-Allow-Origin"] = cors
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization, X-API-Key"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        return response

    # -- native API ------------------------------------------------------------------------------------

    @app.get("/health")
    def health():
        return jsonify({"status": "ok", "model": model_name, "version": __version__,
                        "queued_segments": service.batcher.pending, "batches": service.batcher.batches})

    @app.get("/openapi.json")
    def openapi():
        return jsonify(spec())

    @app.get("/v1/models")
    def models():
        info = getattr(engine, "info", None)
        return jsonify({"models": [{
            "name": model_name, "path": str(getattr(engine, "path", "")), "loaded": True,
            "template": getattr(info, "template", None), "quantization": getattr(info, "quantization", None),
            "device": getattr(engine, "device", None), "compute_type": getattr(engine, "compute_type", None)}]})

    @app.post("/v1/translate")
    def translate_v1():
        data = _body()
        src = _lang(data.get("source_lang"), "source_lang")
        tgt = _lang(data.get("target_lang"), "target_lang")
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
            _entries_glossary(inline, src, tgt)  # validates the entries, with their own error messages
            inline = [(e["source"].strip(), (e.get("target") or "").strip(), e.get("kind", "preferred"))
                      for e in inline]
        max_revisions = _int(data.get("max_revisions", 2), "max_revisions")
        strategy = data.get("term_strategy", "none")
        if strategy not in ("none", "force"):
            raise ApiError(400, "'term_strategy' must be 'none' or 'force'")
        results = service.translate_tagged(texts, src, tgt, glossary_ids=tuple(glossary_ids),
                                           max_revisions=max_revisions, strategy=strategy, inline=tuple(inline))
        return jsonify({"model": model_name, "source_lang": src, "target_lang": tgt, "translations": [
            {"id": i, "text": text, "flags": flags, "terms": _terms_report(terms)}
            for i, (text, flags, terms) in zip(ids, results)]})

    @app.post("/v1/revise")
    def revise_v1():
        from bayling_cat.revision import Conversation

        data = _body()
        instruction = data.get("instruction")
        if not isinstance(instruction, str) or not instruction.strip():
            raise ApiError(400, "'instruction' is required")
        cid = data.get("conversation_id")
        chat = service.conversation(cid) if cid else None
        if chat is None:
            for name in ("source", "translation"):
                if not isinstance(data.get(name), str) or not data[name].strip():
                    raise ApiError(400, f"'{name}' is required to start a conversation (or give conversation_id)")
            chat = Conversation(data["source"], data["translation"], _lang(data.get("source_lang"), "source_lang"),
                                _lang(data.get("target_lang"), "target_lang"))
        gen = chat.revise(engine, instruction.strip())
        cid = service.keep_conversation(chat, cid)
        return jsonify({"conversation_id": cid, "translation": gen.text, "flags": gen.flags,
                        "turns": len(chat.turns)})

    @app.post("/v1/complete")
    def complete_v1():
        data = _body()
        source, prefix = data.get("source"), data.get("prefix", "")
        if not isinstance(source, str) or not source.strip():
            raise ApiError(400, "'source' is required")
        if not isinstance(prefix, str):
            raise ApiError(400, "'prefix' must be a string")
        n = _int(data.get("alternatives", 5), "alternatives", 0, 10)
        continuation, words = engine.complete(source, prefix, _lang(data.get("source_lang"), "source_lang"),
                                              _lang(data.get("target_lang"), "target_lang"), n)
        return jsonify({"prefix": prefix, "continuation": continuation, "alternatives": words})

    @app.post("/v1/documents")
    def documents_v1():
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(400, "upload the document as the multipart field 'file'")
        tgt = _lang(request.form.get("target_lang"), "target_lang")
        src = _lang(request.form["source_lang"], "source_lang") if request.form.get("source_lang") else None
        glossary_ids = tuple(g for g in request.form.getlist("glossaries") if g)
        job_id = service.start_document(upload.read(), upload.filename, src, tgt, glossary_ids)
        if request.args.get("async") in ("1", "true", "yes"):
            return jsonify({"id": job_id, "status": "queued", "status_url": f"/v1/documents/{job_id}"}), 202
        job = service.document(job_id, wait=service.timeout)
        return _document_result(job)

    @app.get("/v1/documents/<job_id>")
    def document_status_v1(job_id):
        job = service.document(job_id)
        return jsonify({"id": job_id, "status": job["status"], "error": job["error"],
                        "result_url": f"/v1/documents/{job_id}/result" if job["status"] == "done" else None})

    @app.get("/v1/documents/<job_id>/result")
    def document_result_v1(job_id):
        return _document_result(service.document(job_id))

    def _document_result(job):
        if job["status"] == "error":
            raise ApiError(422, job["error"])
        if job["status"] != "done":
            raise ApiError(409, "the document is not translated yet", retry_after=2)
        return send_file(job["output"], as_attachment=True, download_name=job["output"].name)

    @app.get("/v1/glossaries")
    def glossaries_v1():
        with service.lock:
            return jsonify({"glossaries": [r.info() for r in service.glossaries.values()]})

    @app.post("/v1/glossaries")
    def create_glossary_v1():
        if request.files.get("file") is not None:
            upload = request.files["file"]
            record = service.glossary_from_file(
                request.form.get("name") or upload.filename or "glossary", upload.read(), upload.filename,
                _lang(request.form.get("source_lang"), "source_lang"),
                _lang(request.form.get("target_lang"), "target_lang"))
        else:
            data = _body()
            src = _lang(data.get("source_lang"), "source_lang")
            tgt = _lang(data.get("target_lang"), "target_lang")
            entries = data.get("entries")
            if not isinstance(entries, list) or not entries:
                raise ApiError(400, "'entries' must be a non-empty list of {source, target, kind}")
            record = service.add_glossary(str(data.get("name") or "glossary"), _entries_glossary(entries, src, tgt))
        return jsonify(record.info()), 201

    @app.get("/v1/glossaries/<gid>")
    def glossary_v1(gid):
        with service.lock:
            record = service.glossaries.get(gid)
        if record is None:
            raise ApiError(404, f"unknown glossary {gid!r}")
        info = record.info()
        info["entries"] = [{"source": t.source, "targets": t.targets, "forbidden": t.forbidden, "dnt": t.dnt}
                           for t in record.glossary.terms]
        return jsonify(info)

    @app.delete("/v1/glossaries/<gid>")
    def delete_glossary_v1(gid):
        with service.lock:
            if service.glossaries.pop(gid, None) is None:
                raise ApiError(404, f"unknown glossary {gid!r}")
        return Response(status=204)

    # -- LibreTranslate --------------------------------------------------------------------------------

    @app.route("/languages", methods=["GET", "POST"])
    def languages_lt():
        return jsonify([{"code": c, "name": languages.name(c), "targets": [t for t in LANGUAGES if t != c]}
                        for c in LANGUAGES])

    @app.post("/translate")
    def translate_lt():
        data = _body()
        if "q" not in data:
            raise ApiError(400, "Invalid request: missing q parameter")
        q = data["q"]
        texts = _texts(q, "q")
        if data.get("source") in (None, "", "auto"):
            raise ApiError(400, "source 'auto' is not supported: give the source language")
        src, tgt = _lang(data.get("source"), "source"), _lang(data.get("target"), "target")
        alternatives = _int(data.get("alternatives", 0), "alternatives", 0, 3)
        fmt = data.get("format", "text")
        if fmt not in ("text", "html"):
            raise ApiError(400, "format must be 'text' or 'html'")
        if fmt == "html":
            results = [r[0] for r in service.translate_tagged(texts, src, tgt)]
        else:
            results = [g.text for g in service.translate([t.strip() for t in texts], src, tgt)]
            results = [keep_outer_space(t, r) for t, r in zip(texts, results)]
        body = {"translatedText": results if isinstance(q, list) else results[0]}
        if alternatives:
            alts = [engine.complete(t, "", src, tgt, alternatives + 1)[1][1:] for t in texts]
            body["alternatives"] = alts if isinstance(q, list) else alts[0]
        return jsonify(body)

    @app.post("/translate_file")
    def translate_file_lt():
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(400, "Invalid request: missing file parameter")
        src = None if request.form.get("source") in (None, "", "auto") else _lang(request.form["source"], "source")
        tgt = _lang(request.form.get("target"), "target")
        job_id = service.start_document(upload.read(), upload.filename, src, tgt)
        job = service.document(job_id, wait=service.timeout)
        if job["status"] != "done":
            raise ApiError(400, job["error"] or "the file could not be translated")
        return jsonify({"translatedFileUrl": f"{request.host_url}download_file/{job_id}/{job['output'].name}"})

    @app.get("/download_file/<job_id>/<name>")
    def download_lt(job_id, name):
        return _document_result(service.document(job_id))

    # -- DeepL API v2 ----------------------------------------------------------------------------------

    @app.post("/v2/translate")
    def translate_deepl():
        data = _body()
        if "text" not in data:
            raise ApiError(400, "Parameter 'text' not specified.")
        texts = _texts(data["text"], "text")
        tgt = _deepl_lang(data.get("target_lang"), "target_lang")
        src = _deepl_lang(data["source_lang"], "source_lang") if data.get("source_lang") else None
        glossary_ids = (data["glossary_id"],) if data.get("glossary_id") else ()
        if glossary_ids and src is None:
            raise ApiError(400, "Use of a glossary requires the source_lang parameter to be set.")
        if src is None:
            src = "en"  # no language detection: English, as most CAT projects' source; say so in the reply
        tag_handling = data.get("tag_handling")
        ignore = data.get("ignore_tags") or []
        if isinstance(ignore, str):
            ignore = ignore.split(",")
        if tag_handling in ("xml", "html"):
            # elements named in ignore_tags (Weblate sends <x id="N"></x> placeables) are kept whole
            tags = [t.strip() for t in ignore if isinstance(t, str) and t.strip()]
            extra = "|".join(rf"<{re.escape(t)}\b[^>]*>.*?</{re.escape(t)}\s*>|<{re.escape(t)}\b[^>]*/>"
                             for t in tags) or None
            results = [r[0] for r in service.translate_tagged(texts, src, tgt, extra_pattern=extra,
                                                              glossary_ids=glossary_ids)]
        elif tag_handling:
            raise ApiError(400, "Value for 'tag_handling' not supported.")
        else:
            gens = service.translate([t.strip() for t in texts], src, tgt, glossary_ids=glossary_ids)
            results = [keep_outer_space(t, g.text) for t, g in zip(texts, gens)]
        detected = src.split("-")[0].upper()
        return jsonify({"translations": [{"detected_source_language": detected, "text": r,
                                          "billed_characters": len(t)} for t, r in zip(texts, results)]})

    @app.route("/v2/languages", methods=["GET", "POST"])
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
                    entry["supports_formality"] = False
                out.append(entry)
        return jsonify(out)

    @app.route("/v2/usage", methods=["GET", "POST"])
    def usage_deepl():
        return jsonify({"character_count": service.characters, "character_limit": 1_000_000_000_000})

    @app.get("/v2/glossary-language-pairs")
    def glossary_pairs_deepl():
        return jsonify({"supported_languages": [{"source_lang": s, "target_lang": t}
                                                for s in LANGUAGES for t in LANGUAGES if s != t]})

    def _deepl_glossary(record: GlossaryRecord) -> dict:
        return {"glossary_id": record.id, "name": record.name, "ready": True,
                "source_lang": record.glossary.source_lang.split("-")[0],
                "target_lang": record.glossary.target_lang.split("-")[0],
                "creation_time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(record.created)),
                "entry_count": len(record.glossary)}

    @app.post("/v2/glossaries")
    def create_glossary_deepl():
        data = _body()
        for name in ("name", "source_lang", "target_lang", "entries"):
            if not data.get(name):
                raise ApiError(400, f"Parameter '{name}' not specified.")
        src, tgt = _deepl_lang(data["source_lang"], "source_lang"), _deepl_lang(data["target_lang"], "target_lang")
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
        record = service.add_glossary(str(data["name"]), _entries_glossary(entries, src, tgt))
        return jsonify(_deepl_glossary(record)), 201

    @app.get("/v2/glossaries")
    def list_glossaries_deepl():
        with service.lock:
            return jsonify({"glossaries": [_deepl_glossary(r) for r in service.glossaries.values()]})

    @app.route("/v2/glossaries/<gid>", methods=["GET", "DELETE"])
    def glossary_deepl(gid):
        with service.lock:
            record = service.glossaries.get(gid)
            if record is None:
                raise ApiError(404, "Glossary not found.")
            if request.method == "DELETE":
                del service.glossaries[gid]
                return Response(status=204)
        return jsonify(_deepl_glossary(record))

    @app.get("/v2/glossaries/<gid>/entries")
    def glossary_entries_deepl(gid):
        with service.lock:
            record = service.glossaries.get(gid)
        if record is None:
            raise ApiError(404, "Glossary not found.")
        lines = [f"{t.source}\t{t.preferred}" for t in record.glossary.terms if t.targets or t.dnt]
        return Response("\n".join(lines), mimetype="text/tab-separated-values")

    @app.post("/v2/document")
    def document_deepl():
        upload = request.files.get("file")
        if upload is None:
            raise ApiError(400, "Parameter 'file' not specified.")
        tgt = _deepl_lang(request.form.get("target_lang"), "target_lang")
        src = _deepl_lang(request.form["source_lang"], "source_lang") if request.form.get("source_lang") else None
        glossary_ids = (request.form["glossary_id"],) if request.form.get("glossary_id") else ()
        job_id = service.start_document(upload.read(), upload.filename, src, tgt, glossary_ids)
        with service.lock:
            key = service.jobs[job_id]["key"]
        return jsonify({"document_id": job_id, "document_key": key})

    def _deepl_job(job_id):
        data = _body()
        job = service.document(job_id)
        if data.get("document_key") != job["key"]:
            raise ApiError(403, "Invalid document key.")
        return job

    @app.post("/v2/document/<job_id>")
    def document_status_deepl(job_id):
        job = _deepl_job(job_id)
        status = {"queued": "queued", "translating": "translating", "done": "done", "error": "error"}[job["status"]]
        body = {"document_id": job_id, "status": status}
        if status == "done":
            body["billed_characters"] = job["characters"]
        elif status == "translating":
            body["seconds_remaining"] = 2
        elif status == "error":
            body["error_message"] = job["error"]
        return jsonify(body)

    @app.post("/v2/document/<job_id>/result")
    def document_result_deepl(job_id):
        job = _deepl_job(job_id)
        if job["status"] != "done":
            raise ApiError(503, "Document not ready.", retry_after=2)
        return send_file(job["output"], as_attachment=True, download_name=job["name"])

    return app


def _deepl_lang(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, f"Parameter '{name}' not specified.")
    code = value.strip()
    code = {"EN": "en", "PT": "pt", "ZH": "zh"}.get(code.upper(), code)
    try:
        return languages.normalize(code)
    except UserError:
        raise ApiError(400, f"Value for '{name}' not supported.") from None


def _entries_glossary(entries, source_lang: str, target_lang: str) -> Glossary:
    if not isinstance(entries, list):
        raise ApiError(400, "'terms' and 'entries' must be lists of {source, target, kind}")
    terms: dict[str, Term] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("source"), str) or not e["source"].strip():
            raise ApiError(400, f"entry {i}: 'source' is required")
        kind = e.get("kind", "preferred")
        if kind not in ("preferred", "admitted", "forbidden", "dnt"):
            raise ApiError(400, f"entry {i}: 'kind' must be preferred, admitted, forbidden or dnt")
        target = e.get("target")
        if kind != "dnt" and (not isinstance(target, str) or not target.strip()):
            raise ApiError(400, f"entry {i}: 'target' is required")
        term = terms.setdefault(e["source"].strip().lower(), Term(e["source"].strip(), origin=f"entry {i}"))
        if kind == "dnt":
            term.dnt = True
        elif kind == "forbidden":
            term.forbidden.append(target.strip())
        elif kind == "preferred":
            term.targets.insert(0, target.strip())
        else:
            term.targets.append(target.strip())
    usable = [t for t in terms.values() if t.targets or t.forbidden or t.dnt]
    return Glossary(usable, source_lang, target_lang, "inline")


# -- running ------------------------------------------------------------------------------------------------

def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def serve(app: Flask, host: str, port: int, threads: int = 16, say=print) -> None:
    """Serve with waitress until SIGTERM or Ctrl-C; requests in flight finish before the process exits."""
    import os
    import signal

    from waitress import create_server

    inflight = [0]
    draining = threading.Event()
    lock = threading.Lock()

    def counting(environ, start_response):
        if draining.is_set():
            start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "5"),
                                                       ("Connection", "close")])
            return [b'{"error": "the server is shutting down"}']
        with lock:
            inflight[0] += 1
        try:
            return list(app(environ, start_response))
        finally:
            with lock:
                inflight[0] -= 1

    server = create_server(counting, host=host, port=port, threads=threads, ident="bayling-cat")

    def drain(*_):
        if draining.is_set():
            return
        draining.set()
        say("bayling-cat: stopping: finishing the requests in flight")

        def wait_and_exit():
            deadline = time.time() + 120
            while inflight[0] and time.time() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)  # let waitress send the last responses
            say("bayling-cat: stopped")
            os._exit(0)

        threading.Thread(target=wait_and_exit, daemon=True).start()

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    say(f"bayling-cat: serving on http://{server.effective_host}:{server.effective_port}/ "
        "(native API /v1, LibreTranslate /translate, DeepL /v2; Ctrl-C to stop)")
    server.run()
