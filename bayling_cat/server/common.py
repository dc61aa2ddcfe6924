"""Request parsing and responses that every protocol module shares."""

from __future__ import annotations

from flask import current_app, request, send_file

from bayling_cat import languages
from bayling_cat.errors import UserError
from bayling_cat.server.service import MAX_SEGMENTS, ApiError, Service


def service() -> Service:
    """The app's one Service (the engine, batcher, glossaries, conversations and jobs)."""
    return current_app.extensions["bayling_cat"]


def lang(value, field_name: str, status: int = 400) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(status, f"'{field_name}' is required")
    try:
        return languages.normalize(value.strip())
    except UserError:
        raise ApiError(status, f"unsupported {field_name} {value!r}") from None


def body() -> dict:
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return data
    return {k: (v if len(request.form.getlist(k)) == 1 else request.form.getlist(k)) for k, v in request.form.items()}


def integer(value, name, low=0, high=10) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ApiError(400, f"'{name}' must be an integer") from None
    if not low <= number <= high:
        raise ApiError(400, f"'{name}' must be between {low} and {high}")
    return number


def text_list(value, name: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not items or any(not isinstance(t, str) for t in items):
        raise ApiError(400, f"'{name}' must be a string or a list of strings")
    if len(items) > MAX_SEGMENTS:
        raise ApiError(413, f"at most {MAX_SEGMENTS} texts in one request")
    return items


def terms_report(report) -> dict | None:
    if report is None:
        return None
    return {"matched": report.matched, "applied": report.applied, "violated": report.violated,
            "revisions": report.revisions}



def document_result(job):
    """The translated file of a finished document job, or the protocol's error for one that is not."""
    if job["status"] == "error":
        raise ApiError(422, job["error"])
    if job["status"] != "done":
        raise ApiError(409, "the document is not translated yet", retry_after=2)
    return send_file(job["output"], as_attachment=True, download_name=job["output"].name)
