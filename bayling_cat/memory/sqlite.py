"""The embedded memory: one SQLite file.

Several writers (CLI runs, the server) share one file safely: WAL journal, a busy timeout, one
``BEGIN IMMEDIATE`` transaction per batch, and a unique key per unit so that two runs storing the same
translation at the same moment store it once. Opening is retried while another process creates or upgrades
the file, so any number of processes may open a fresh memory at the same moment.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import threading
import time
from pathlib import Path

from bayling_cat.memory import fuzzy
from bayling_cat.memory.base import (APP_ID, COLUMNS, HUMAN, MACHINE, SCHEMA, Hit, Memory, MemoryError_, schema_version,
                                     unit_key)

# fuzzy lookup: how many index entries of one gram are counted before the gram is judged too common, and
# how many entries in all the ranking query may read (bench/memory.py measures recall and time with these)
GRAM_CAP = 2000
GRAM_BUDGET = 6000
MAX_GRAMS = 12

_CREATE_UNITS = [
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)",
    """CREATE TABLE units (id INTEGER PRIMARY KEY, ukey BLOB NOT NULL UNIQUE, source TEXT NOT NULL,
        target TEXT NOT NULL, source_lang TEXT NOT NULL, target_lang TEXT NOT NULL, context TEXT, model TEXT,
        glossary TEXT, hint TEXT, origin TEXT NOT NULL, created REAL NOT NULL, flags TEXT NOT NULL DEFAULT '',
        codes TEXT)""",
    "CREATE INDEX units_lookup ON units (source_lang, target_lang, source)",
]
_CREATE_INDEX = [
    # the fuzzy index of approved human units: (key of a word, word pair or triple; unit), see fuzzy.keys
    "CREATE TABLE grams (g INTEGER NOT NULL, unit INTEGER NOT NULL, PRIMARY KEY (g, unit)) WITHOUT ROWID",
    # index entries of a bulk import not yet merged into grams: the unit's key and a JSON list of its index keys
    # (merged sorted at the end: far faster than inserting a million units' entries one by one into the index)
    "CREATE TABLE pending (ukey BLOB NOT NULL, keys TEXT NOT NULL)",
]
# the entries of pending units (their ids found by key), in index order
_MERGE = ("INSERT OR IGNORE INTO grams SELECT j.value, u.id FROM pending p JOIN units u ON u.ukey = p.ukey, "
          "json_each(p.keys) j ORDER BY 1, 2")
# the entries of one unit added outside an import
_INDEX_ONE = "INSERT OR IGNORE INTO grams SELECT j.value, u.id FROM units u, json_each(?2) j WHERE u.ukey = ?1"
_UPSERT = (f"INSERT INTO units (ukey, {', '.join(COLUMNS)}) VALUES ({', '.join('?' * (len(COLUMNS) + 1))}) "
           "ON CONFLICT (ukey) DO UPDATE SET target=excluded.target, created=excluded.created, "
           "flags=excluded.flags, context=coalesce(excluded.context, units.context), "
           "codes=coalesce(excluded.codes, units.codes)")


def _busy(exc: Exception) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def index_keys(source: str, source_lang: str, target_lang: str) -> str:
    """A unit's fuzzy index keys as the JSON list the SQL above reads."""
    return "[" + ",".join(map(str, fuzzy.keys(source, fuzzy.pair_seed(source_lang, target_lang)))) + "]"


