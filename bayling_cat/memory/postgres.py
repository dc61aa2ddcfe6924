"""The shared memory: PostgreSQL, for a team running several servers and CLI runs against one TM.

psycopg 3 with a connection pool. The schema is created or upgraded on first use in one transaction under an
advisory lock, so any number of processes may start at once. Writers upsert on the unit key in key order
(base.prepare), so concurrent writers lose nothing and take row locks in the same order: no deadlocks;
a deadlock or serialization failure reported anyway is retried. A dropped connection is retried for a
while; when the database stays away, the run stops with one line, and everything committed before is kept.
Fuzzy lookup: the pg_trgm extension's GIN index ranks candidates, then the same scoring as SQLite (fuzzy.py).
"""

from __future__ import annotations

import logging
import random
import re
import time
from contextlib import contextmanager

from bayling_cat.memory.base import (APP_ID, COLUMNS, HUMAN, MACHINE, SCHEMA, Hit, Memory, MemoryError_,
                                     MemoryUnavailable, prepare,
                                     schema_version)

# the pool logs every failed reconnection attempt; the memory says what went wrong itself, in one line
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
logging.getLogger("psycopg.pool").propagate = False

UNITS, META = "bayling_cat_units", "bayling_cat_meta"
_LOCK = 0x6261796C  # the advisory lock taken while the schema is created or upgraded
TRGM_THRESHOLD = 0.5  # pg_trgm similarity a candidate needs (the real score decides after); lower reads far more

_CREATE = [
    f"CREATE TABLE IF NOT EXISTS {META} (key TEXT PRIMARY KEY, value TEXT)",
    f"""CREATE TABLE IF NOT EXISTS {UNITS} (id BIGSERIAL PRIMARY KEY, ukey BYTEA NOT NULL UNIQUE,
        source TEXT NOT NULL, target TEXT NOT NULL, source_lang TEXT NOT NULL, target_lang TEXT NOT NULL,
        context TEXT, model TEXT, glossary TEXT, hint TEXT, origin TEXT NOT NULL, created DOUBLE PRECISION NOT NULL,
        flags TEXT NOT NULL DEFAULT '', codes TEXT)""",
    # md5: a B-tree entry cannot hold a long source
    f"CREATE INDEX IF NOT EXISTS {UNITS}_lookup ON {UNITS} (source_lang, target_lang, md5(source))",
    f"CREATE INDEX IF NOT EXISTS {UNITS}_fuzzy ON {UNITS} USING gin (source gin_trgm_ops) "
    f"WHERE origin = '{HUMAN}' AND flags = ''",
]
_SET = ("target=excluded.target, created=excluded.created, flags=excluded.flags, "
        f"context=coalesce(excluded.context, {UNITS}.context), codes=coalesce(excluded.codes, {UNITS}.codes)")


