"""What every protocol module shares: the engine behind the batcher, glossaries, revision conversations and
document jobs. Protocol modules translate their requests into calls on one ``Service``; they never touch the
engine or a connector themselves.
"""

from __future__ import annotations

import re
import secrets
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from bayling_cat.batching import Batcher, Busy
from bayling_cat.document import Code, keep_outer_space, protect, repair, restore_literals
from bayling_cat.errors import UserError
from bayling_cat.glossary import Glossary, GlossaryError, Term, load

MAX_SEGMENTS = 1000
MAX_BODY = 32 * 1024 * 1024
TIMEOUT = 600.0
CONVERSATION_TTL = 3600.0
# languages offered to the protocols' language lists; any valid code is accepted in requests
LANGUAGES = ["en", "zh", "de", "fr", "es", "it", "pt", "ru", "ja", "ko", "ar", "nl", "pl", "tr", "cs", "sv", "uk",
             "vi", "id", "he"]
TAGS = re.compile(r"</?[A-Za-z][\w:.-]*(?:\s[^<>]*)?/?>|&[A-Za-z]+;|&#\d+;|</?\d+/?>")


class ApiError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass
class GlossaryRecord:
    id: str
    name: str
    glossary: Glossary
    created: float = field(default_factory=time.time)
    # a multilingual (DeepL v3) glossary: one dictionary per (source, target) base-language pair; ``glossary``
    # is then its first dictionary, for the one-pair views of the other protocols
    dictionaries: dict = field(default_factory=dict)

    def for_pair(self, source_lang: str, target_lang: str) -> Glossary | None:
        if not self.dictionaries:
            return self.glossary
        return self.dictionaries.get((source_lang.split("-")[0], target_lang.split("-")[0]))

    def info(self) -> dict:
        return {"id": self.id, "name": self.name, "source_lang": self.glossary.source_lang,
                "target_lang": self.glossary.target_lang, "entry_count": len(self.glossary)}


