"""Translation memory in SQLite: machine translations stored as each batch finishes (so an interrupted
run resumes where it stopped), human translations imported from TMX, XLIFF and PO and preferred over
machine ones, exact matches reused without the model, similar approved ones offered to it as examples.

Several writers (CLI runs, the server) share one file safely: WAL journal, a busy timeout, one
transaction per batch.
"""

from __future__ import annotations

import difflib
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from bayling_cat.errors import UserError

APP_ID = "bayling-cat-memory"
SCHEMA = 1
HUMAN, MACHINE = "human", "mt"


class MemoryError_(UserError):
    pass


@dataclass
class Hit:
    source: str
    target: str
    origin: str  # "human" or "mt"
    score: float = 1.0
    flags: tuple = ()  # what the engine noticed when it made this machine translation


def default_path() -> Path:
    from bayling_cat.models import home

    return home() / "memory.sqlite"


class Memory:
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
            self.db.execute("PRAGMA busy_timeout=30000")
            tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "meta" not in tables:
                raise MemoryError_(f"{self.path}: a SQLite database, but not a bayling-cat memory")
            self.db.execute("PRAGMA journal_mode=WAL")
            self._create()
            found = dict(self.db.execute("SELECT key, value FROM meta"))
            if found.get("app") != APP_ID:
                raise MemoryError_(f"{self.path}: a SQLite database, but not a bayling-cat memory")
        except sqlite3.DatabaseError as exc:
            raise MemoryError_(f"{self.path}: not a usable memory database ({exc})") from None
        except OSError as exc:
            raise MemoryError_(f"{self.path}: cannot open the memory ({exc.strerror or exc})") from None

    def _create(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('app', ?), ('schema', ?)", (APP_ID, str(SCHEMA)))
            self.db.execute("""CREATE TABLE IF NOT EXISTS units (
                id INTEGER PRIMARY KEY, source TEXT NOT NULL, target TEXT NOT NULL, source_lang TEXT NOT NULL,
                target_lang TEXT NOT NULL, context TEXT, model TEXT, glossary TEXT, hint TEXT, origin TEXT NOT NULL,
                created REAL NOT NULL, flags TEXT NOT NULL DEFAULT '')""")
            self.db.execute("CREATE INDEX IF NOT EXISTS units_lookup ON units (source_lang, target_lang, source)")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    # -- writing ------------------------------------------------------------------------------------------

    def add(self, rows: list[dict]) -> None:
        """Store units in one transaction: source, target, source_lang, target_lang, and optionally
        context, model, glossary, hint, origin (default machine)."""
        if not rows:
            return
        now = time.time()
        try:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "INSERT INTO units (source, target, source_lang, target_lang, context, model, glossary, hint, "
                "origin, created, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(r["source"], r["target"], r["source_lang"], r["target_lang"], r.get("context"), r.get("model"),
                  r.get("glossary"), r.get("hint"), r.get("origin", MACHINE), now, " ".join(r.get("flags", ())))
                 for r in rows])
            self.db.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            try:
                self.db.execute("ROLLBACK")
            except sqlite3.DatabaseError:
                pass
            raise MemoryError_(f"{self.path}: cannot write to the memory ({exc})") from None

    # -- reading ------------------------------------------------------------------------------------------

    def exact(self, source: str, source_lang: str, target_lang: str, model: str | None = None,
              glossary: str | None = None, hint: str | None = None) -> Hit | None:
        """A human translation of this source, else a machine one made by the same model, glossary and hint."""
        row = self.db.execute(
            "SELECT target FROM units WHERE source_lang=? AND target_lang=? AND source=? AND origin=? "
            "ORDER BY created DESC LIMIT 1", (source_lang, target_lang, source, HUMAN)).fetchone()
        if row:
            return Hit(source, row[0], HUMAN)
        row = self.db.execute(
            "SELECT target, flags FROM units WHERE source_lang=? AND target_lang=? AND source=? AND origin=? AND "
            "model IS ? AND glossary IS ? AND hint IS ? ORDER BY created DESC LIMIT 1",
            (source_lang, target_lang, source, MACHINE, model, glossary, hint)).fetchone()
        return Hit(source, row[0], MACHINE, flags=tuple(row[1].split())) if row else None

    def similar(self, source: str, source_lang: str, target_lang: str, limit: int = 2,
                threshold: float = 0.6) -> list[Hit]:
        """Human translations of similar sources (difflib ratio >= threshold), best first."""
        words = sorted({w.lower() for w in re.findall(r"\w{4,}", source)}, key=len, reverse=True)[:3]
        if not words:
            return []
        clause = " OR ".join("lower(source) LIKE ?" for _ in words)
        rows = self.db.execute(
            f"SELECT source, target FROM units WHERE source_lang=? AND target_lang=? AND origin=? AND source<>? "
            f"AND flags='' "
            f"AND ({clause}) LIMIT 500",
            (source_lang, target_lang, HUMAN, source, *[f"%{w}%" for w in words])).fetchall()
        scored = []
        for src, tgt in rows:
            score = difflib.SequenceMatcher(None, source.lower(), src.lower()).ratio()
            if score >= threshold:
                scored.append(Hit(src, tgt, HUMAN, round(score, 3)))
        scored.sort(key=lambda h: -h.score)
        unique, seen = [], set()
        for hit in scored:
            if hit.source not in seen:
                seen.add(hit.source)
                unique.append(hit)
        return unique[:limit]

    def stats(self) -> dict:
        rows = self.db.execute("SELECT source_lang, target_lang, origin, count(*) FROM units "
                               "GROUP BY source_lang, target_lang, origin ORDER BY 1, 2, 3").fetchall()
        return {"path": str(self.path), "units": sum(r[3] for r in rows),
                "pairs": [{"source_lang": s, "target_lang": t, "origin": o, "units": n} for s, t, o, n in rows]}

    def all_units(self, origin: str | None = None):
        query = "SELECT source, target, source_lang, target_lang, origin, created FROM units WHERE flags=''"
        args: tuple = ()
        if origin:
            query += " AND origin=?"
            args = (origin,)
        yield from self.db.execute(query + " ORDER BY id", args)


