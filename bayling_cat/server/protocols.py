"""The registry of protocols: each protocol module declares itself here (its blueprint, the paths it owns,
its error shape, the status a missing key gets), and the app finds the protocol of any request through
``protocol_of``: the longest registered prefix of the path wins, so the order modules register in never
matters. The one path two protocols share (``/translate``: LibreTranslate and Apertium) is told apart in
``owner_of_translate`` and nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Protocol:
    name: str
    blueprint: object  # flask.Blueprint
    prefixes: tuple[str, ...]
    error_body: Callable[[int, str], dict]
    auth_status: int  # what a missing or wrong API key gets: 401 or 403, as the protocol's clients expect
    public: tuple[str, ...] = ()  # paths open without a key
    public_prefixes: tuple[str, ...] = ()


REGISTRY: dict[str, Protocol] = {}
FALLBACK = "native"


def register(name: str, blueprint, prefixes, error_body, auth_status: int, public=(), public_prefixes=()) -> None:
    REGISTRY[name] = Protocol(name, blueprint, tuple(prefixes), error_body, auth_status, tuple(public),
                              tuple(public_prefixes))


def owner_of_translate(values, method: str) -> str:
    """Whose request ``/translate`` is: Apertium's (``langpair``, or a GET without LibreTranslate's fields, as
    OmegaT core sends it) or LibreTranslate's (OmegaT's LibreTranslate plugin GETs it with q, source, target:
    LibreTranslate.java)."""
    values = values if values is not None else {}
    if "langpair" in values or (method == "GET" and "source" not in values and "target" not in values):
        return "apertium"
    return "libretranslate"


def protocol_of(path: str, values=None, method: str = "POST") -> Protocol:
    """The protocol that answers a request (and shapes its errors)."""
    if path.rstrip("/") == "/translate":
        return REGISTRY[owner_of_translate(values, method)]
    best, length = REGISTRY.get(FALLBACK), -1
    for protocol in REGISTRY.values():
        for prefix in protocol.prefixes:
            if path.startswith(prefix) and len(prefix) > length:
                best, length = protocol, len(prefix)
    return best


def is_public(path: str) -> bool:
    return any(path in p.public or path.startswith(p.public_prefixes) for p in REGISTRY.values() if
               p.public or p.public_prefixes)
