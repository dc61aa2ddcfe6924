"""The memory protocol every backend implements, and what the backends share.

``open_memory(location)`` (memory/__init__.py) opens the right backend: a ``postgresql://`` URL gives the shared PostgreSQL memory
(postgres.py), anything else is a SQLite file (sqlite.py, the embedded default). Both store the same units,
answer the same lookups and are tested by one behavioural suite.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from bayling_cat.errors import UserError
from bayling_cat.memory import fuzzy

APP_ID = "bayling-cat-memory"
SCHEMA = 3  # 1: units only; 2: unit keys (no duplicates), inline codes, the fuzzy index; 3: integer index keys
HUMAN, MACHINE = "human", "mt"
ENV = "BAYLING_CAT_MEMORY"
BATCH = 50_000  # units per transaction when importing or copying
COLUMNS = ("source", "target", "source_lang", "target_lang", "context", "model", "glossary", "hint", "origin",
           "created", "flags", "codes")


class MemoryError_(UserError):
    pass


class MemoryUnavailable(MemoryError_):
    """The memory's database cannot be reached now (PostgreSQL down or restarting): a fault of the server's
    side, which the REST server answers with 503 and Retry-After, never as the client's error."""


@dataclass
class Hit:
    source: str
    target: str
    origin: str  # "human" or "mt"
    score: float = 1.0  # fuzzy similarity of the sources, 0..1 (see fuzzy.score)
    flags: tuple = ()  # what the engine noticed when it made this machine translation

    @property
    def percent(self) -> int:
        """The fuzzy match percentage a CAT tool shows."""
        return fuzzy.percent(self.score)


def default_path() -> Path:
    from bayling_cat.models import home

    return home() / "memory.sqlite"


def default_location() -> str | Path:
    """BAYLING_CAT_MEMORY (a file or a postgresql:// URL), else memory.sqlite in the data folder."""
    return os.environ.get(ENV) or default_path()


def is_url(location) -> bool:
    return isinstance(location, str) and location.split("://", 1)[0].lower() in ("postgresql", "postgres")


def unit_key(row: dict) -> bytes:
    """What makes a unit unique: a machine translation per source, model, glossary and hint (a newer one
    replaces it); a human translation per source, target and hint (importing a TMX twice adds nothing)."""
    human = row.get("origin", MACHINE) == HUMAN
    ident = [row["source_lang"], row["target_lang"], row["source"], row.get("origin", MACHINE), row.get("hint")]
    ident += [row["target"]] if human else [row.get("model"), row.get("glossary")]
    # unit separators between the fields; None differs from "" (\x00 appears in no stored text)
    text = "\x1f".join("\x00" if v is None else v for v in ident)
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def schema_version(location, meta: dict, foreign: str) -> int:
    """The schema version a memory's meta table records. A database that is not a memory (``foreign`` says
    what it is instead) or a memory made by a newer release is refused with one line."""
    if meta.get("app") != APP_ID:
        raise MemoryError_(f"{location}: {foreign}")
    version = int(meta.get("schema", 0))
    if version > SCHEMA:
        raise MemoryError_(f"{location}: made by a newer bayling-cat (memory schema {version}; this release reads "
                           f"up to {SCHEMA}); upgrade bayling-cat")
    return version


def prepare(rows: Iterable[dict]) -> list[tuple]:
    """Rows as stored, each with its key, sorted by key: every writer takes row locks in the same order,
    so concurrent writers to PostgreSQL never deadlock."""
    now = time.time()
    out = []
    for r in rows:
        flags = r.get("flags", ())
        codes = r.get("codes")
        out.append((unit_key(r), r["source"], r["target"], r["source_lang"], r["target_lang"], r.get("context"),
                    r.get("model"), r.get("glossary"), r.get("hint"), r.get("origin", MACHINE),
                    r.get("created") or now, flags if isinstance(flags, str) else " ".join(flags),
                    codes if codes is None or isinstance(codes, str) else json.dumps(codes, ensure_ascii=False)))
    # one row per key (the last wins, as it would written one after the other), sorted by key
    return sorted({t[0]: t for t in out}.values(), key=lambda t: t[0])


