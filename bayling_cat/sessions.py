"""Interactive sessions: what the server keeps per segment being worked on, and which request is the newest.

- ``SessionStore``: values (an engine's saved KV state of one conversation) under a key, bounded in number
  and in bytes, least recently used first out, each expiring ``ttl`` seconds after its last use. Thread-safe.
  Written here rather than taken from a cache library (cachetools' TLRUCache) because the bound is on the
  bytes the states hold as well as their number, and an evicted state must be handed back to its owner.
- ``Latest``: for each segment key, the cancellation flag of the request now running for it; a newer request
  for the same key sets the older one's flag, and the engine stops decoding it at its next step.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Callable, Hashable


class Cancelled(Exception):
    """A request that a newer one for the same segment replaced: nobody will read its answer."""


class SessionStore:
    """Key -> value, bounded by ``max_items`` and ``max_bytes`` (the sizes given to ``put``), LRU, with a TTL."""

    def __init__(self, max_items: int = 32, max_bytes: int = 512 * 1024 * 1024, ttl: float = 900.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_evict: Callable[[Hashable, object], None] | None = None):
        self.max_items, self.max_bytes, self.ttl = max_items, max_bytes, ttl
        self._clock = clock
        self._on_evict = on_evict
        self._items: OrderedDict[Hashable, tuple[object, int, float]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def __len__(self) -> int:
        with self._lock:
            self._expire()
            return len(self._items)

    @property
    def bytes(self) -> int:
        return self._bytes

    def get(self, key: Hashable):
        """The value, or None when there is none or it expired; a hit counts as a use."""
        with self._lock:
            self._expire()
            found = self._items.get(key)
            if found is None:
                return None
            value, size, _ = found
            self._items[key] = (value, size, self._clock())
            self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value, size: int = 0) -> bool:
        """Keep ``value``; the least recently used ones go to make room. False (nothing kept) when the value
        alone is larger than the whole byte budget."""
        gone = []
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            if size > self.max_bytes:
                return False
            self._items[key] = (value, size, self._clock())
            self._bytes += size
            while len(self._items) > self.max_items or self._bytes > self.max_bytes:
                gone.append(self._drop_oldest())
            self._expire(gone)
        for item in gone:
            self._evicted(*item)
        return True

    def pop(self, key: Hashable):
        with self._lock:
            found = self._items.pop(key, None)
            if found is None:
                return None
            self._bytes -= found[1]
            return found[0]

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def _drop_oldest(self):
        key, (value, size, _) = self._items.popitem(last=False)
        self._bytes -= size
        self.evictions += 1
        return key, value

    def _expire(self, gone: list | None = None) -> None:
        now = self._clock()
        while self._items:
            key, (_, _, used) = next(iter(self._items.items()))
            if now - used <= self.ttl:
                break
            item = self._drop_oldest()
            if gone is not None:
                gone.append(item)

    def _evicted(self, key, value) -> None:
        if self._on_evict is not None:
            self._on_evict(key, value)


class Latest:
    """The newest request per key. ``start(key)`` sets the flag of the request running for that key (it is
    stale now) and returns a fresh flag for the new one; ``finish(key, flag)`` forgets it again."""

    def __init__(self):
        self._running: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()
        self.cancelled = 0

    def start(self, key: Hashable) -> threading.Event:
        flag = threading.Event()
        with self._lock:
            older = self._running.get(key)
            if older is not None:
                older.set()
                self.cancelled += 1
            self._running[key] = flag
        return flag

    def finish(self, key: Hashable, flag: threading.Event) -> None:
        with self._lock:
            if self._running.get(key) is flag:
                del self._running[key]


def segment_key(source: str, source_lang: str, target_lang: str) -> tuple:
    """The session of a segment being worked on: its source and languages (the workbench, /v1/complete and
    /v1/revise name the same segment alike, so a revision turn continues the state its completions built)."""
    return ("segment", source.strip(), source_lang, target_lang)


def describe(engine) -> dict:
    """What the interactive path (completions, revision turns) runs on, for /health and the start-up line."""
    name = type(engine).__module__.rsplit(".", 1)[-1]
    if engine.sessions:
        return {"engine": name, "sessions": True,
                "note": "sessions keep each segment's model state: a keystroke evaluates only its new tokens"}
    return {"engine": name, "sessions": False,
            "note": "no sessions on this engine (CTranslate2 has no prefix cache): every completion evaluates the "
                    "whole prompt; --engine llamacpp keeps each segment's state (serve chooses it under auto when "
                    "llama-cpp-python is installed)"}


def startup_line(engine) -> str:
    """The start-up line of ``serve`` and ``review`` about the interactive path."""
    info = describe(engine)
    return f"bayling-cat: interactive path (completions, revision turns) on {info['engine']}: {info['note']}"
