"""The translator's workbench: the review grid's page (``/``, static files under /workbench/static/) and its API
(/workbench/api/...), over the review sessions of bayling_cat/review.py and the shared Service.

Security: the page is static and renders document text as text only (the CSP below forbids inline script
anyway). Every API request carries the per-server token that the page receives inside its own HTML
(``X-Workbench-Token``); another site cannot read that page, so it cannot forge a request, and no cookie is ever
involved. The API key, where the server has one, is typed once and sent as ``X-API-Key`` like every other
client's. A server bound to loopback answers only to loopback host names, so a DNS-rebinding page cannot
reach it under its own name either.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import uuid
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, request, send_from_directory

from bayling_cat.errors import UserError
from bayling_cat.review import Conflict, DiskChanged, NeedsRepair, ReviewSession, check_text, session_id
from bayling_cat.server.common import body, core, integer, lang, parts, service
from bayling_cat.server.errors import ApiError
from bayling_cat.server.jobs import PRETRANSLATION
from bayling_cat.server.protocols import register

bp = Blueprint("workbench", __name__)
PREFIXES = ("/workbench/",)
AUTH_STATUS = 401
STATIC = "/workbench/static/"
PUBLIC = ("/", "/favicon.ico")  # the page itself: it asks for the API key, it holds no document text
TOKEN_HEADER = "X-Workbench-Token"
WEB = Path(__file__).resolve().parent.parent / "web"
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}
MAX_NAME_BYTES = 255  # a file name longer than this cannot be created on the usual file systems
MAX_REF = 4096


def error_body(status: int, message: str) -> dict:
    return {"error": {"code": status, "message": message}}


class Workbench:
    """The documents open in the workbench, where uploads and sessions live, and pre-translation jobs."""

    def __init__(self, documents: Path | None = None, uploads: Path | None = None, memory_path: Path | None = None,
                 review: Path | None = None, output: Path | None = None, source_lang: str | None = None,
                 target_lang: str | None = None, loopback_only: bool = True, sessions: Path | None = None):
        self.documents = Path(documents).resolve() if documents else None
        self.uploads = Path(uploads) if uploads else None
        self.memory_path = memory_path
        self.review_path = Path(review).resolve() if review else None
        self.sessions_root = Path(sessions) if sessions else None  # None: the data folder's (review.py)
        self.output = output
        self.languages = (source_lang, target_lang)
        self.loopback_only = loopback_only
        self.token = secrets.token_urlsafe(32)
        self.sessions: dict[str, ReviewSession] = {}
        self.lock = threading.Lock()
        self.review_id: str | None = None

    def attach(self, parts) -> None:
        """Called by the app factory: the review document is opened now, so a bad file fails at startup. The
        workbench's memory (``memory_path``) is the server's one memory, opened when first needed."""
        self.parts = parts
        if self.memory_path is not None and parts.settings.location is None and parts.settings._memory is None:
            parts.settings.location = self.memory_path
        if self.uploads is None:
            self.uploads = parts.jobs.workdir / "uploads"
        if self.review_path is not None:
            self.review_id = self.open(self.review_path, *self.languages, output=self.output).id

    @property
    def memory(self):
        return self.parts.settings.memory

    @staticmethod
    def doc_id(path: Path) -> str:
        return session_id(path)  # any file name, UTF-8 or not

    def open(self, path: Path, source_lang=None, target_lang=None, output=None) -> ReviewSession:
        doc_id = self.doc_id(path)
        with self.lock:
            found = self.sessions.get(doc_id)
            if found is not None:
                return found
            session = ReviewSession(path, doc_id, source_lang, target_lang,
                                    glossary_for=lambda s, t: self.parts.glossaries.for_request(s, t, ()),
                                    memory=self.memory, output=output,
                                    folder=self.sessions_root / doc_id if self.sessions_root else None)
            session.tool = self.parts.service.tool  # what the saved file credits machine output to
            self.sessions[doc_id] = session
            return session

    def session(self, doc_id: str) -> ReviewSession:
        with self.lock:
            found = self.sessions.get(doc_id)
        if found is None:
            raise ApiError(404, f"no open document {doc_id!r}")
        return found

    def available(self) -> list[dict]:
        """Documents that can be opened: the --documents folder and earlier uploads (they survive a restart)."""
        from bayling_cat.connectors import EXTENSIONS

        out = []
        for root, kind in ((self.documents, "folder"), (self.uploads, "upload")):
            if root is None or not root.is_dir():
                continue
            for f in sorted(root.rglob("*")):
                rel = f.relative_to(root)
                if f.is_file() and f.suffix.lower() in EXTENSIONS and not any(p.startswith(".") for p in rel.parts):
                    # a name that is not UTF-8 is shown with U+FFFD; its ref keeps the bytes (as surrogates)
                    shown = os.fsencode(str(rel) if kind == "folder" else f.name).decode("utf-8", "replace")
                    out.append({"name": shown, "kind": kind, "ref": str(rel), "id": self.doc_id(f),
                                "open": self.doc_id(f) in self.sessions})
        return out

    def resolve(self, kind: str, ref: str) -> Path:
        root = self.documents if kind == "folder" else self.uploads
        if root is None:
            raise ApiError(400, "this server has no --documents folder" if kind == "folder" else "no uploads")
        if not ref or len(ref) > MAX_REF or "\0" in ref:
            raise ApiError(400, "'ref' must name a document of the list (no NUL character, at most 4096 characters)")
        try:
            path = (root / ref).resolve()
            found = root.resolve() in path.parents and path.is_file()
        except (OSError, ValueError, RuntimeError):
            found = False
        if not found:
            raise ApiError(404, f"no document {ref!r}")
        return path

    def start_job(self, session: ReviewSession, indices: list[int], core) -> dict:
        """Pre-translate a document in the background, as one job of the server's job store; the job says at
        the end which segments got nothing."""
        def work(job):
            session.pretranslate(indices, core, progress=lambda n: setattr(job, "done", job.done + n))
            job.failed = session.failed(indices)

        return self.parts.jobs.start(PRETRANSLATION, work, status="running", document=session.id,
                                     total=len(indices)).progress_json()


def workbench() -> Workbench:
    return current_app.extensions["bayling_cat_workbench"]


# -- what every workbench answer gets ------------------------------------------------------------------------

@bp.before_app_request
def guard():
    path = request.path
    if not (path == "/" or path.startswith(PREFIXES)):
        return None
    wb = workbench()
    host = (request.host or "").rsplit(":", 1)[0] if not (request.host or "").endswith("]") else request.host
    if wb.loopback_only and host not in LOOPBACK_NAMES:
        raise ApiError(403, f"this workbench answers on 127.0.0.1 or localhost only, not {host!r}")
    if path.startswith("/workbench/api/"):
        given = request.headers.get(TOKEN_HEADER, "")
        # compared as bytes: compare_digest refuses non-ASCII str (a header may carry any Latin-1 character)
        if not secrets.compare_digest(given.encode("utf-8", "surrogateescape"), wb.token.encode("ascii")):
            raise ApiError(403, f"missing or wrong {TOKEN_HEADER} header: reload the page")
    return None


@bp.after_app_request
def protect(response):
    if request.path == "/" or request.path.startswith(PREFIXES):
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.errorhandler(Conflict)
def conflict(exc: Conflict):
    return jsonify({**error_body(409, str(exc)), "current": exc.current}), 409


@bp.errorhandler(NeedsRepair)
def needs_repair(exc: NeedsRepair):
    return jsonify({**error_body(422, str(exc)), "repaired": exc.repaired}), 422


@bp.errorhandler(DiskChanged)
def disk_changed(exc: DiskChanged):
    return jsonify(error_body(409, str(exc))), 409


# -- the page --------------------------------------------------------------------------------------------

@bp.get("/")
def page():
    html = (WEB / "index.html").read_text("utf-8").replace("__WORKBENCH_TOKEN__", workbench().token)
    return Response(html, mimetype="text/html")


@bp.get(STATIC + "<path:name>")
def static_file(name):
    response = send_from_directory(WEB, name, max_age=0)
    return response


# -- documents --------------------------------------------------------------------------------------------

@bp.get("/workbench/api/documents")
def documents():
    wb = workbench()
    with wb.lock:
        opened = [s.info() for s in wb.sessions.values()]
    return jsonify({"review": wb.review_id, "open": opened, "available": wb.available(),
                    "model": service().model_name, "adapted": service().adapted, "can_upload": wb.review_id is None,
                    "has_folder": wb.documents is not None})


@bp.post("/workbench/api/documents")
def open_document():
    wb = workbench()
    if wb.review_id is not None:
        raise ApiError(403, "this workbench reviews one document; start `bayling-cat serve` to open others")
    upload = request.files.get("file")
    if upload is not None:
        form = request.form
        src = lang(form["source_lang"], "source_lang") if form.get("source_lang") else None
        tgt = lang(form["target_lang"], "target_lang") if form.get("target_lang") else None
        name = _upload_name(upload.filename)
        folder = wb.uploads / uuid.uuid4().hex[:12]
        path = folder / name
        try:
            folder.mkdir(parents=True)
            upload.save(str(path))
        except OSError as exc:
            shutil.rmtree(folder, ignore_errors=True)
            raise ApiError(507 if exc.errno == 28 else 503, f"{name}: cannot keep the upload "
                                                            f"({exc.strerror or exc})") from None
    else:
        folder = None
        data = body()
        src = lang(data["source_lang"], "source_lang") if data.get("source_lang") else None
        tgt = lang(data["target_lang"], "target_lang") if data.get("target_lang") else None
        kind = data.get("kind", "folder")
        if kind not in ("folder", "upload") or not isinstance(data.get("ref"), str):
            raise ApiError(400, "give 'ref' (a document of the list) and 'kind' (folder or upload), or upload 'file'")
        path = wb.resolve(kind, data["ref"])
    try:
        session = wb.open(path, src, tgt)
    except UserError as exc:  # the client named the file: no server paths, no command-line options
        if folder is not None:  # a refused upload is not kept (nor listed again)
            shutil.rmtree(folder, ignore_errors=True)
        message = str(exc).replace(str(path), path.name).replace("pass --target-lang", "give the target language")
        raise ApiError(400, message.replace("pass --source-lang", "give the source language")) from None
    return jsonify(session.info()), 201


def _upload_name(filename: str | None) -> str:
    """The uploaded file's own name (its last part), or a 400 for one no file system can hold."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip() or "document"
    if any(ord(ch) < 0x20 or ch == "\x7f" for ch in name):
        raise ApiError(400, "the uploaded file's name holds a control character (NUL, a line break, ...)")
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        raise ApiError(400, f"the uploaded file's name is longer than {MAX_NAME_BYTES} bytes")
    if name in (".", "..") or name.startswith("."):
        name = "document" + name.lstrip(".")
    return name