class Memory:
    """A translation memory: the protocol every backend implements (``open_memory`` picks the backend)."""

    location: str

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- the protocol -------------------------------------------------------------------------------------

    def close(self) -> None:
        raise NotImplementedError

    def add(self, rows: list[dict], bulk: bool = False) -> None:
        """Store units in one transaction: source, target, source_lang, target_lang, and optionally context,
        model, glossary, hint, origin (default machine), flags, codes (placeholder number -> original markup).
        ``bulk``: part of a large import; the fuzzy index may catch up only at ``finish_import``."""
        raise NotImplementedError

    def finish_import(self) -> None:
        """Bring the fuzzy index up to date after ``add(..., bulk=True)`` calls."""

    def exact(self, source: str, source_lang: str, target_lang: str, model: str | None = None,
              glossary: str | None = None, hint: str | None = None) -> Hit | None:
        """A human translation of this source, else a machine one made by the same model, glossary and hint."""
        raise NotImplementedError

    def candidates(self, source: str, source_lang: str, target_lang: str, limit: int) -> list[tuple[str, str]]:
        """(source, target) of approved human units the index ranks most like ``source``, newest first among
        equal sources; at most about ``limit``."""
        raise NotImplementedError

    def stats(self) -> dict:
        """{"location", "units", "flagged", "pairs": [{source_lang, target_lang, origin, units, flagged}]}"""
        raise NotImplementedError

    def units(self, origin: str | None = None, flagged: bool = False) -> Iterator[dict]:
        """Every unit with all its columns, oldest first; flagged machine translations only when asked."""
        raise NotImplementedError

    # -- shared -------------------------------------------------------------------------------------------

    def similar(self, source: str, source_lang: str, target_lang: str, limit: int = 2,
                threshold: float = fuzzy.DEFAULT_THRESHOLD / 100) -> list[Hit]:
        """Approved human translations of similar sources (not the same one), best first: fuzzy matches with
        a score (0..1) at or above ``threshold``."""
        if not source.strip():
            return []
        pool = [(s, (s, t)) for s, t in self.candidates(source, source_lang, target_lang, 40)
                if fuzzy.normalize(s) != fuzzy.normalize(source)]
        return [Hit(s, t, HUMAN, round(score, 4)) for score, (s, t) in fuzzy.best(source, pool, threshold, limit)]

    def matches(self, source: str, source_lang: str, target_lang: str, limit: int = 3,
                threshold: float = fuzzy.DEFAULT_THRESHOLD / 100) -> list[Hit]:
        """The human matches a CAT tool lists for a source: an exact one (100 %) first, then the best fuzzy
        ones at or above ``threshold``; at most ``limit``."""
        source = source.strip()
        if not source:
            return []
        exact = self.exact(source, source_lang, target_lang)
        found = [exact] if exact is not None and exact.origin == HUMAN else []
        return found + self.similar(source, source_lang, target_lang, limit - len(found), threshold)

    def _stats(self, backend: str, rows) -> dict:
        """``stats()``'s answer from rows of (source_lang, target_lang, origin, units, flagged)."""
        return {"location": self.location, "path": self.location, "backend": backend,
                "units": sum(r[3] for r in rows), "flagged": sum(r[4] for r in rows),
                "pairs": [{"source_lang": s, "target_lang": t, "origin": o, "units": n, "flagged": f}
                          for s, t, o, n, f in rows]}

    def all_units(self, origin: str | None = None):
        """(source, target, source_lang, target_lang, origin, created) of the units an export holds: flagged
        machine translations are left out (they await review)."""
        for u in self.units(origin):
            yield u["source"], u["target"], u["source_lang"], u["target_lang"], u["origin"], u["created"]


def copy_memory(source: Memory, destination: Memory, progress=None) -> int:
    """Every unit of ``source`` (flagged ones too) into ``destination``, in batches."""
    batch, count = [], 0
    for unit in source.units(flagged=True):
        batch.append(unit)
        if len(batch) >= BATCH:
            destination.add(batch, bulk=True)
            count += len(batch)
            batch = []
            if progress:
                progress(count)
    if batch:
        destination.add(batch)
        count += len(batch)
    destination.finish_import()
    return count