# -- import and export --------------------------------------------------------------------------------------

def import_files(memory: Memory, paths, source_lang: str | None = None, target_lang: str | None = None) -> int:
    """Human translations from TMX, XLIFF and PO files: approved/confirmed/final and non-fuzzy ones."""
    from bayling_cat import languages

    total = 0
    for path in paths:
        path = Path(path)
        data = path.read_bytes() if path.is_file() else b""
        if not data:
            raise MemoryError_(f"{path}: no such file or an empty file")
        if b"<tmx" in data[:2048]:
            rows = _tmx_rows(path, source_lang, target_lang)
        else:
            rows = _document_rows(path, data, source_lang, target_lang)
        for r in rows:
            r["source_lang"] = languages.normalize(r["source_lang"])
            r["target_lang"] = languages.normalize(r["target_lang"])
            r["origin"] = HUMAN
        memory.add(rows)
        total += len(rows)
    return total


def _tmx_rows(path: Path, source_lang, target_lang) -> list[dict]:
    from translate.storage import tmx

    try:
        store = tmx.tmxfile.parsefile(str(path))
    except Exception as exc:  # translate-toolkit raises lxml errors and its own
        raise MemoryError_(f"{path}: not a readable TMX file ({str(exc).splitlines()[0][:200]})") from None
    src = source_lang or store.getsourcelanguage() or "en"
    tgt = target_lang or store.gettargetlanguage()
    if not tgt:
        raise MemoryError_(f"{path}: the TMX names no target language; pass --target-lang")
    return [{"source": str(u.source), "target": str(u.target), "source_lang": src, "target_lang": tgt}
            for u in store.units if u.source and u.target]


def _document_rows(path: Path, data: bytes, source_lang, target_lang) -> list[dict]:
    from bayling_cat.connectors import open_document
    from bayling_cat.document import align_target

    from bayling_cat import languages

    connector = open_document(path, data)
    src = source_lang or connector.source_lang or connector.default_source_lang
    tgt = target_lang or connector.target_lang
    if not src or not tgt:
        raise MemoryError_(f"{path}: the file does not name its languages; pass --source-lang and --target-lang")
    src, tgt = languages.normalize(src), languages.normalize(tgt)
    rows = []
    for seg in connector.segments():
        # only finished human work: a target the file counts as done, in a segment not left for translation,
        # its codes matched to the source's (the memory keeps both as the pipeline sees them)
        if not seg.target or not seg.source.strip():
            continue
        if connector.format != "po" and not _confirmed(seg.skip):
            continue  # XLIFF: only approved, final, signed-off, reviewed or confirmed segments are human work
        target = align_target(seg)
        if target is not None:
            rows.append({"source": seg.source.strip(), "target": target.strip(), "source_lang": src,
                         "target_lang": tgt, "hint": seg.hint})
    return rows


def _confirmed(reason: str | None) -> bool:
    return bool(reason) and (reason in ("approved", "final", "signed-off", "reviewed", "locked")
                             or reason.startswith("confirmed"))


def export_tmx(memory: Memory, out: Path, origin: str | None = None) -> int:
    from translate.storage import tmx

    by_pair: dict = {}
    for source, target, src, tgt, unit_origin, created in memory.all_units(origin):
        by_pair.setdefault((src, tgt), []).append((source, target))
    store = tmx.tmxfile()
    count = 0
    for (src, tgt), pairs in by_pair.items():
        for source, target in pairs:
            store.addtranslation(source, src, target, tgt)
            count += 1
    from bayling_cat.fileio import write_atomic

    write_atomic(out, bytes(store))
    return count
