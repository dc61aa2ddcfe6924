"""The app factory: one Flask app, one Service, and a blueprint per protocol (native.py, libretranslate.py,
deepl.py). What is common to every route lives here: API keys, each protocol's own error shape, CORS, body
limits, and running the app under waitress with a graceful shutdown.

A new protocol is one new module with a blueprint, its ``PREFIXES`` (the paths it owns), its
``error_body(status, message)`` and its ``AUTH_STATUS``; add it to ``PROTOCOLS``.
"""

from __future__ import annotations

import ipaddress
import secrets
import threading
import time

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from bayling_cat.errors import UserError
from bayling_cat.server import deepl, libretranslate, native
from bayling_cat.server.service import MAX_BODY, TIMEOUT, ApiError, Service

# the first whose PREFIXES match a path answers its errors; native is the fallback
PROTOCOLS = (deepl, libretranslate, native)
PUBLIC = ("/health", "/openapi.json", "/languages")  # as in LibreTranslate itself, its language list is public


def protocol_of(path: str):
    return next((p for p in PROTOCOLS if path.startswith(p.PREFIXES)), native)


def create_app(engine, glossary_files=(), api_key: str | None = None, max_batch: int = 32, window: float = 0.02,
               max_pending: int = 1024, cors: str | None = None, timeout: float = TIMEOUT, memory=None,
               fuzzy_threshold: int = 75) -> Flask:
    app = Flask("bayling_cat")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    service = Service(engine, glossary_files, max_batch=max_batch, window=window, max_pending=max_pending,
                      timeout=timeout)
    service.memory, service.fuzzy_threshold = memory, fuzzy_threshold  # a Memory: /v1/translate shows its matches
    app.extensions["bayling_cat"] = service
    for module in PROTOCOLS:
        app.register_blueprint(module.bp)

    def error_response(status: int, message: str, retry_after: int | None = None):
        response = jsonify(protocol_of(request.path).error_body(status, message))
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
        if request.method == "OPTIONS" or api_key is None or request.path in PUBLIC:
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
            raise ApiError(protocol_of(request.path).AUTH_STATUS, "invalid or missing API key")
        return None

    @app.after_request
    def add_cors(response):
        if cors:
            response.headers["Access-Control-Allow-Origin"] = cors
            response.headers["Access-Control-Allow-Headers"] = "Content-Type, Authorization, X-API-Key"
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, DELETE, OPTIONS"
        return response

    return app


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
