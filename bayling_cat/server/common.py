"""Request parsing and responses that every protocol module shares."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from flask import current_app, request, send_file

from bayling_cat import languages
from bayling_cat.errors import UserError
from bayling_cat.server.conversations import ConversationStore
from bayling_cat.server.errors import ApiError
from bayling_cat.server.glossaries import NOT_XML, GlossaryRegistry
from bayling_cat.server.jobs import JobStore
from bayling_cat.server.service import MAX_SEGMENTS, MAX_TEXT, Service
from bayling_cat.server.translating import Settings, translator

_NOT_FILENAME = re.compile("[\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")


@dataclass
class Parts:
    """What the routes of one app share: model access, glossaries, conversations, jobs, the memory."""

    service: Service
    glossaries: GlossaryRegistry
    conversations: ConversationStore
    jobs: JobStore
    settings: Settings

    def close(self) -> None:
        self.service.close()
        self.jobs.close()


def parts() -> Parts:
    return current_app.extensions["bayling_cat"]


def service() -> Service:
    """The app's model access (the engine behind the batcher)."""
    return parts().service


def glossaries() -> GlossaryRegistry:
    return parts().glossaries


def request_glossary(source_lang: str, target_lang: str, ids=(), inline=None):
    """The glossary a request translates with: the start-up glossaries of its pair (serve --glossary, applied to
    every request of every protocol), the ones it names, and its own entries."""
    from bayling_cat.glossary import Glossary

    chosen = glossaries().for_request(source_lang, target_lang, tuple(ids))
    return Glossary.merge([g for g in (chosen, inline) if g is not None and len(g)])


def core(max_revisions: int = 2, term_strategy: str = "none"):
    """The translation core for one request."""
    return translator(parts().service, parts().settings, max_revisions, term_strategy)


def lang(value, field_name: str, status: int = 400) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ApiError(status, f"'{field_name}' is required")
    if len(value) > 64 or not value.isprintable():
        raise ApiError(status, f"unsupported {field_name}: not a language code")
    try:
        return languages.normalize(value.strip())
    except UserError:
        raise ApiError(status, f"unsupported {field_name} {value!r}") from None


def body() -> dict:
    """The request's fields: a JSON object, or the form fields (a repeated field becomes a list)."""
    if request.is_json:
        data = request.get_json(silent=True)  # app.StrictJSON refuses NaN, Infinity, 1e400 and deep nesting
        if data is None and request.get_data(cache=True).strip():
            raise ApiError(400, "the request body is not valid JSON (or holds NaN, Infinity, a number out of "
                                "range, or nesting too deep)")
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return data
    return {k: (v if len(request.form.getlist(k)) == 1 else request.form.getlist(k)) for k, v in request.form.items()}


# -- typed validators: every field of every route goes through one of these ------------------------------

def integer(value, name, low=0, high=10) -> int:
    """An integer within [low, high]: a JSON integer, an integral finite number, or a form field's digits."""
    number = None
    if isinstance(value, bool):
        number = None
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d{1,12}\s*", value):
        number = int(value)
    if number is None:
        raise ApiError(400, f"'{name}' must be an integer")
    if not low <= number <= high:
        raise ApiError(400, f"'{name}' must be between {low} and {high}")
    return number


