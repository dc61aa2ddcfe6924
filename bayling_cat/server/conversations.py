"""Revision conversations kept between requests (/v1/revise): bounded in number, each expiring an hour after
its last turn."""

from __future__ import annotations

import threading
import time
import uuid

from bayling_cat.server.errors import ApiError

CONVERSATION_TTL = 3600.0
MAX_CONVERSATIONS = 10_000


class ConversationStore:
    def __init__(self, ttl: float = CONVERSATION_TTL, limit: int = MAX_CONVERSATIONS):
        self.ttl, self.limit = ttl, limit
        self._lock = threading.Lock()
        self._kept: dict[str, tuple[object, float]] = {}

    def get(self, cid: str):
        """The conversation ``cid``; an unknown or expired one is the client's 404."""
        now = time.time()
        with self._lock:
            for key in [k for k, (_, expires) in self._kept.items() if expires < now]:
                del self._kept[key]
            found = self._kept.get(cid)
        if found is None:
            raise ApiError(404, f"unknown or expired conversation {cid!r}")
        return found[0]

    def keep(self, conversation, cid: str | None = None) -> str:
        """Keep (or keep again) a conversation; past the limit the one that would expire first goes."""
        cid = cid or uuid.uuid4().hex
        with self._lock:
            if cid not in self._kept and len(self._kept) >= self.limit:
                oldest = min(self._kept, key=lambda k: self._kept[k][1])
                del self._kept[oldest]
            self._kept[cid] = (conversation, time.time() + self.ttl)
        return cid

    def __len__(self) -> int:
        return len(self._kept)
