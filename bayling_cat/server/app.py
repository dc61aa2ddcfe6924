"""The app factory: one Flask app, its shared parts (model access, glossaries, conversations, jobs, memory)
and every registered protocol's blueprint. What is common to every route lives here: API keys, each
protocol's own error shape, CORS, body limits, and running the app under waitress with a graceful shutdown.

A new protocol is one new module with a blueprint that calls ``protocols.register`` (the paths it owns, its
error shape, the status a missing key gets), imported once below.
"""

from __future__ import annotations

import atexit
import errno
import ipaddress
import json
import math
import re
import secrets
import threading
import time

from flask import Flask, jsonify, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from bayling_cat.errors import UserError
from bayling_cat.memory.base import MemoryUnavailable
from bayling_cat.server import anthropic, apertium, deepl, deepl_v3, libretranslate, native, openai  # noqa: F401 - register
from bayling_cat.server import shared
from bayling_cat.server import workbench as workbench_bp
from bayling_cat.server.common import Parts
from bayling_cat.server.conversations import ConversationStore
from bayling_cat.server.errors import ApiError
from bayling_cat.server.glossaries import GlossaryRegistry
from bayling_cat.server.jobs import JOB_TTL, JobStore
from bayling_cat.server.protocols import REGISTRY, is_public, protocol_of as _protocol_of
from bayling_cat.server.service import MAX_BODY, TIMEOUT, Service
from bayling_cat.server.translating import Settings

# a PostgreSQL memory that went away: retried this long within a request (a restart), then 503 + Retry-After
MEMORY_RETRY = 3.0
MEMORY_RETRY_AFTER = 10


def protocol_of(path: str, values=None, method: str = "POST"):
    return _protocol_of(path, values, method)


def _protocol():
    try:
        values = request.values
    except Exception:  # noqa: BLE001 - an unreadable body: the path alone decides
        values = None
    return protocol_of(request.path, values, request.method)


# the HTTP authentication schemes that carry a key; schemes are case-insensitive (RFC 9110, 11.1)
AUTH_SCHEMES = re.compile(r"\s*(?:bearer|deepl-auth-key)\s+(.*)", re.I | re.S)


