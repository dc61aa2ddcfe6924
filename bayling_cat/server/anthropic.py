"""Anthropic's Messages API (POST /v1/messages), as the clients that speak it with a configurable address send
it: Weblate's Anthropic machinery (5.16 and later, ``weblate/machinery/anthropic.py``: ``{base_url}/v1/messages``
with ``x-api-key``, the LLM prompt as ``system``, an example turn, then the JSON payload; it reads
``content[0].text``) and the OmegaT OpenAI Translation plugin's Claude models (inertia42,
``OpenaiTranslate.java``: ``url + "/v1/messages"``, ``system`` = the prompt, the text as the user message).

A request is recognised exactly as on the OpenAI route (recognize.py): a translation goes through the
translation service and is answered in the request's own form; anything else is a chat turn when the model
chats. Streaming is not offered (none of those clients streams): ``stream: true`` is a 400.
"""

from __future__ import annotations

import uuid

from flask import Blueprint, jsonify, request

from bayling_cat.server.common import service
from bayling_cat.server.recognize import UnknownLanguage, recognize
from bayling_cat.server.errors import ApiError
from bayling_cat.server.protocols import register

bp = Blueprint("anthropic", __name__)
PREFIXES = ("/v1/messages",)
AUTH_STATUS = 401
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
               404: "not_found_error", 405: "invalid_request_error", 413: "request_too_large",
               429: "rate_limit_error", 501: "api_error", 503: "overloaded_error", 504: "api_error"}
STOP_REASONS = {"stop": "end_turn", "length": "max_tokens"}


def error_body(status: int, message: str) -> dict:
    return {"type": "error", "error": {"type": ERROR_TYPES.get(status, "api_error"), "message": message}}


def _text(content, where: str) -> str:
    """A message's content: a string, or a list of text blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content and all(
            isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str) for b in content):
        return "".join(b["text"] for b in content)
    raise ApiError(400, f"{where}: expected a string or a list of text blocks")


def _messages(data) -> list[dict]:
    """Anthropic's ``system`` + ``messages`` as the OpenAI-shaped list recognition and chat turns read."""
    messages = data.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ApiError(400, "messages: Field required (a non-empty list)")
    out = []
    if data.get("system") is not None:
        out.append({"role": "system", "content": _text(data["system"], "system")})
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("user", "assistant"):
            raise ApiError(400, f"messages.{i}.role: expected user or assistant")
        out.append({"role": m["role"], "content": _text(m.get("content"), f"messages.{i}.content")})
    if out[-1]["role"] != "user":
        raise ApiError(400, "the last message must be a user message")
    from bayling_cat.server.openai import SURROGATE

    for i, m in enumerate(out):
        bad = SURROGATE.search(m["content"])
        if bad:
            raise ApiError(400, f"a message holds a lone surrogate (U+{ord(bad.group(0)):04X})")
    return out


def _options(data) -> dict:
    if not isinstance(data.get("model"), str) or not data["model"].strip():
        raise ApiError(400, "model: Field required")
    limit = data.get("max_tokens")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1 << 20:
        raise ApiError(400, "max_tokens: Field required (an integer of at least 1)")
    if data.get("stream"):
        raise ApiError(400, "stream: this server answers /v1/messages in one piece (stream: false)")
    out = {"max_tokens": limit, "stop": data.get("stop_sequences") or []}
    for name, high in (("temperature", 1), ("top_p", 1)):
        value = data.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or
                                  not 0 <= value <= high):
            raise ApiError(400, f"{name}: expected a number between 0 and {high}")
        out[name] = value
    if not isinstance(out["stop"], list) or any(not isinstance(s, str) for s in out["stop"]):
        raise ApiError(400, "stop_sequences: expected a list of strings")
    return out


@bp.post("/v1/messages")
def messages_anthropic():
    from bayling_cat.server import openai

    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    messages, opts = _messages(data), _options(data)
    try:
        found = recognize(messages)
    except UnknownLanguage as exc:
        raise ApiError(400, str(exc)) from None
    if found is not None:
        text, flags = openai.translate(found)
        note = {**found.describe(), "flags": flags}
        finish = "length" if any("length-limit" in f for f in flags) else "stop"
        usage = (openai._tokens("\n".join(m["content"] for m in messages)), openai._tokens(text))
    else:
        text, finish, usage = _chat(messages, opts)
        note = {"recognized": "chat", "form": "chat", "plugin": None}
    return jsonify({"id": f"msg_{uuid.uuid4().hex[:24]}", "type": "message", "role": "assistant",
                    "model": data["model"], "content": [{"type": "text", "text": text}],
                    "stop_reason": STOP_REASONS.get(finish, "end_turn"), "stop_sequence": None,
                    "usage": {"input_tokens": usage[0], "output_tokens": usage[1]}, "bayling_cat": note})


def _chat(messages, opts):
    from bayling_cat.server.openai import can_chat
    from bayling_cat.templates import Message

    engine = service().raw
    if not can_chat(engine):
        raise ApiError(400, "this request was not recognised as a translation request (no instruction naming the "
                            "target language, see docs/server.md), and the loaded model answers translation "
                            "requests only")
    conversation = [Message(m["role"], m["content"]) for m in messages]
    try:
        engine.template.render(conversation)
        turn = service().chat(conversation, max_tokens=opts["max_tokens"], temperature=opts["temperature"],
                              top_p=opts["top_p"], stop=opts["stop"])
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    return turn.text, turn.finish_reason, (turn.prompt_tokens, turn.completion_tokens)


register("anthropic", bp, PREFIXES, error_body, AUTH_STATUS)
