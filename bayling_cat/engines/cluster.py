"""The engine interface over a pool of Ray model actors: the same calls as a local engine, answered on a cluster.

Only the model calls leave this machine. Each actor loads the converted model once (from a path every node
sees, or from Ray's object store with ``ship_model``) and answers whole ``generate`` calls, so a call's batch
composition is exactly what a local engine would have run and greedy results are byte-identical to a local
run's. Parallelism comes from the callers: the pipeline sends its chunks concurrently (``concurrency``), the
server runs one batch per actor. Calls go to whichever actor is free (no static split), so a slow node never
holds the run back.

Ray is used as it is meant to be (actors, object refs, ``ray.cancel``); there is no scheduler, queue or wire
protocol of ours here. Nothing imports Ray unless a cluster is asked for.
"""

from __future__ import annotations

import os
import queue
import threading
from dataclasses import asdict
from pathlib import Path

from bayling_cat.engines.base import BaseEngine, DecodingOptions, Generation
from bayling_cat.errors import UserError
from bayling_cat.modelinfo import ModelInfo, check_model_folder
from bayling_cat.templates import PromptTemplate

MAX_RETRIES = 2  # a call whose actor dies is sent again this many times, then the run stops
READY_TIMEOUT = float(os.environ.get("BAYLING_CAT_CLUSTER_READY_TIMEOUT", 600))  # loading a 13B model takes a while
SHIPPED_FILES = ("model.bin", "config.json", "vocabulary.json", "tokenizer.json", "bayling_cat.json")


class ClusterError(UserError):
    """The cluster cannot do what was asked (unreachable, no actor could load the model, a call failed)."""


def import_ray():
    try:
        import ray
    except ImportError:
        raise UserError("--cluster needs Ray: pip install \"bayling-cat[cluster]\"") from None
    return ray


def connect(address: str, say=lambda m: None):
    """Join the cluster at ``address`` ("auto": the one this machine belongs to, else a local one; "local": a
    Ray instance on this machine only; "ray://HOST:10001" or "HOST:PORT": that cluster). Returns (ray, started):
    ``started`` is True when this process started Ray and so must shut it down."""
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    kwargs = dict(include_dashboard=False, log_to_driver=False, logging_level="ERROR",
                  runtime_env={"env_vars": {"PYTHONPATH": os.environ.get("PYTHONPATH", "")}}
                  if os.environ.get("PYTHONPATH") else None)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    try:
        if address == "local":  # this machine only: nothing listens beyond the loopback interface
            ray.init(address="local", _node_ip_address="127.0.0.1", **kwargs)
            say("bayling-cat: cluster: started a local Ray instance on this machine")
        elif address == "auto":
            try:
                ray.init(address="auto", **kwargs)
                say("bayling-cat: cluster: joined the Ray cluster this machine belongs to")
            except ConnectionError:
                ray.init(address="local", _node_ip_address="127.0.0.1", **kwargs)
                say("bayling-cat: cluster: no running Ray cluster found; started a local one on this machine")
        else:
            ray.init(address=address, **kwargs)
            say(f"bayling-cat: cluster: connected to {address}")
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise ClusterError(f"cannot reach the Ray cluster at {address!r} ({first})") from None
    return ray, True


def _actor_class(ray):
    @ray.remote
    class ModelActor:
        """One loaded model on one worker. Its methods are the engine calls, with plain data in and out."""

        def __init__(self, model, options: dict):
            import socket
            import tempfile

            from bayling_cat.engines.ctranslate2 import Engine

            self.node = socket.gethostname()
            if isinstance(model, dict):  # shipped: file name -> bytes, written once into a private folder
                folder = Path(tempfile.mkdtemp(prefix="bayling-cat-model-"))
                for name, data in model.items():
                    (folder / name).write_bytes(data)
                model = str(folder)
            decoding = DecodingOptions(**options.pop("decoding"))
            self.engine = Engine(model, decoding=decoding, **options)

        def ready(self) -> str:
            return self.node

        def generate(self, conversations, source_texts, suppress, decoding: dict):
            engine = self.engine.with_decoding(**decoding)
            return [(g.text, g.flags, g.score, g.generated_tokens)
                    for g in engine.generate(conversations, source_texts, suppress_sequences=suppress)]

        def complete(self, source, prefix, source_lang, target_lang, alternatives):
            return self.engine.complete(source, prefix, source_lang, target_lang, alternatives)

        def banned_sequences(self, forms, keep):
            return self.engine.banned_sequences(forms, keep)

        def count_tokens(self, text):
            return self.engine.count_tokens(text)

    return ModelActor