class StrictJSON(DefaultJSONProvider):
    """Request bodies as JSON proper: NaN, Infinity and numbers beyond a double's range (1e400) are refused
    rather than read as float('inf'), and so is nesting deep enough to exhaust the parser's recursion (100,000
    '['). Each refusal is a ValueError, which the routes report as a body that is not valid JSON."""

    def loads(self, s, **kwargs):
        try:
            return json.loads(s, parse_constant=_refuse_constant, parse_float=_finite_float, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is out of range")
    return value


def given_key() -> bytes | None:
    """The API key a request carries, as bytes: a header's (latin-1 on the wire, so a UTF-8 key arrives as its
    bytes) or a body field's (UTF-8). None when the request carries none."""
    auth = AUTH_SCHEMES.fullmatch(request.headers.get("Authorization", ""))
    header = auth.group(1).strip() if auth else request.headers.get("X-API-Key")
    if header is not None:
        return header.encode("latin-1", "replace")
    try:
        data = request.get_json(silent=True) if request.is_json else None
    except Exception:  # noqa: BLE001 - a malformed body is reported by the route itself
        data = None
    given = data.get("api_key") if isinstance(data, dict) else None
    for name in ("api_key", "auth_key", "key"):  # body fields: LibreTranslate's, DeepL's legacy form field
        given = given or request.form.get(name)
    if not given and _protocol().name == "apertium":  # the query string only where documented: OmegaT sends it there
        given = request.args.get("key")
    if not isinstance(given, str) or not given:
        return None
    return given.encode("utf-8", "replace")


def create_app(engine, glossary_files=(), api_key: str | None = None, max_batch: int = 32, window: float = 0.02,
               max_pending: int = 1024, cors: str | None = None, timeout: float = TIMEOUT,
               job_ttl: float = JOB_TTL, same_length_batches: bool = True,
               workbench: "workbench_bp.Workbench | None" = None, memory=None, fuzzy_threshold: int = 75,
               memory_location=None, keyless: tuple[str, ...] = ()) -> Flask:
    """``memory``: an open memory every door shares; ``memory_location``: one opened when first needed.
    ``keyless``: protocols whose clients cannot send a key (``apertium``, ``libretranslate``) and are let in
    without one; ``serve --keyless`` allows it on a loopback address only (keyless.py)."""
    app = Flask("bayling_cat")
    app.json = StrictJSON(app)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    jobs = JobStore(ttl=job_ttl)
    parts = Parts(Service(engine, max_batch=max_batch, window=window, max_pending=max_pending, timeout=timeout,
                          same_length_batches=same_length_batches),
                  GlossaryRegistry(glossary_files, workdir=jobs.workdir), ConversationStore(), jobs,
                  Settings(memory, fuzzy_threshold, memory_location))
    app.extensions["bayling_cat"] = parts
    if memory is not None and getattr(memory, "retry_seconds", 0) > MEMORY_RETRY:
        memory.retry_seconds = MEMORY_RETRY  # a client waits seconds for its 503, not the batch run's 15
    for protocol in REGISTRY.values():
        app.register_blueprint(protocol.blueprint)
    app.register_blueprint(shared.bp)
    app.extensions["bayling_cat_workbench"] = workbench or workbench_bp.Workbench()
    app.extensions["bayling_cat_workbench"].attach(parts)

    def error_response(status: int, message: str, retry_after: int | None = None):
        response = jsonify(_protocol().error_body(status, message))
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

    @app.errorhandler(MemoryUnavailable)
    def memory_down(exc: MemoryUnavailable):  # the server's fault, and passing: 503, never the client's 400
        return error_response(503, str(exc), retry_after=MEMORY_RETRY_AFTER)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unexpected error")
        return error_response(500, f"internal error ({type(exc).__name__}); see the server log")

    @app.before_request
    def check_key():
        if request.method == "OPTIONS" or api_key is None or is_public(request.path):
            return None
        if keyless and _protocol().name in keyless:
            return None
        given = given_key()
        if given is None or not secrets.compare_digest(given, api_key.encode("utf-8")):
            raise ApiError(_protocol().auth_status, "invalid or missing API key")
        return None

    @app.after_request
    def add_cors(response):
        if cors:
            response.headers["Access-Control-Allow-Origin"] = cors
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization, X-API-Key"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, PUT, PATCH, DELETE, OPTIONS"
        return response

    return app


class _Streamed:
    """A WSGI body passed through as it is produced; ``done`` runs once it is closed (sent or abandoned)."""

    def __init__(self, body, done):
        self.body, self.done = body, done

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def json_channel():
    """waitress's connection class, answering the HTTP layer's own errors (a garbage request line, a body over
    the limit, headers too large) in the protocol's JSON error shape instead of waitress's plain text.
    waitress has no public hook for this: its HTTPChannel.error_task_class is the documented-in-code seam."""
    from waitress.channel import HTTPChannel
    from waitress.task import ErrorTask

    class JsonErrorTask(ErrorTask):
        def execute(self):
            error = self.request.error
            path = getattr(self.request, "path", "") or ""
            message = f"{error.reason}: {' '.join(str(error.body).split())}".rstrip(": ")
            body = json.dumps(protocol_of(path).error_body(error.code, message)).encode()
            self.status = f"{error.code} {error.reason}"
            self.response_headers.append(("Content-Type", "application/json"))
            self.set_close_on_finish()
            self.content_length = len(body)
            self.write(body)

    class JsonChannel(HTTPChannel):
        error_task_class = JsonErrorTask

    return JsonChannel


def check_host(host: str, port: int) -> None:
    """Fail at once, before the model is loaded, on an address that cannot be bound."""
    import socket

    if not host.strip():
        raise UserError("--host is empty: give an address to bind, e.g. 127.0.0.1")
    try:
        found = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UserError(f"cannot listen on {host}:{port}: the host name does not resolve "
                        f"({getattr(exc, 'strerror', None) or exc})") from None
    if port:  # a port already taken: said now, not after a model of several GB has been loaded
        family, kind, proto, _, address = found[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress binds
            try:
                probe.bind(address)
            except OSError as exc:
                _refuse_listen(host, port, exc)


def _refuse_listen(host: str, port: int, exc: OSError):
    reason = exc.strerror or str(exc)
    hint = " (another server is using that port: choose another with --port)" if exc.errno == errno.EADDRINUSE else ""
    raise UserError(f"cannot listen on {host}:{port}: {reason}{hint}") from None


def listen(app: Flask, host: str, port: int, threads: int):
    """A waitress server bound to host:port, or a UserError saying why it cannot be."""
    from waitress import create_server

    check_host(host, port)
    try:
        # waitress's own body limit, so that an oversized body is refused before it is buffered
        server = create_server(app, host=host, port=port, threads=threads, ident="bayling-cat",
                               max_request_body_size=MAX_BODY + 64 * 1024)
    except ValueError:  # waitress: "Invalid host/port specified." for a name that does not resolve
        raise UserError(f"cannot listen on {host}:{port}: the host name does not resolve to an address of "
                        "this machine") from None
    except OSError as exc:
        _refuse_listen(host, port, exc)
    channel = json_channel()
    for listener in [server, *getattr(server, "map", {}).values()]:
        if hasattr(listener, "channel_class"):
            listener.channel_class = channel
    return server


def serve(app: Flask, host: str, port: int, threads: int = 16, say=print, on_ready=None) -> None:
    """Serve with waitress until SIGTERM or Ctrl-C; requests in flight finish before the process exits, then
    the uploads and results of document jobs are deleted (also at any other exit: atexit)."""
    import os
    import signal

    service = app.extensions["bayling_cat"]
    inflight = [0]
    draining = threading.Event()
    lock = threading.Lock()

    def counting(environ, start_response):
        if draining.is_set():
            start_response("503 Service Unavailable", [("Content-Type", "application/json"), ("Retry-After", "5"),
                                                       ("Connection", "close")])
            body = protocol_of(environ.get("PATH_INFO", "")).error_body(503, "the server is shutting down")
            return [json.dumps(body).encode()]
        with lock:
            inflight[0] += 1

        def finished():
            with lock:
                inflight[0] -= 1

        try:
            body = app(environ, start_response)
        except BaseException:
            finished()
            raise
        return _Streamed(body, finished)  # streamed answers (OpenAI's server-sent events) go out as they grow

    server = listen(counting, host, port, threads)
    atexit.register(service.close)

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
            service.close()  # os._exit skips atexit
            say("bayling-cat: stopped")
            os._exit(0)

        threading.Thread(target=wait_and_exit, daemon=True).start()

    signal.signal(signal.SIGTERM, drain)
    signal.signal(signal.SIGINT, drain)
    [(bound, bound_port), *_] = getattr(server, "effective_listen", None) or \
        [(server.effective_host, server.effective_port)]
    bound = f"[{bound}]" if ":" in str(bound) else bound
    say(f"bayling-cat: serving on http://{bound}:{bound_port}/ "
        "(native API /v1, OpenAI /v1/chat/completions, LibreTranslate and Apertium /translate, DeepL /v2 and /v3, "
        "workbench /; Ctrl-C to stop)")
    if on_ready is not None:
        on_ready(f"http://{bound}:{bound_port}/")
    try:
        server.run()
    finally:
        service.close()
