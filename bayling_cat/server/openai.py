"""OpenAI's chat-completions protocol (/v1/chat/completions, /v1/models), as the official ``openai`` SDK,
Weblate's OpenAI machinery (base URL + custom model), OmegaT, memoQ and Trados plugins with an
"OpenAI-compatible" provider speak it.

Translation requests (recognize.py says which) go through the translation service: BayLing's own prompt,
inline-code protection and repair, glossary constraints, dynamic batching. Anything else is a chat turn for
the model with its own template.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid

from flask import Blueprint, Response, jsonify, request, stream_with_context

from bayling_cat.engines.base import FLAG_LENGTH, BaseEngine
from bayling_cat.errors import UserError
from bayling_cat.server.common import check_text, core, request_glossary, service
from bayling_cat.server.errors import ApiError
from bayling_cat.server.glossaries import entries_glossary
from bayling_cat.server.recognize import PLACEABLES, TranslationRequest, UnknownLanguage, recognize
from bayling_cat.server.service import MAX_SEGMENTS
from bayling_cat.server.translating import TAGS, translate_marked
from bayling_cat.templates import Message
from bayling_cat.server.protocols import register

bp = Blueprint("openai", __name__)
PREFIXES = ("/v1/chat/", "/v1/models", "/v1/completions")
AUTH_STATUS = 401
ROLES = ("system", "developer", "user", "assistant", "tool")
# statuses as OpenAI's API answers them, with its error types
ERROR_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 403: "permission_error",
               404: "invalid_request_error", 405: "invalid_request_error", 413: "invalid_request_error",
               429: "rate_limit_exceeded", 503: "server_error", 504: "server_error"}
CODES = re.compile(f"{PLACEABLES}|{TAGS.pattern}", re.S)
ERROR_CODES = {401: "invalid_api_key", 404: "not_found", 429: "rate_limit_exceeded"}
SURROGATE = re.compile("[\ud800-\udfff]")


def error_body(status: int, message: str) -> dict:
    return {"error": {"message": message, "type": ERROR_TYPES.get(status, "server_error" if status >= 500 else
                                                                 "invalid_request_error"),
                      "param": None, "code": ERROR_CODES.get(status)}}


def model_card() -> dict:
    """The loaded model in OpenAI's shape, with bayling-cat's own details as extra fields."""
    engine = service().raw
    info = getattr(engine, "info", None)
    path = str(getattr(engine, "path", ""))
    try:
        created = int(os.path.getmtime(path))
    except OSError:
        created = 0
    return {"id": service().model_name, "object": "model", "created": created, "owned_by": "bayling-cat",
            "name": service().model_name, "path": path, "loaded": True,
            "template": getattr(info, "template", None), "quantization": getattr(info, "quantization", None),
            "device": getattr(engine, "device", None), "compute_type": getattr(engine, "compute_type", None),
            **({"parent": service().adapted["base"], "adapted": service().adapted} if service().adapted else {})}


@bp.get("/v1/models")
def models():
    card = model_card()
    # "models": the list bayling-cat's own API gave on this route before it became OpenAI's
    return jsonify({"object": "list", "data": [card], "models": [card]})


@bp.get("/v1/models/<path:model>")
def model(model):
    # any name is served by the loaded model (plugins ask for fixed names such as gpt-4o)
    card = model_card()
    card["id"] = model
    return jsonify(card)


# -- request validation ---------------------------------------------------------------------------------------

def _number(data, name, low, high, default=None, integer=False):
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise ApiError(400, f"Invalid type for '{name}': expected {'an integer' if integer else 'a number'}.")
    if not low <= value <= high:
        raise ApiError(400, f"Invalid value for '{name}': expected a value between {low} and {high}.")
    return value


def _messages(data) -> list[dict]:
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "'messages' must be a non-empty array.")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise ApiError(400, f"Invalid 'messages[{i}].role': expected one of {', '.join(ROLES)}.")
        content = m.get("content")
        if isinstance(content, list):
            if any(not isinstance(p, dict) or p.get("type") != "text" or not isinstance(p.get("text"), str)
                   for p in content):
                raise ApiError(400, f"Invalid 'messages[{i}].content': only text parts are supported.")
        elif content is None and m["role"] == "assistant":
            content = ""
        elif not isinstance(content, str):
            raise ApiError(400, f"Invalid 'messages[{i}].content': expected a string or an array of text parts.")
        text = content if isinstance(content, str) else "".join(p["text"] for p in content)
        surrogate = SURROGATE.search(text)
        if surrogate:  # it cannot even be encoded as UTF-8: no model and no answer could hold it
            raise ApiError(400, f"Invalid 'messages[{i}].content': a lone surrogate (U+{ord(surrogate.group(0)):04X}) "
                                f"at character {surrogate.start() + 1}.")
        out.append({"role": m["role"], "content": content})
    return out


def _text(content) -> str:
    return content if isinstance(content, str) else "".join(p["text"] for p in content)


def _options(data) -> dict:
    if not isinstance(data.get("model"), str) or not data["model"].strip():
        raise ApiError(400, "you must provide a model parameter")
    n = _number(data, "n", 1, 128, 1, integer=True)
    if n != 1:
        raise ApiError(400, "Invalid value for 'n': this server gives one choice per request (n=1).")
    stop = data.get("stop")
    stop = [stop] if isinstance(stop, str) else stop if stop is not None else []
    if not isinstance(stop, list) or len(stop) > 4 or any(not isinstance(s, str) for s in stop):
        raise ApiError(400, "Invalid value for 'stop': expected a string or up to 4 strings.")
    stream = data.get("stream", False)
    if not isinstance(stream, bool):
        raise ApiError(400, "Invalid type for 'stream': expected a boolean.")
    options = data.get("stream_options") or {}
    if not isinstance(options, dict):
        raise ApiError(400, "Invalid type for 'stream_options': expected an object.")
    fmt = data.get("response_format") or {"type": "text"}
    if not isinstance(fmt, dict) or fmt.get("type") not in ("text", "json_object", "json_schema"):
        raise ApiError(400, "Invalid value for 'response_format.type': expected text, json_object or json_schema.")
    limit = data.get("max_completion_tokens", data.get("max_tokens"))
    return {
        "temperature": _number(data, "temperature", 0, 2),
        "top_p": _number(data, "top_p", 0, 1),
        "max_tokens": _number({"max_tokens": limit}, "max_tokens", 1, 1 << 20, integer=True),
        "stop": stop, "stream": stream, "include_usage": bool(options.get("include_usage")),
    }


# -- answering ------------------------------------------------------------------------------------------------

def _tokens(text: str) -> int:
    return service().count_tokens(text)


def translate(found: TranslationRequest) -> tuple[str, list[list[str]]]:
    """The assistant's answer to a recognised translation request (always one translation per segment)."""
    if len(found.texts) > MAX_SEGMENTS:
        raise ApiError(413, f"at most {MAX_SEGMENTS} strings in one request")
    for i, text in enumerate(found.texts):  # the same limits as every other protocol's segments
        check_text(text, f"segment {i + 1}" if len(found.texts) > 1 else "the segment")
    # blank segments and segments of codes only ("@@PH1@@", "<x id=\"1\"/> {0}") are their own translation
    todo = [i for i, t in enumerate(found.texts) if re.search(r"[^\W\d_]", CODES.sub("", t))]
    out = list(found.texts)
    flags: list[list[str]] = [[] for _ in found.texts]
    if todo:
        entries = [{"source": s, "target": t, "kind": k} for s, t, k in found.glossary]
        inline = entries_glossary(entries, found.source_lang, found.target_lang) if entries else None
        glossary = request_glossary(found.source_lang, found.target_lang, (), inline)
        texts = [found.texts[i] for i in todo]
        results = translate_marked(core(), texts, found.source_lang, found.target_lang, glossary, CODES)
        service().count(texts)
        for i, result in zip(todo, results):
            out[i], flags[i] = result.text, result.flags
    return found.answer(out), flags