@bp.get("/workbench/api/documents/<doc_id>")
def document(doc_id):
    session = workbench().session(doc_id)
    with session.lock:
        segments = [session.segment_json(i) for i in range(len(session.segments))]
        return jsonify({**session.info(), "segments": segments})


@bp.post("/workbench/api/documents/<doc_id>/save")
def save(doc_id):
    return jsonify(workbench().session(doc_id).save())


@bp.get("/workbench/api/documents/<doc_id>/download")
def download(doc_id):
    session = workbench().session(doc_id)
    data = session.render()
    return Response(data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{_quote(session.path.name)}"})


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")


@bp.get("/workbench/api/documents/<doc_id>/changes")
def changes(doc_id):
    session = workbench().session(doc_id)
    since = integer(request.args.get("since", 0), "since", 0, 10**12)
    now, indices = session.changed_since(since)
    with session.lock:
        return jsonify({"changes": now, "segments": [session.segment_json(i) for i in indices]})


@bp.get("/workbench/api/documents/<doc_id>/summary")
def summary(doc_id):
    return jsonify(workbench().session(doc_id).summary())


# -- segments ---------------------------------------------------------------------------------------------

def _segment_request(doc_id, index):
    session = workbench().session(doc_id)
    data = body()
    version = data.get("version")
    if version is None:
        raise ApiError(400, "'version' is required: the segment's version this change is based on")
    version = integer(version, "version", 0, 10**9)
    return session, session.index(index), data, version


def _target(data, required=True):
    target = data.get("target")
    if target is None and not required:
        return None
    if not isinstance(target, str):
        raise ApiError(400, "'target' must be a string")
    if len(target) > 100_000:
        raise ApiError(413, "'target' is longer than 100000 characters")
    check_text(target)  # validated before anything is applied
    return target


@bp.put("/workbench/api/documents/<doc_id>/segments/<index>")
def edit(doc_id, index):
    session, i, data, version = _segment_request(doc_id, index)
    return jsonify(session.edit(i, _target(data), version))


@bp.post("/workbench/api/documents/<doc_id>/segments/<index>/confirm")
def confirm(doc_id, index):
    session, i, data, version = _segment_request(doc_id, index)
    repair = data.get("accept_repair", False)
    if not isinstance(repair, bool):
        raise ApiError(400, "'accept_repair' must be true or false")
    return jsonify(session.confirm(i, _target(data, required=False), version, accept_repair=repair))


@bp.put("/workbench/api/documents/<doc_id>/segments/<index>/comment")
def comment(doc_id, index):
    session, i, data, version = _segment_request(doc_id, index)
    text = data.get("comment")
    if not isinstance(text, str):
        raise ApiError(400, "'comment' must be a string ('' removes the comment)")
    if len(text) > 10_000:
        raise ApiError(413, "'comment' is longer than 10000 characters")
    return jsonify(session.set_comment(i, text, version))


@bp.get("/workbench/api/documents/<doc_id>/concordance")
def concordance(doc_id):
    session = workbench().session(doc_id)
    text = request.args.get("q", "")
    if not text.strip() or len(text) > 500 or not text.isprintable():
        raise ApiError(400, "'q' must be the text to look for (1 to 500 printable characters)")
    limit = integer(request.args.get("limit", 20), "limit", 1, 200)
    return jsonify(session.concordance(text, limit))


@bp.post("/workbench/api/documents/<doc_id>/segments/<index>/takeback")
def take_back(doc_id, index):
    session, i, data, version = _segment_request(doc_id, index)
    return jsonify(session.take_back(i, integer(data.get("entry"), "entry", 0, 10**6), version))


@bp.post("/workbench/api/documents/<doc_id>/segments/<index>/translate")
def translate(doc_id, index):
    session, i, data, version = _segment_request(doc_id, index)
    return jsonify(session.translate(i, core(), version))


@bp.get("/workbench/api/documents/<doc_id>/segments/<index>/matches")
def matches(doc_id, index):
    session = workbench().session(doc_id)
    i = session.index(index)
    return jsonify({"memory": session.memory is not None,
                    "threshold": parts().settings.fuzzy_threshold,
                    "matches": session.matches(i, parts().settings.fuzzy_threshold / 100)})


@bp.post("/workbench/api/documents/<doc_id>/segments/<index>/use-match")
def use_match(doc_id, index):
    session, i, data, version = _segment_request(doc_id, index)
    percent = integer(data.get("percent"), "percent", 0, 100)
    target = _target(data)
    if not target.strip():
        raise ApiError(400, "'target' is empty")
    return jsonify(session.use_match(i, target, percent, version, core()))


@bp.post("/workbench/api/documents/<doc_id>/segments/<index>/revise")
def revise(doc_id, index):
    session, i, data, version = _segment_request(doc_id, index)
    instruction = data.get("instruction")
    if not isinstance(instruction, str) or not instruction.strip():
        raise ApiError(400, "'instruction' is required (e.g. \"more formal\")")
    if len(instruction) > 2000:
        raise ApiError(413, "'instruction' is longer than 2000 characters")
    check_text(instruction, "the instruction")
    return jsonify(session.revise(i, instruction.strip(), version, core()))


# -- pre-translation --------------------------------------------------------------------------------------

@bp.post("/workbench/api/documents/<doc_id>/pretranslate")
def pretranslate(doc_id):
    wb = workbench()
    session = wb.session(doc_id)
    running = parts().jobs.running(PRETRANSLATION, doc_id)
    if running is not None:
        return jsonify(running.progress_json()), 202
    return jsonify(wb.start_job(session, session.untranslated(), core())), 202


@bp.get("/workbench/api/jobs/<job_id>")
def job(job_id):
    found = parts().jobs.get(job_id, missing=f"no pre-translation job {job_id!r}")
    if found.kind != PRETRANSLATION:
        raise ApiError(404, f"no pre-translation job {job_id!r}")
    return jsonify(found.progress_json())


register("workbench", bp, PREFIXES, error_body, AUTH_STATUS, public=PUBLIC, public_prefixes=(STATIC,))
