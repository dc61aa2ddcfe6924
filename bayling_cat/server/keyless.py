"""``serve --keyless apertium,libretranslate``: protocols whose CAT-tool clients cannot send a key.

Weblate's Apertium machinery and the OmegaT LibreTranslate plugin have no field for a key, so a server with
``--api-key`` (for its other clients: Weblate's OpenAI or DeepL machinery, plugins with a key field) would
lock them out. ``--keyless`` lets the named protocols in without a key, and only on a loopback address: the
key still guards every other route, and nothing reaches the key-less ones from another machine. The default
(no ``--keyless``) is unchanged: with a key, every route but the public ones needs it.
"""

from __future__ import annotations

from bayling_cat.errors import UserError

PROTOCOLS = ("apertium", "libretranslate")


def parse(value: str | None) -> tuple[str, ...]:
    """``apertium,libretranslate`` -> the protocol names, each checked."""
    if not value:
        return ()
    names = tuple(dict.fromkeys(n.strip().lower() for n in value.split(",") if n.strip()))
    unknown = [n for n in names if n not in PROTOCOLS]
    if unknown or not names:
        raise UserError(f"--keyless {value!r}: give a comma-separated list of {', '.join(PROTOCOLS)} (the protocols "
                        "whose CAT-tool clients cannot send a key)")
    return names


def check(host: str, names: tuple[str, ...], loopback: bool) -> None:
    """Refuse ``--keyless`` on an address other machines can reach."""
    if names and not loopback:
        raise UserError(f"--keyless {','.join(names)} lets those protocols in without a key, so it is allowed on a "
                        f"loopback address only, not {host}: bind 127.0.0.1 (a CAT tool on another machine must "
                        "send the key, or reach the server through a tunnel)")