@bp.post("/v1/chat/completions")
def chat_completions():
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                            "using your HTTP library correctly. The OpenAI API expects a JSON payload.)")
    messages = _messages(data)
    opts = _options(data)
    try:
        found = recognize(messages)
    except UnknownLanguage as exc:
        raise ApiError(400, str(exc)) from None
    reply = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "created": int(time.time()), "model": service().model_name,
             "system_fingerprint": None}
    if found is not None:
        return translation_reply(found, messages, opts, reply)
    if not can_chat(service().raw):
        raise ApiError(400, "this request was not recognised as a translation request (no instruction naming the "
                            "target language, see docs/server.md), and the loaded model answers translation "
                            "requests only")
    return chat_reply(messages, opts, reply)


def can_chat(engine) -> bool:
    """Whether the engine answers ordinary chat turns (a backend that does not implement ``chat`` does not)."""
    chat = getattr(type(engine), "chat", None)
    return chat is not None and chat is not BaseEngine.chat


def translation_reply(found: TranslationRequest, messages, opts, reply):
    content, flags = translate(found)
    note = {**found.describe(), "flags": flags}
    usage = {"prompt_tokens": _tokens("\n".join(_text(m["content"]) for m in messages)),
             "completion_tokens": _tokens(content)}
    # "length" whenever the engine cut a translation at its generation limit (Weblate and memoQ read it);
    # never "content_filter": nothing is filtered
    finish = "length" if any(FLAG_LENGTH in f for f in flags) else "stop"
    if not opts["stream"]:
        return _complete(reply, content, finish, usage, note)

    def whole(emit):  # translated before the stream starts, so that its errors keep their status
        emit(content)
        return finish, usage

    return _stream(reply, opts, note, whole)