class Service:
    """What the routes share: the engine behind a batcher, glossaries, conversations, document jobs."""

    def __init__(self, engine, glossary_files=(), max_batch: int = 32, window: float = 0.02,
                 max_pending: int = 1024, timeout: float = TIMEOUT):
        self.engine = engine
        self.model_name = Path(str(getattr(engine, "path", "model"))).name
        self.timeout = timeout
        self.lock = threading.Lock()
        self.glossaries: dict[str, GlossaryRecord] = {}
        self.files: list[Path] = list(glossary_files)
        self._loaded: dict[tuple[str, str], list[Glossary]] = {}
        self.conversations: dict[str, tuple[object, float]] = {}
        self.jobs: dict[str, dict] = {}
        self.characters = 0
        self.workdir = Path(tempfile.mkdtemp(prefix="bayling-cat-serve-"))
        self.batcher = Batcher(self._run_batch, max_batch=max_batch, window=window, max_pending=max_pending,
                               workers=getattr(engine, "inter_threads", 1))

    def close(self) -> None:
        """At shutdown: the engine's own resources (a cluster's actors and the Ray instance it started) go."""
        self.batcher.stop()
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    # -- translation through the batcher ---------------------------------------------------------------

    def _run_batch(self, key, texts, hints, deliver=None):
        source_lang, target_lang, glossary_ids, max_revisions, strategy, inline = key
        glossary = self.glossary_for(source_lang, target_lang, glossary_ids)
        if inline:
            entries = [{"source": s, "target": t, "kind": k} for s, t, k in inline]
            glossary = Glossary.merge([g for g in (glossary, entries_glossary(entries, source_lang, target_lang))
                                       if g is not None])
        if glossary is None:
            return self.engine.translate(texts, source_lang, target_lang, hints=hints, on_done=deliver)
        from bayling_cat.revision import TermTranslator

        translator = TermTranslator(self.engine, {(source_lang, target_lang): glossary},
                                    max_revisions=max_revisions, term_strategy=strategy)
        return translator.translate(texts, source_lang, target_lang, hints=hints)

    def translate(self, texts, source_lang, target_lang, glossary_ids=(), max_revisions=2, strategy="none",
                  hints=None, inline=()):
        """``inline``: (source, target, kind) glossary entries that come with the request itself."""
        key = (source_lang, target_lang, tuple(glossary_ids), max_revisions, strategy, tuple(inline))
        try:
            results = self.batcher.submit(key, texts, hints, timeout=self.timeout)
        except Busy as exc:
            raise ApiError(503, f"busy: {exc}; try again shortly", retry_after=2) from None
        except TimeoutError as exc:
            raise ApiError(504, str(exc)) from None
        with self.lock:
            self.characters += sum(len(t) for t in texts)
        return results

    def translate_tagged(self, texts, source_lang, target_lang, extra_pattern=None, markup=True, **kwargs):
        """Texts with markup: tags (and ignored elements) become placeholders the model copies. With
        ``markup=False`` only ``extra_pattern`` is protected (placeables in plain text)."""
        pattern = re.compile(f"{extra_pattern}|{TAGS.pattern}", re.S) if extra_pattern else TAGS
        if not markup:
            pattern = re.compile(extra_pattern or r"(?!)", re.S)
        prepared = []
        for text in texts:
            codes: dict[int, Code] = {}
            prepared.append((protect(text, pattern, codes), codes))
        results = self.translate([p.strip() for p, _ in prepared], source_lang, target_lang, **kwargs)
        out = []
        for (text, codes), gen in zip(prepared, results):
            fixed, changed = repair(keep_outer_space(text, gen.text), codes)
            flags = list(gen.flags) + (["codes-repaired"] if changed else [])
            out.append((restore_literals(fixed, codes), flags, getattr(gen, "terms", None)))
        return out

    # -- glossaries -------------------------------------------------------------------------------------

    def _startup_glossaries(self, source_lang, target_lang) -> list[Glossary]:
        """The --glossary files for one language pair, read once."""
        key = (source_lang, target_lang)
        with self.lock:
            cached = self._loaded.get(key)
        if cached is None:
            cached = []
            for path in self.files:
                try:
                    cached.append(load(path, source_lang, target_lang))
                except GlossaryError:
                    continue  # a startup glossary for another language pair
            with self.lock:
                self._loaded[key] = cached
        return cached

    def glossary_for(self, source_lang, target_lang, ids) -> Glossary | None:
        chosen = list(self._startup_glossaries(source_lang, target_lang))
        with self.lock:
            for gid in ids:
                record = self.glossaries.get(gid)
                if record is None:
                    raise ApiError(404, f"unknown glossary {gid!r}")
                if record.dictionaries:
                    g = record.for_pair(source_lang, target_lang)
                    if g is None:
                        raise ApiError(400, f"glossary {gid!r} has no dictionary for {source_lang} -> {target_lang}")
                    chosen.append(Glossary(g.terms, source_lang, target_lang, g.name))
                    continue
                g = record.glossary
                if g.source_lang.split("-")[0] != source_lang.split("-")[0] or \
                        g.target_lang.split("-")[0] != target_lang.split("-")[0]:
                    raise ApiError(400, f"glossary {gid!r} is {g.source_lang} -> {g.target_lang}, not "
                                        f"{source_lang} -> {target_lang}")
                chosen.append(Glossary(g.terms, source_lang, target_lang, g.name))
        return Glossary.merge(chosen)

    def add_glossary(self, name: str, glossary: Glossary) -> GlossaryRecord:
        record = GlossaryRecord(uuid.uuid4().hex[:16], name, glossary)
        with self.lock:
            self.glossaries[record.id] = record
        return record

    def glossary_from_file(self, name: str, data: bytes, filename: str, source_lang: str, target_lang: str):
        suffix = Path(filename or "glossary.csv").suffix.lower() or ".csv"
        path = self.workdir / f"{uuid.uuid4().hex}{suffix}"
        path.write_bytes(data)
        try:
            glossary = load(path, source_lang, target_lang)
        except UserError as exc:
            raise ApiError(400, str(exc).replace(str(path), filename or "glossary")) from None
        finally:
            path.unlink(missing_ok=True)
        return self.add_glossary(name, glossary)

    # -- conversations ----------------------------------------------------------------------------------

    def conversation(self, cid):
        now = time.time()
        with self.lock:
            for key in [k for k, (_, exp) in self.conversations.items() if exp < now]:
                del self.conversations[key]
            if cid is None:
                return None
            found = self.conversations.get(cid)
            if found is None:
                raise ApiError(404, f"unknown or expired conversation {cid!r}")
            return found[0]

    def keep_conversation(self, chat, cid=None) -> str:
        cid = cid or uuid.uuid4().hex
        with self.lock:
            if len(self.conversations) >= 10000:
                oldest = min(self.conversations, key=lambda k: self.conversations[k][1])
                del self.conversations[oldest]
            self.conversations[cid] = (chat, time.time() + CONVERSATION_TTL)
        return cid

    # -- documents --------------------------------------------------------------------------------------

    def start_document(self, data: bytes, filename: str, source_lang, target_lang, glossary_ids=()) -> str:
        job_id = uuid.uuid4().hex
        folder = self.workdir / job_id
        folder.mkdir()
        name = Path(filename or "document").name or "document"
        path = folder / name
        path.write_bytes(data)
        job = {"id": job_id, "status": "queued", "input": path, "output": None, "error": None,
               "key": secrets.token_hex(16), "characters": 0, "name": name}
        with self.lock:
            self.jobs[job_id] = job
        threading.Thread(target=self._document, args=(job, source_lang, target_lang, glossary_ids),
                         daemon=True).start()
        return job_id

    def _document(self, job, source_lang, target_lang, glossary_ids):
        from bayling_cat.pipeline import Options, Pipeline

        job["status"] = "translating"
        service = self

        class Through:  # the pipeline's translator: through the batcher, so documents share the model fairly
            def translate(self, texts, src, tgt, progress=None, hints=None):
                out = service.translate(texts, src, tgt, glossary_ids=glossary_ids, hints=hints)
                if progress:
                    progress(len(texts))
                return out

        try:
            out = job["input"].parent / "out" / job["input"].name
            options = Options(source_lang=source_lang, target_lang=target_lang, output=out)
            [result] = Pipeline(Through(), options).run([str(job["input"])])
            if result.error:
                raise UserError(result.error.replace(str(job["input"]), job["name"]))
            job["output"] = result.output
            job["characters"] = sum(len(s.source) for s in result.segments)
            job["status"] = "done"
        except (UserError, ApiError) as exc:
            job["error"] = getattr(exc, "message", None) or str(exc)
            job["status"] = "error"
        except Exception as exc:  # noqa: BLE001 - reported to the client as the job's error
            job["error"] = f"translation failed: {type(exc).__name__}"
            job["status"] = "error"

    def document(self, job_id, wait: float = 0.0) -> dict:
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"unknown document {job_id!r}")
        deadline = time.time() + wait
        while job["status"] in ("queued", "translating") and time.time() < deadline:
            time.sleep(0.05)
        return job