def boolean(value, name: str) -> bool:
    """A JSON boolean, or a form field's 1/0, true/false, yes/no."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "0", "false", "no", ""):
        return value.strip().lower() in ("1", "true", "yes")
    raise ApiError(400, f"'{name}' must be true or false")


def check_text(value: str, name: str, max_chars: int = MAX_TEXT) -> str:
    """Text the model can take: UTF-8-encodable (no lone surrogates), no characters XML 1.0 forbids (they
    could never be written to an XLIFF or DOCX, and a tokenizer may fail on them), and bounded in length."""
    if len(value) > max_chars:
        raise ApiError(413, f"{name} is {len(value):,} characters long: at most {max_chars:,} are accepted")
    bad = NOT_XML.search(value)
    if bad:
        char = bad.group(0)
        what = "a lone surrogate" if "\ud800" <= char <= "\udfff" else "a control character XML does not allow"
        raise ApiError(400, f"{name} holds {what} (U+{ord(char):04X}) at character {bad.start() + 1}")
    return value


def string(value, name: str, *, required: bool = True, default: str | None = None, max_chars: int = 1000,
           choices: tuple[str, ...] | None = None, blank: bool = False) -> str | None:
    """A string field: present (when required), not blank (unless ``blank``), valid text, one of ``choices``."""
    if value is None or (isinstance(value, str) and not value.strip() and not blank):
        if required:
            raise ApiError(400, f"'{name}' is required")
        return default
    if not isinstance(value, str):
        raise ApiError(400, f"'{name}' must be a string")
    check_text(value, f"'{name}'", max_chars)
    if choices is not None and value not in choices:
        raise ApiError(400, f"'{name}' must be one of: {', '.join(choices)}")
    return value


def string_list(value, name: str, *, max_items: int = 1000, max_chars: int = 1000, comma: bool = False) -> list[str]:
    """A list of strings (None: empty); ``comma``: a single string is split at commas, as DeepL's form does."""
    if value is None:
        return []
    if isinstance(value, str):
        value = value.split(",") if comma else [value]
    if not isinstance(value, list) or any(not isinstance(v, str) for v in value):
        raise ApiError(400, f"'{name}' must be a list of strings")
    if len(value) > max_items:
        raise ApiError(413, f"'{name}' has {len(value)} items: at most {max_items}")
    for i, v in enumerate(value):
        check_text(v, f"'{name}' item {i}", max_chars)
    return value


def text_list(value, name: str) -> list[str]:
    """The texts to translate: a string or a non-empty list of strings, each valid and bounded."""
    items = value if isinstance(value, list) else [value]
    if not items or any(not isinstance(t, str) for t in items):
        raise ApiError(400, f"'{name}' must be a string or a list of strings")
    if len(items) > MAX_SEGMENTS:
        raise ApiError(413, f"at most {MAX_SEGMENTS} texts in one request")
    for i, t in enumerate(items):
        check_text(t, f"'{name}'" + (f" item {i}" if isinstance(value, list) else ""))
    return items


def upload(field: str = "file", required_message: str | None = None):
    """The uploaded file of a multipart request and its checked name: (bytes, name)."""
    file = request.files.get(field)
    if file is None:
        raise ApiError(400, required_message or f"upload the document as the multipart field '{field}'")
    return file.read(), file_name(file.filename)


def file_name(name) -> str:
    """A client's file name, made safe to keep: its last path component, a name a file system can hold."""
    name = re.split(r"[\\/]", name or "")[-1].strip()
    if not name:
        return "document"
    if name in (".", "..") or len(name.encode("utf-8", "surrogatepass")) > 255 or _NOT_FILENAME.search(name):
        raise ApiError(400, "the uploaded file's name is not usable: give a name of at most 255 bytes "
                            "without control characters (e.g. strings.xlf)")
    return name


def terms_report(report) -> dict | None:
    if report is None:
        return None
    return {"matched": report.matched, "applied": report.applied, "violated": report.violated,
            "revisions": report.revisions}



def document_result(job):
    """The translated file of a finished document job, or the protocol's error for one that is not."""
    if job.status == "error":
        raise ApiError(422, job.error)
    if job.status != "done":
        raise ApiError(409, "the document is not translated yet", retry_after=2)
    return send_document(job, job.output.name)


def send_document(job, name: str):
    """A finished job's translated file, or 404 when it expired meanwhile (its files are deleted)."""
    try:
        return send_file(job.output, as_attachment=True, download_name=name)
    except FileNotFoundError:
        raise ApiError(404, "the document has expired: upload it again") from None