class SQLiteMemory(Memory):
    def __init__(self, location=None, timeout: float = 30.0):
        self.path = Path(location).expanduser()
        self.location = str(self.path)
        self.timeout = timeout
        self.lock = threading.RLock()  # one connection, shared by a server's threads: one statement at a time
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._open()
                return
            except sqlite3.OperationalError as exc:
                self._close_quietly()
                if _busy(exc) and time.monotonic() < deadline:
                    time.sleep(random.uniform(0.02, 0.1))  # another process is creating or upgrading it
                    continue
                raise MemoryError_(f"{self.path}: cannot open the memory ({exc})") from None
            except sqlite3.DatabaseError as exc:
                self._close_quietly()
                raise MemoryError_(f"{self.path}: not a usable memory database ({exc})") from None
            except OSError as exc:
                self._close_quietly()
                raise MemoryError_(f"{self.path}: cannot open the memory ({exc.strerror or exc})") from None
            except BaseException:
                self._close_quietly()
                raise

    def _close_quietly(self) -> None:
        db = getattr(self, "db", None)
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass
            self.db = None

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=self.timeout, isolation_level=None,
                                  check_same_thread=False)
        self.db.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
        # a page cache that holds the indexes' upper levels and a batch's pages (the default 2 MB makes every
        # lookup and import read through system calls); NORMAL: a WAL commit survives a crash of the process,
        # only a power cut may undo the last few
        self.db.execute("PRAGMA cache_size=-131072")
        self.db.execute("PRAGMA synchronous=NORMAL")
        version = self._version()
        if version != SCHEMA:
            if version is not None:
                self._backup(version)
            self._write(self._create_or_upgrade)
        if self.db.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.db.execute("PRAGMA journal_mode=WAL")
        if self.db.execute("SELECT 1 FROM pending LIMIT 1").fetchone():
            self._write(self._merge_pending)  # an import stopped before its index was merged

    def _version(self) -> int | None:
        tables = {r[0] for r in self.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        meta = dict(self.db.execute("SELECT key, value FROM meta")) if "meta" in tables else {}
        return schema_version(self.path, meta, "a SQLite database, but not a bayling-cat memory")

    def _backup(self, version: int) -> None:
        """A copy of the memory as it was, beside it, before an upgrade changes it."""
        backup = self.path.with_name(f"{self.path.name}.schema{version}.bak")
        if backup.exists():
            return
        tmp = backup.with_name(backup.name + ".tmp")
        target = sqlite3.connect(str(tmp))
        try:
            self.db.backup(target)
        finally:
            target.close()
        shutil.move(str(tmp), str(backup))

    def _write(self, work) -> None:
        """``work(db)`` in one write transaction."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                work()
                self.db.execute("COMMIT")
            except BaseException:
                try:
                    self.db.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise

    def _create_or_upgrade(self) -> None:
        version = self._version()  # again, under the write lock: another process may have done it
        if version == SCHEMA:
            return
        if version == 1:
            self.db.execute("DROP INDEX IF EXISTS units_lookup")
            self.db.execute("ALTER TABLE units RENAME TO units_v1")
        elif version == 2:  # the index held text keys
            self.db.execute("DROP TABLE grams")
            self.db.execute("DROP TABLE pending")
        for statement in (_CREATE_UNITS if version in (None, 1) else []) + _CREATE_INDEX:
            self.db.execute(statement)
        self.db.execute("INSERT OR IGNORE INTO meta VALUES ('app', ?)", (APP_ID,))
        self.db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
        if version == 1:
            self.db.create_function("ukey", 8, lambda sl, tl, s, o, h, t, m, g: unit_key(
                {"source_lang": sl, "target_lang": tl, "source": s, "origin": o, "hint": h, "target": t,
                 "model": m, "glossary": g}), deterministic=True)
            cols = ", ".join(c for c in COLUMNS if c != "codes")
            self.db.execute(
                f"INSERT INTO units (ukey, {cols}) SELECT ukey(source_lang, target_lang, source, origin, hint, "
                f"target, model, glossary), {cols} FROM units_v1 WHERE true ORDER BY id "
                "ON CONFLICT (ukey) DO UPDATE SET target=excluded.target, created=excluded.created, "
                "flags=excluded.flags")
            self.db.execute("DROP TABLE units_v1")
        if version is not None:  # every approved human unit into the new index
            rows = self.db.execute("SELECT ukey, source, source_lang, target_lang FROM units "
                                   "WHERE origin=? AND flags=''", (HUMAN,))
            self.db.executemany("INSERT INTO pending VALUES (?, ?)",
                                ((k, index_keys(s, sl, tl)) for k, s, sl, tl in rows))
            self._merge_pending()

    def _merge_pending(self) -> None:
        self.db.execute(_MERGE)
        self.db.execute("DELETE FROM pending")

    def close(self) -> None:
        self._close_quietly()

    # -- writing ------------------------------------------------------------------------------------------

    def add(self, rows: list[dict], bulk: bool = False) -> None:
        from bayling_cat.memory.base import prepare

        if not rows:
            return
        prepared = prepare(rows)

        def work():
            self.db.executemany(_UPSERT, prepared)
            # the approved human units into the fuzzy index: at once, or (an import) at finish_import
            entries = [(row[0], index_keys(row[1], row[3], row[4])) for row in prepared
                       if row[9] == HUMAN and not row[11]]
            if bulk:
                self.db.executemany("INSERT INTO pending VALUES (?, ?)", entries)
            elif entries:
                self.db.executemany(_INDEX_ONE, entries)

        try:
            self._write(work)
        except sqlite3.DatabaseError as exc:
            raise MemoryError_(f"{self.path}: cannot write to the memory ({exc})") from None

    def finish_import(self) -> None:
        try:
            self._write(self._merge_pending)
        except sqlite3.DatabaseError as exc:
            raise MemoryError_(f"{self.path}: cannot write to the memory ({exc})") from None

    # -- reading ------------------------------------------------------------------------------------------

    def exact(self, source: str, source_lang: str, target_lang: str, model: str | None = None,
              glossary: str | None = None, hint: str | None = None) -> Hit | None:
        with self.lock:
            return self._exact(source, source_lang, target_lang, model, glossary, hint)

    def _exact(self, source, source_lang, target_lang, model, glossary, hint) -> Hit | None:
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

    def candidates(self, source: str, source_lang: str, target_lang: str, limit: int) -> list[tuple[str, str]]:
        with self.lock:
            return self._candidates(source, source_lang, target_lang, limit)

    def _candidates(self, source, source_lang, target_lang, limit) -> list[tuple[str, str]]:
        keys = fuzzy.keys(source, fuzzy.pair_seed(source_lang, target_lang), lookup=True)
        if not keys:
            return []
        keys = list(keys)
        counts = self.db.execute("SELECT " + ", ".join(
            "(SELECT count(*) FROM (SELECT 1 FROM grams WHERE g=? LIMIT ?))" for _ in keys),
            [a for g in keys for a in (g, GRAM_CAP)]).fetchone()
        counted = sorted(zip(counts, keys))
        chosen, read = [], 0
        for df, g in counted:
            if df == 0:
                continue
            if len(chosen) >= MAX_GRAMS or (chosen and read + df > GRAM_BUDGET):
                break
            chosen.append(g)
            read += df
        if not chosen:
            return []
        # rank units by how many of the chosen (rare) grams they share; a gram's entries are read up to the cap
        parts = " UNION ALL ".join("SELECT * FROM (SELECT unit FROM grams WHERE g=? LIMIT ?)" for _ in chosen)
        args = [a for g in chosen for a in (g, GRAM_CAP)]
        ranked = [r[0] for r in self.db.execute(
            f"SELECT unit FROM ({parts}) GROUP BY unit ORDER BY count(*) DESC, unit DESC LIMIT ?", (*args, limit))]
        if not ranked:
            return []
        marks = ",".join("?" * len(ranked))
        return self.db.execute(
            f"SELECT source, target FROM units WHERE id IN ({marks}) AND origin=? AND flags='' "
            "ORDER BY created DESC", (*ranked, HUMAN)).fetchall()

    def concordance(self, text: str, source_lang: str, target_lang: str, limit: int = 20) -> list[Hit]:
        """Approved human units whose source or target holds ``text`` (any case), newest first: a CAT tool's
        concordance search. LIKE reads the language pair's units in turn until ``limit`` are found (SQLite's
        LIKE folds ASCII letters only; other letters are also tried as typed, in lower and in title case)."""
        needle = text.strip()
        if not needle:
            return []
        forms = list(dict.fromkeys([needle, needle.lower(), needle[:1].upper() + needle[1:]]))
        patterns = ["%" + f.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%" for f in forms]
        where = " OR ".join("source LIKE ? ESCAPE '\\' OR target LIKE ? ESCAPE '\\'" for _ in patterns)
        with self.lock:
            rows = self.db.execute(
                f"SELECT source, target FROM units WHERE source_lang=? AND target_lang=? AND origin=? AND flags='' "
                f"AND ({where}) ORDER BY created DESC LIMIT ?",
                (source_lang, target_lang, HUMAN, *[p for p in patterns for _ in (0, 1)], limit)).fetchall()
        return [Hit(s, t, HUMAN) for s, t in rows]

    def stats(self) -> dict:
        rows = self.db.execute("SELECT source_lang, target_lang, origin, count(*), sum(flags<>'') FROM units "
                               "GROUP BY source_lang, target_lang, origin ORDER BY 1, 2, 3").fetchall()
        return self._stats("sqlite", rows)

    def units(self, origin: str | None = None, flagged: bool = False):
        query = f"SELECT {', '.join(COLUMNS)} FROM units WHERE 1=1"
        args: tuple = ()
        if not flagged:
            query += " AND flags=''"
        if origin:
            query += " AND origin=?"
            args = (origin,)
        # a cursor of its own: the caller may write elsewhere meanwhile
        for row in self.db.cursor().execute(query + " ORDER BY id", args):
            yield dict(zip(COLUMNS, row))