def chat_reply(messages, opts, reply):
    """An ordinary chat turn: the model's own template, the client's decoding options."""
    conversation = [Message("system" if m["role"] == "developer" else m["role"], _text(m["content"]))
                    for m in messages if m["role"] != "tool"]
    if conversation[-1].role != "user":
        raise ApiError(400, "the last message must be a user message")
    engine = service()  # the stream's thread has no app context
    try:  # a conversation the model's template refuses is the client's 400, before any stream starts
        engine.raw.template.render(conversation)
    except (ValueError, UserError) as exc:
        raise ApiError(400, str(exc)) from None
    note = {"recognized": "chat", "form": "chat", "plugin": None}

    def run(emit=None):
        try:
            turn = engine.chat(conversation, max_tokens=opts["max_tokens"], temperature=opts["temperature"],
                               top_p=opts["top_p"], stop=opts["stop"], on_text=emit)
        except NotImplementedError:
            raise ApiError(501, "this engine answers translation requests only, not chat turns") from None
        return turn, {"prompt_tokens": turn.prompt_tokens, "completion_tokens": turn.completion_tokens}

    if opts["stream"]:
        def streamed(emit):
            turn, usage = run(emit)
            return turn.finish_reason, usage
        return _stream(reply, opts, note, streamed)
    turn, usage = run()
    return _complete(reply, turn.text, turn.finish_reason, usage, note)


def _complete(reply, content, finish, usage, note):
    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
    return jsonify({**reply, "object": "chat.completion", "choices": [{
        "index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
        "logprobs": None, "finish_reason": finish}], "usage": usage, "bayling_cat": note})


def _stream(reply, opts, note, produce):
    """Server-sent events as OpenAI sends them: a first chunk with the role, content deltas, a last chunk with
    the finish reason (then one with the usage when stream_options.include_usage), then ``data: [DONE]``.
    ``produce(emit)`` calls ``emit(delta)`` for each piece and returns (finish_reason, usage)."""
    import queue
    import threading

    pieces: queue.Queue = queue.Queue()
    extra = {"usage": None} if opts["include_usage"] else {}

    def chunk(delta, finish=None):
        body = {**reply, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], **extra}
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

    def work():
        try:
            pieces.put(("done", produce(lambda text: pieces.put(("text", text)) if text else None)))
        except ApiError as exc:
            pieces.put(("error", error_body(exc.status, exc.message)))
        except Exception as exc:  # noqa: BLE001 - told to the client in the stream, whose status is sent
            pieces.put(("error", error_body(500, f"internal error ({type(exc).__name__})")))

    threading.Thread(target=work, daemon=True).start()

    def events():
        yield chunk({"role": "assistant", "content": "", "refusal": None})
        while True:
            kind, value = pieces.get()
            if kind == "text":
                yield chunk({"content": value})
            elif kind == "error":
                yield f"data: {json.dumps(value)}\n\n"
                break
            else:
                finish, usage = value
                yield chunk({}, finish)
                if opts["include_usage"]:
                    usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
                    yield f"data: {json.dumps({**reply, 'object': 'chat.completion.chunk', 'choices': [], 'usage': usage, 'bayling_cat': note})}\n\n"
                break
        yield "data: [DONE]\n\n"

    return Response(stream_with_context(events()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


register("openai", bp, PREFIXES, error_body, AUTH_STATUS)
