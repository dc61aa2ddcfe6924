"""Jobs that outlive their request, in one typed store shared by every door that starts one: document
translations (/v1/documents, DeepL's /v2/document, LibreTranslate's /translate_file) and the workbench's
pre-translations. Bounded in number; a finished job (and its files) expires ``ttl`` seconds after it ended.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bayling_cat.errors import UserError
from bayling_cat.server.errors import ApiError

JOB_TTL = 3600.0  # seconds a finished job (upload and result) is kept
MAX_JOBS = 256  # jobs kept at once; the oldest finished one goes first
DOCUMENT, PRETRANSLATION = "document", "pretranslation"


@dataclass
class Job:
    id: str
    kind: str  # DOCUMENT or PRETRANSLATION
    status: str  # a document: queued, translating, done, error; a pre-translation: running, done, error
    name: str = ""  # a document's file name
    document: str | None = None  # a pre-translation's workbench document id
    input: Path | None = None
    output: Path | None = None
    error: str | None = None
    key: str = field(default_factory=lambda: secrets.token_hex(16))  # DeepL's document_key
    characters: int = 0
    total: int = 0  # segments to do (pre-translation)
    done: int = 0
    failed: list = field(default_factory=list)  # a pre-translation's segments that got nothing
    ended: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("done", "error")

    def progress_json(self) -> dict:
        """A pre-translation as the workbench page polls it."""
        return {"id": self.id, "document": self.document, "total": self.total, "done": self.done,
                "status": self.status, "error": self.error, "failed": self.failed}


class JobStore:
    def __init__(self, ttl: float = JOB_TTL, limit: int = MAX_JOBS, workdir: Path | None = None):
        self.ttl, self.limit = ttl, limit
        self.lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._closed = threading.Event()
        remove_stale_workdirs()
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix=f"bayling-cat-serve-{os.getpid()}-"))
        threading.Thread(target=self._sweep, name="bayling-cat-jobs", daemon=True).start()

    def start(self, kind: str, work: Callable[[Job], None], status: str = "queued", prepare=None, **fields) -> Job:
        """A new job, ``work(job)`` run in its own thread after ``prepare(job)`` ran in the caller's (its files
        written before the request is answered); a full store refuses with 503 and Retry-After."""
        self.expire(room=1)
        with self.lock:
            if len(self._jobs) >= self.limit:
                raise ApiError(503, f"{len(self._jobs)} jobs are running or kept; try again shortly", retry_after=5)
            job = Job(uuid.uuid4().hex, kind, status, **fields)
            self._jobs[job.id] = job
        if prepare is not None:
            prepare(job)
        threading.Thread(target=self._run, args=(job, work), daemon=True).start()
        return job

    def folder(self, job: Job) -> Path:
        path = self.workdir / job.id
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _run(self, job: Job, work) -> None:
        try:
            work(job)
            job.status = "done"
        except (UserError, ApiError) as exc:
            job.error, job.status = getattr(exc, "message", None) or str(exc), "error"
        except Exception as exc:  # noqa: BLE001 - reported to the client as the job's error
            logging.getLogger("bayling_cat").exception("job %s failed", job.id)
            job.error, job.status = f"translation failed ({type(exc).__name__})", "error"
        finally:
            job.ended = time.time()

    def get(self, job_id: str, wait: float = 0.0, missing: str | None = None) -> Job:
        """The job; with ``wait``, up to that many seconds for it to finish."""
        self.expire()
        with self.lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, missing or f"unknown document {job_id!r}")
        deadline = time.time() + wait
        while not job.finished and time.time() < deadline:
            time.sleep(0.05)
        return job

    def running(self, kind: str, document: str) -> Job | None:
        with self.lock:
            return next((j for j in self._jobs.values() if j.kind == kind and j.document == document
                         and not j.finished), None)

    def expire(self, now: float | None = None, room: int = 0) -> None:
        """Forget finished jobs older than ``ttl`` and delete their files; beyond ``limit`` jobs (less ``room``
        for new ones), the oldest finished ones go first."""
        now = time.time() if now is None else now
        with self.lock:
            ended = sorted((j for j in self._jobs.values() if j.ended is not None), key=lambda j: j.ended)
            gone = [j for j in ended if now - j.ended > self.ttl]
            keep = [j for j in ended if j not in gone]
            gone += keep[:max(0, len(self._jobs) - len(gone) - self.limit + room)]
            for job in gone:
                del self._jobs[job.id]
        for job in gone:
            shutil.rmtree(self.workdir / job.id, ignore_errors=True)

    def _sweep(self) -> None:
        """Expire jobs even when no request comes to do it."""
        while not self._closed.wait(min(60.0, max(0.05, self.ttl / 2))):
            self.expire()

    def close(self) -> None:
        self._closed.set()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __len__(self) -> int:
        return len(self._jobs)


def remove_stale_workdirs() -> None:
    """Delete the temporary folders of servers that were killed (kill -9 leaves no chance to clean up): those
    whose process no longer exists. A folder of a live process, anyone's, is left alone."""
    for folder in Path(tempfile.gettempdir()).glob("bayling-cat-serve-*-*"):
        pid = folder.name.split("-")[3]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (PermissionError, OverflowError, OSError):
            continue  # alive under another user, or not a pid at all