class ClusterEngine(BaseEngine):
    """A pool of ``workers`` model actors behind the engine interface."""

    def __init__(self, model_dir, address: str = "auto", workers: int = 2, gpus_per_worker: float = 0,
                 threads: int = 1, ship_model: bool = False, compute_type: str = "auto",
                 decoding: DecodingOptions | None = None, say=lambda m: None):
        self.path = check_model_folder(model_dir)
        self.info = ModelInfo.read(self.path)
        self.template = PromptTemplate(self.info.template, self.info.chat_template, self.info.bos_token,
                                       self.info.eos_token)
        self.decoding = decoding or DecodingOptions()
        self.device = "cuda" if gpus_per_worker else "cpu"
        self.compute_type = compute_type
        self.threads, self.workers = threads, workers
        self.inter_threads = workers  # the server runs one batch per actor
        self.concurrency = workers  # the pipeline sends this many chunks at once
        self.say = say
        self.ray, self._started = connect(address, say)
        model = str(self.path)
        if ship_model:
            # through the object store: workers need not see this machine's disk
            model = self.ray.put({name: (self.path / name).read_bytes() for name in SHIPPED_FILES
                                  if (self.path / name).is_file()})
        self._model = model
        self._options = dict(device=self.device, compute_type=compute_type, threads=threads,
                             decoding=asdict(self.decoding))
        self._resources = dict(num_cpus=threads, num_gpus=gpus_per_worker)
        self._idle: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._inflight: dict = {}  # object ref -> actor, for cancellation
        self.actors: dict = {}  # actor handle -> node
        self.retries = 0
        self._closing = False  # set by cancel(): what fails from now on is the cancellation, not a fault
        self._banned: dict = {}
        self._start_pool()

    # -- the pool -------------------------------------------------------------------------------------------

    def _spawn(self):
        actor_cls = _actor_class(self.ray)
        return actor_cls.options(**self._resources).remote(self._model, dict(self._options))

    def _check_room(self) -> None:
        """Refuse at once a pool the whole cluster could never hold (Ray would leave its actors pending)."""
        total = self.ray.cluster_resources()
        for name, each in (("CPU", self._resources["num_cpus"]), ("GPU", self._resources["num_gpus"])):
            if each and self.workers * each > total.get(name, 0):
                raise ClusterError(f"--workers {self.workers} with {each:g} {name} each need {self.workers * each:g} "
                                   f"{name}s; the cluster has {total.get(name, 0):g}")

    def _start_pool(self) -> None:
        """Start the actors and wait until each has loaded the model; a node that cannot is reported once, and
        actors that find no free room within READY_TIMEOUT seconds are given up."""
        ray = self.ray
        self._check_room()
        actors = [self._spawn() for _ in range(self.workers)]
        ready = {actor.ready.remote(): actor for actor in actors}
        done, pending = ray.wait(list(ready), num_returns=len(ready), timeout=READY_TIMEOUT)
        failed: dict[str, str] = {}
        for ref in done:
            try:
                node = ray.get(ref)
            except Exception as exc:  # noqa: BLE001 - RayActorError/RayTaskError wrap the worker's own error
                reason = _reason(exc)
                failed.setdefault(reason, reason)
                continue
            self.actors[ready[ref]] = node
            self._idle.put(ready[ref])
        for ref in pending:
            ray.kill(ready[ref])
        if pending:
            failed.setdefault("no room", f"{len(pending)} of {self.workers} model actors found no free "
                                         f"CPU/GPU on the cluster within {READY_TIMEOUT:g} s")
        for reason in failed:
            self.say(f"bayling-cat: warning: cluster: a worker cannot load the model: {reason}")
        if not self.actors:
            self.close()
            raise ClusterError(f"no worker could load the model {self.path}"
                               + (f" ({next(iter(failed))})" if failed else ""))
        nodes = sorted(set(self.actors.values()))
        self.say(f"bayling-cat: cluster: {len(self.actors)} model actors on {len(nodes)} node"
                 f"{'s' if len(nodes) != 1 else ''} ({', '.join(nodes)})")

    def _replace(self, actor) -> None:
        """An actor died: forget it and start another in its place (on whichever node Ray finds room)."""
        with self._lock:
            self.actors.pop(actor, None)
        if self._closing:
            return
        try:
            self.ray.kill(actor)
        except Exception:  # noqa: BLE001 - already gone
            pass
        try:
            fresh = self._spawn()
            node = self.ray.get(fresh.ready.remote(), timeout=300)
        except Exception:  # noqa: BLE001 - no room, no node can load it, or Ray is shutting down: the pool shrinks
            return
        with self._lock:
            self.actors[fresh] = node
        self._idle.put(fresh)

    def _call(self, method: str, *args):
        """Run one call on the first free actor; a call whose actor dies goes to another, at most MAX_RETRIES
        times, then the run stops with one line."""
        ray = self.ray
        last = ""
        for attempt in range(MAX_RETRIES + 1):
            if not self.actors and self._idle.empty():
                raise ClusterError("every model actor of the cluster has failed")
            actor = self._idle.get()
            ref = getattr(actor, method).remote(*args)
            with self._lock:
                self._inflight[ref] = actor
            try:
                result = ray.get(ref)
            except ray.exceptions.TaskCancelledError:
                raise KeyboardInterrupt from None
            except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError,
                    ray.exceptions.NodeDiedError) as exc:
                if self._closing:
                    raise KeyboardInterrupt from None
                last = _reason(exc)
                self.retries += 1
                threading.Thread(target=self._replace, args=(actor,), daemon=True).start()
                continue
            except ray.exceptions.RayTaskError as exc:
                self._idle.put(actor)
                raise ClusterError(f"a model actor failed: {_reason(exc)}") from None
            finally:
                with self._lock:
                    self._inflight.pop(ref, None)
            self._idle.put(actor)
            return result
        raise ClusterError(f"a chunk failed on {MAX_RETRIES + 1} actors in a row ({last}); the finished chunks "
                           "are kept in the memory")

    def cancel(self) -> None:
        """Ctrl-C: cancel what is still running on the cluster."""
        self._closing = True
        with self._lock:
            refs = list(self._inflight)
        for ref in refs:
            try:
                self.ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished
                pass

    def close(self) -> None:
        self.cancel()
        for actor in list(self.actors):
            try:
                self.ray.kill(actor)
            except Exception:  # noqa: BLE001
                pass
        self.actors.clear()
        if self._started and self.ray.is_initialized():
            self.ray.shutdown()
            self._started = False

    def status(self) -> dict:
        """For /health: the actors, their nodes, and the calls running now."""
        with self._lock:
            nodes: dict[str, int] = {}
            for node in self.actors.values():
                nodes[node] = nodes.get(node, 0) + 1
            return {"actors": len(self.actors), "nodes": nodes, "busy": len(self._inflight),
                    "idle": self._idle.qsize(), "retries": self.retries}

    # -- the engine interface ----------------------------------------------------------------------------------

    def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None,
                 session=None, cancel=None):
        """The actors keep no sessions (``session`` is ignored); ``cancel`` is checked before the call."""
        self.check_cancel(cancel)
        if len(conversations) != len(source_texts):
            raise ValueError("one source text per conversation")
        if not conversations:
            return []
        raw = self._call("generate", [list(c) for c in conversations], list(source_texts),
                         [list(s) if not isinstance(s, str) else s for s in suppress_sequences],
                         asdict(self.decoding))
        results = [Generation(text, list(flags), score, tokens) for text, flags, score, tokens in raw]
        if on_done is not None:
            for i, gen in enumerate(results):
                on_done(i, gen)
        if progress is not None:
            progress(len(results))
        return results

    def complete(self, source, prefix, source_lang, target_lang, alternatives=5, session=None, cancel=None):
        self.check_cancel(cancel)
        return tuple(self._call("complete", source, prefix, source_lang, target_lang, alternatives))

    def banned_sequences(self, forms, keep=()):
        key = (tuple(forms), tuple(keep))
        if key not in self._banned:
            self._banned[key] = self._call("banned_sequences", list(forms), list(keep))
        return self._banned[key]

    def count_tokens(self, text: str) -> int:
        return self._call("count_tokens", text)


def _reason(exc: BaseException) -> str:
    """The worker's own error message, without Ray's traceback."""
    cause = getattr(exc, "cause", None) or getattr(exc, "__cause__", None)
    text = str(cause if cause is not None else exc).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):  # the last line of a traceback says what happened
        if ":" in line and not line.startswith(("File ", "Traceback")):
            return line[:300]
    return (lines[-1] if lines else type(exc).__name__)[:300]