def entries_glossary(entries, source_lang: str, target_lang: str) -> Glossary:
    if not isinstance(entries, list):
        raise ApiError(400, "'terms' and 'entries' must be lists of {source, target, kind}")
    terms: dict[str, Term] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict) or not isinstance(e.get("source"), str) or not e["source"].strip():
            raise ApiError(400, f"entry {i}: 'source' is required")
        kind = e.get("kind", "preferred")
        if kind not in ("preferred", "admitted", "forbidden", "dnt"):
            raise ApiError(400, f"entry {i}: 'kind' must be preferred, admitted, forbidden or dnt")
        target = e.get("target")
        if kind != "dnt" and (not isinstance(target, str) or not target.strip()):
            raise ApiError(400, f"entry {i}: 'target' is required")
        term = terms.setdefault(e["source"].strip().lower(), Term(e["source"].strip(), origin=f"entry {i}"))
        if kind == "dnt":
            term.dnt = True
        elif kind == "forbidden":
            term.forbidden.append(target.strip())
        elif kind == "preferred":
            term.targets.insert(0, target.strip())
        else:
            term.targets.append(target.strip())
    usable = [t for t in terms.values() if t.targets or t.forbidden or t.dnt]
    return Glossary(usable, source_lang, target_lang, "inline")
