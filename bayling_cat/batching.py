"""Dynamic batching for the server: model calls that arrive together are made as one engine call.

Each caller's items (the server's: one conversation with the model and its source text each) wait in a bounded
queue for a short window; a worker thread takes every waiting call with the same key (the engine call's
options: decoding, banned sequences), up to ``max_batch`` items, and makes one call. A full queue refuses new
work at once (the server answers 503 with Retry-After) instead of piling it up.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Hashable, Sequence


class Busy(Exception):
    """The queue is full: try again later."""


@dataclass
class _Job:
    texts: list  # the items
    key: Hashable
    done: threading.Event = field(default_factory=threading.Event)
    result: list | None = None
    error: BaseException | None = None
    remaining: int = 0


class Batcher:
    def __init__(self, run: Callable[..., list], max_batch: int = 32,
                 window: float = 0.02, max_pending: int = 1024, workers: int = 1):
        """``run(key, items, deliver)`` makes one engine call for a batch (``key`` carries its options) and may
        call ``deliver(i, result)`` as soon as item i is done, before the batch is. ``workers`` batches run at
        once (the engine's inter_threads)."""
        self._run = run
        self.max_batch = max_batch
        self.window = window
        self.max_pending = max_pending
        self._queue: list[_Job] = []
        self._pending = 0
        self._cond = threading.Condition()
        self._stopped = False
        self.batches = 0  # engine calls made, for tests and /health
        self._threads = [threading.Thread(target=self._loop, name=f"bayling-cat-batcher-{i}", daemon=True)
                         for i in range(max(1, workers))]
        for thread in self._threads:
            thread.start()

    @property
    def pending(self) -> int:
        return self._pending

    def submit(self, key: Hashable, items: Sequence, timeout: float | None = None) -> list:
        job = _Job(list(items), key)
        if not job.texts:
            return []
        with self._cond:
            if self._stopped:
                raise Busy("the server is shutting down")
            if self._pending + len(job.texts) > self.max_pending and self._pending > 0:
                raise Busy(f"{self._pending} segments are waiting")
            self._queue.append(job)
            self._pending += len(job.texts)
            self._cond.notify()
        if not job.done.wait(timeout):
            raise TimeoutError("translation took longer than the server's time limit")
        if job.error is not None:
            raise job.error
        return job.result

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()

    def _take(self) -> list[_Job]:
        with self._cond:
            while not self._queue and not self._stopped:
                self._cond.wait()
            if not self._queue:
                return []
            deadline = time.monotonic() + self.window
            while True:  # a short window lets concurrent requests join the batch
                size = sum(len(j.texts) for j in self._queue if j.key == self._queue[0].key)
                left = deadline - time.monotonic()
                if size >= self.max_batch or left <= 0 or self._stopped:
                    break
                self._cond.wait(left)
            if not self._queue:  # another worker took them while this one waited
                return []
            key = self._queue[0].key
            taken, size = [], 0
            for job in list(self._queue):
                if job.key != key:
                    continue
                if taken and size + len(job.texts) > self.max_batch:
                    break
                taken.append(job)
                size += len(job.texts)
                self._queue.remove(job)
            self._pending -= size
            return taken

    def _loop(self) -> None:
        while True:
            jobs = self._take()
            if not jobs:
                if self._stopped:
                    return
                continue
            try:
                self._run_together(jobs)
            except BaseException as exc:  # noqa: BLE001 - handed to the waiting request, which reports it
                if len(jobs) == 1:
                    jobs[0].error = exc
                else:
                    # one request's failure must not fail the others it was batched with: each request that
                    # is not answered yet is tried again on its own, and only the one that fails alone fails
                    for job in jobs:
                        if not job.done.is_set():
                            try:
                                self._run_together([job])
                            except BaseException as alone:  # noqa: BLE001 - as above
                                job.error = alone
            for job in jobs:
                job.done.set()

    def _run_together(self, jobs: list[_Job]) -> None:
        """One engine call for the texts of ``jobs``; each job is signalled as soon as its last text is done."""
        texts = [t for j in jobs for t in j.texts]
        owner = []  # text index -> (job, position in the job)
        for job in jobs:
            job.result = [None] * len(job.texts)
            job.remaining = len(job.texts)
            owner += [(job, k) for k in range(len(job.texts))]
        lock = threading.Lock()

        def deliver(i, result):
            job, k = owner[i]
            with lock:
                if job.result[k] is not None:
                    return
                job.result[k] = result
                job.remaining -= 1
                finished = job.remaining == 0
            if finished:  # this request's answer goes out now, while the batch goes on
                job.done.set()

        results = self._run(jobs[0].key, texts, deliver)
        self.batches += 1
        for i, result in enumerate(results):
            deliver(i, result)