def redact(url: str) -> str:
    """The URL without its password, as messages show it."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresMemory(Memory):
    def __init__(self, location: str, retry_seconds: float = 15.0, max_connections: int = 4):
        try:
            import psycopg
            from psycopg_pool import ConnectionPool
        except ImportError:
            raise MemoryError_("a PostgreSQL memory needs psycopg: pip install 'bayling-cat[postgres]'") from None
        self.psycopg = psycopg
        self.url = location
        self.location = redact(location)
        self.retry_seconds = retry_seconds
        self._lost = False  # a connection failed: calls connect by themselves until the pool has one again
        try:  # one direct connection first: its error says what is wrong (host, password, database)
            psycopg.connect(location, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise MemoryError_(f"{self.location}: cannot connect to PostgreSQL ({_first_line(exc)})") from None
        self.pool = ConnectionPool(location, min_size=1, max_size=max_connections, open=False, timeout=30,
                                   kwargs={"autocommit": True, "connect_timeout": 10},
                                   configure=self._configure, check=ConnectionPool.check_connection)
        self.pool.open()
        try:
            self._run(self._create_or_upgrade)
        except BaseException:
            self.pool.close()
            raise

    @staticmethod
    def _configure(conn) -> None:
        conn.execute(f"SET pg_trgm.similarity_threshold = {TRGM_THRESHOLD}")

    def close(self) -> None:
        self.pool.close()

    def _run(self, work, what: str = "use"):
        """``work(cursor)`` in one transaction; retried after a dropped connection, a deadlock or a
        serialization failure until ``retry_seconds`` have passed."""
        errors = self.psycopg.errors
        deadline = time.monotonic() + self.retry_seconds
        delay = 0.05
        direct = False
        while True:
            # after an outage the pool waits out its reconnection back-off (1, 2, 4 s ...) even once the server is
            # back: until it holds a connection again, a call connects by itself
            direct = direct or self._lost and not self.pool.get_stats().get("pool_available", 0)
            try:  # waiting for a connection counts against the same deadline
                with (self._direct(deadline) if direct else
                      self.pool.connection(timeout=max(1.0, deadline - time.monotonic()))) as conn:
                    with conn.transaction(), conn.cursor() as cur:
                        done = work(cur)
                self._lost = self._lost and direct  # the pool served it: the outage is over
                return done
            except (errors.DeadlockDetected, errors.SerializationFailure, errors.LockNotAvailable) as exc:
                last = exc
            except (self.psycopg.OperationalError, self.psycopg.InterfaceError) as exc:
                last = exc  # the connection dropped, or the server is restarting
                self._lost = True
            except self.psycopg.Error as exc:
                raise MemoryError_(f"{self.location}: PostgreSQL refused to {what} the memory "
                                   f"({_first_line(exc)})") from None
            except Exception as exc:  # the pool's own timeout when no connection can be made
                if type(exc).__name__ != "PoolTimeout":
                    raise
                last = exc
                direct = True  # no connection came from the pool in time: this call's next try connects itself
            if time.monotonic() > deadline:
                raise MemoryUnavailable(f"{self.location}: the PostgreSQL memory went away ({_first_line(last)}); "
                                   "everything stored before is kept") from None
            time.sleep(delay * random.uniform(0.5, 1.5))
            delay = min(delay * 2, 2.0)

    @contextmanager
    def _direct(self, deadline: float):
        """One connection of its own, configured as the pool's are, closed after use."""
        conn = self.psycopg.connect(self.url, autocommit=True,
                                    connect_timeout=max(1, min(10, int(deadline - time.monotonic()))))
        try:
            self._configure(conn)
            yield conn
        finally:
            conn.close()

    def _create_or_upgrade(self, cur) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        cur.execute("SELECT to_regclass(%s)", (META,))
        if cur.fetchone()[0] is not None:
            cur.execute(f"SELECT key, value FROM {META}")
            version = schema_version(self.location, dict(cur.fetchall()),
                                     f"the table {META} is not a bayling-cat memory's")
            if version == SCHEMA:
                return
        try:
            cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except self.psycopg.errors.InsufficientPrivilege:
            raise MemoryError_(f"{self.location}: the memory needs the pg_trgm extension; ask the database's "
                               "administrator to run CREATE EXTENSION pg_trgm") from None
        for statement in _CREATE:
            cur.execute(statement)
        cur.execute(f"INSERT INTO {META} VALUES ('app', %s) ON CONFLICT (key) DO NOTHING", (APP_ID,))
        cur.execute(f"INSERT INTO {META} VALUES ('schema', %s) ON CONFLICT (key) DO UPDATE SET value=excluded.value",
                    (str(SCHEMA),))

    # -- writing ------------------------------------------------------------------------------------------

    def add(self, rows: list[dict], bulk: bool = False) -> None:
        if not rows:
            return
        prepared = prepare(rows)
        cols = ", ".join(("ukey",) + COLUMNS)

        def work(cur):
            if len(prepared) < 50:
                cur.executemany(f"INSERT INTO {UNITS} ({cols}) VALUES ({', '.join(['%s'] * (len(COLUMNS) + 1))}) "
                                f"ON CONFLICT (ukey) DO UPDATE SET {_SET}", prepared)
                return
            # a large batch: COPY into a temporary table, then one upsert in key order
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming (LIKE {UNITS} INCLUDING DEFAULTS) "
                        "ON COMMIT DELETE ROWS")
            with cur.copy(f"COPY incoming ({cols}) FROM STDIN") as copy:
                for row in prepared:
                    copy.write_row(row)
            cur.execute(f"INSERT INTO {UNITS} ({cols}) SELECT {cols} FROM incoming ORDER BY ukey "
                        f"ON CONFLICT (ukey) DO UPDATE SET {_SET}")

        self._run(work, "write to")

    def finish_import(self) -> None:
        """Merge the trigram index's pending list (until merged, every lookup reads it whole) and refresh the
        planner's statistics."""
        def work(cur):
            cur.execute(f"SELECT gin_clean_pending_list('{UNITS}_fuzzy'::regclass)")
            cur.execute(f"ANALYZE {UNITS}")

        self._run(work, "write to")

    # -- reading ------------------------------------------------------------------------------------------

    def _query(self, sql: str, args=()) -> list[tuple]:
        def work(cur):
            cur.execute(sql, args)
            return cur.fetchall()

        return self._run(work, "read")

    def exact(self, source: str, source_lang: str, target_lang: str, model: str | None = None,
              glossary: str | None = None, hint: str | None = None) -> Hit | None:
        rows = self._query(
            f"SELECT target, flags, origin FROM {UNITS} WHERE source_lang=%s AND target_lang=%s "
            "AND md5(source)=md5(%s) AND source=%s AND (origin=%s OR (origin=%s AND model IS NOT DISTINCT FROM %s "
            "AND glossary IS NOT DISTINCT FROM %s AND hint IS NOT DISTINCT FROM %s)) "
            "ORDER BY origin=%s DESC, created DESC LIMIT 1",
            (source_lang, target_lang, source, source, HUMAN, MACHINE, model, glossary, hint, HUMAN))
        if not rows:
            return None
        target, flags, origin = rows[0]
        return Hit(source, target, origin, flags=tuple(flags.split()) if origin == MACHINE else ())

    def candidates(self, source: str, source_lang: str, target_lang: str, limit: int) -> list[tuple[str, str]]:
        def work(cur):
            # the planner prices pg_trgm's similarity test far below its cost: on a table of 10,000 units it
            # computed it for every row (95 ms a lookup) instead of asking the trigram index (21 ms,
            # bench/memory.py)
            cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute(f"SELECT source, target FROM {UNITS} WHERE origin=%s AND flags='' AND source %% %s "
                        "AND source_lang=%s AND target_lang=%s ORDER BY source <-> %s, created DESC LIMIT %s",
                        (HUMAN, source, source_lang, target_lang, source, limit))
            return cur.fetchall()

        return self._run(work, "read")

    def concordance(self, text: str, source_lang: str, target_lang: str, limit: int = 20) -> list[Hit]:
        """Approved human units whose source or target holds ``text`` (any case), newest first: a CAT tool's
        concordance search (ILIKE: pg_trgm's GIN index serves the source side)."""
        needle = text.strip()
        if not needle:
            return []
        pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        rows = self._query(
            f"SELECT source, target FROM {UNITS} WHERE source_lang=%s AND target_lang=%s AND origin=%s AND flags='' "
            "AND (source ILIKE %s OR target ILIKE %s) ORDER BY created DESC LIMIT %s",
            (source_lang, target_lang, HUMAN, pattern, pattern, limit))
        return [Hit(s, t, HUMAN) for s, t in rows]

    def stats(self) -> dict:
        rows = self._query(f"SELECT source_lang, target_lang, origin, count(*), count(*) FILTER (WHERE flags<>'') "
                           f"FROM {UNITS} GROUP BY 1, 2, 3 ORDER BY 1, 2, 3")
        return self._stats("postgresql", rows)

    def units(self, origin: str | None = None, flagged: bool = False):
        query = f"SELECT {', '.join(COLUMNS)} FROM {UNITS} WHERE true"
        args: list = []
        if not flagged:
            query += " AND flags=''"
        if origin:
            query += " AND origin=%s"
            args.append(origin)
        try:
            with self.pool.connection() as conn, conn.transaction():
                with conn.cursor(name="bayling_cat_units") as cur:  # server-side: streamed, not loaded whole
                    cur.itersize = 2000
                    cur.execute(query + " ORDER BY id", args)
                    for row in cur:
                        yield dict(zip(COLUMNS, row))
        except self.psycopg.Error as exc:
            raise MemoryError_(f"{self.location}: cannot read the memory ({_first_line(exc)})") from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
