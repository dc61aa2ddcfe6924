"""What every protocol module shares: the engine behind the batcher, glossaries, revision conversations and
document jobs. Protocol modules translate their requests into calls on one ``Service``; they never touch the
engine or a connector themselves.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
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
from bayling_cat.sessions import Latest

MAX_SEGMENTS = 1000
MAX_BODY = 32 * 1024 * 1024
# characters in one segment (or a completion's source and prefix): several times what a model's context holds;
# beyond it a request is refused before it reaches the tokenizer
MAX_TEXT = 20_000
TIMEOUT = 600.0
CONVERSATION_TTL = 3600.0
PROMPT_ROOM = 256  # tokens a completion keeps free for the prompt's template and the continuation
MAX_ENTRIES = 10_000  # glossary entries in one request
# characters XML 1.0 forbids, lone surrogates included (they cannot even be encoded as UTF-8)
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
JOB_TTL = 3600.0  # seconds a finished document job (upload and result) is kept
MAX_JOBS = 256  # document jobs kept at once; the oldest finished one goes first
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
    readonly: bool = False  # a --glossary file given at start: listed, applied to every request, not deletable
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
                 max_pending: int = 1024, timeout: float = TIMEOUT, job_ttl: float = JOB_TTL,
                 max_jobs: int = MAX_JOBS, same_length_batches: bool = True):
        """``same_length_batches``: the engine batches only prompts of equal length, so that an answer never
        depends on the other requests it was batched with (padding flips greedy choices); off, batches are
        fuller and throughput higher."""
        self.engine = engine
        decoding = getattr(engine, "decoding", None)
        if decoding is not None:
            decoding.same_length_batches = same_length_batches
        self.model_name = Path(str(getattr(engine, "path", "model"))).name
        self.timeout = timeout
        self.lock = threading.Lock()
        self.glossaries: dict[str, GlossaryRecord] = {}
        self.files: list[Path] = list(glossary_files)
        self._loaded: dict[tuple[str, str], list[Glossary]] = {}
        self.conversations: dict[str, tuple[object, float]] = {}
        self.jobs: dict[str, dict] = {}
        self.latest = Latest()  # the completion running per segment: a newer one cancels it
        self.job_ttl, self.max_jobs = job_ttl, max_jobs
        self._closed = threading.Event()
        self.characters = 0
        remove_stale_workdirs()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"bayling-cat-serve-{os.getpid()}-"))
        self.batcher = Batcher(self._run_batch, max_batch=max_batch, window=window, max_pending=max_pending,
                               workers=getattr(engine, "inter_threads", 1))
        for number, path in enumerate(self.files, 1):
            self._list_startup(number, Path(path))
        threading.Thread(target=self._sweep, name="bayling-cat-jobs", daemon=True).start()

    def _sweep(self) -> None:
        """Expire document jobs even when no request comes to do it."""
        while not self._closed.wait(min(60.0, max(0.05, self.job_ttl / 2))):
            self.expire_jobs()

    def close(self) -> None:
        """On shutdown (safe to call twice): stop the batcher, delete every upload and result, and let the engine
        release what it holds (a cluster's actors and the Ray instance it started)."""
        self._closed.set()
        self.batcher.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def check_remove(self, gid: str) -> None:
        """Refuse to delete a glossary given at start-up (the caller holds the lock)."""
        record = self.glossaries.get(gid)
        if record is not None and record.readonly:
            raise ApiError(409, f"glossary {gid!r} ({record.name}) was loaded at start-up (serve --glossary) and is "
                                "read-only: restart the server without it to remove it")

    # -- translation through the batcher ---------------------------------------------------------------

    def _run_batch(self, key, texts, hints, deliver=None, examples=None):
        source_lang, target_lang, glossary_ids, max_revisions, strategy, inline = key
        glossary = self.glossary_for(source_lang, target_lang, glossary_ids)
        if inline:
            entries = [{"source": s, "target": t, "kind": k} for s, t, k in inline]
            glossary = Glossary.merge([g for g in (glossary, entries_glossary(entries, source_lang, target_lang))
                                       if g is not None])
        if glossary is None:
            return self.engine.translate(texts, source_lang, target_lang, hints=hints, on_done=deliver,
                                         **({"examples": examples} if examples else {}))
        from bayling_cat.revision import TermTranslator

        translator = TermTranslator(self.engine, {(source_lang, target_lang): glossary},
                                    max_revisions=max_revisions, term_strategy=strategy)
        return translator.translate(texts, source_lang, target_lang, hints=hints,
                                    **({"examples": examples} if examples else {}))

    def translate(self, texts, source_lang, target_lang, glossary_ids=(), max_revisions=2, strategy="none",
                  hints=None, inline=(), examples=None):
        """``inline``: (source, target, kind) glossary entries that come with the request itself;
        ``examples``: per text, approved (source, target) pairs from the memory the model is shown first."""
        key = (source_lang, target_lang, tuple(glossary_ids), max_revisions, strategy, tuple(inline))
        try:
            results = self.batcher.submit(key, texts, hints, timeout=self.timeout, examples=examples)
        except Busy as exc:
            raise ApiError(503, f"busy: {exc}; try again shortly", retry_after=2) from None
        except TimeoutError as exc:
            raise ApiError(504, str(exc)) from None
        with self.lock:
            self.characters += sum(len(t) for t in texts)
        return results

    def complete(self, source: str, prefix: str, source_lang: str, target_lang: str, alternatives: int,
                 session=None):
        """The engine's completion, for a source and prefix that fit the model's context with room to spare
        (a longer one would make the engine allocate for the whole of it, to produce nothing). ``session``
        names the segment (default: its source and languages); a newer request for it cancels this one."""
        count = getattr(self.engine, "count_tokens", None)
        context = getattr(getattr(self.engine, "info", None), "context_length", None)
        if count is not None and context:
            used = count(source) + count(prefix)
            if used + PROMPT_ROOM > context:
                raise ApiError(413, f"the source and prefix are {used:,} tokens: together they must stay under "
                                    f"{context - PROMPT_ROOM:,} for this model")
        from bayling_cat.sessions import Cancelled, segment_key

        key = session if session is not None else segment_key(source, source_lang, target_lang)
        flag = self.latest.start(key)
        try:
            return self.engine.complete(source, prefix, source_lang, target_lang, alternatives, session=key,
                                        cancel=flag)
        except Cancelled as exc:
            raise ApiError(409, f"{exc}: nobody reads this answer") from None
        finally:
            self.latest.finish(key, flag)

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

    def _list_startup(self, number: int, path: Path) -> None:
        """List a --glossary file under /v1/glossaries and /v2/glossaries: one read-only record per language
        pair it holds (at most 20), ids startup-N-SRC-TGT."""
        codes = glossary_languages(path)
        pairs = [(a, b) for a in codes for b in codes if a.split("-")[0] != b.split("-")[0]][:20]
        for source_lang, target_lang in pairs:
            try:
                glossary = load(path, source_lang, target_lang)
            except UserError:
                continue
            gid = f"startup-{number}-{source_lang}-{target_lang}"
            self.glossaries[gid] = GlossaryRecord(gid, path.name, glossary, readonly=True)

    def glossary_for(self, source_lang, target_lang, ids) -> Glossary | None:
        chosen = list(self._startup_glossaries(source_lang, target_lang))
        with self.lock:
            for gid in ids:
                record = self.glossaries.get(gid)
                if record is None:
                    raise ApiError(404, f"unknown glossary {gid!r}")
                if record.readonly:
                    continue  # a start-up glossary applies to its language pair already
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
        """``filename``: a name common.file_name has checked. Jobs expire ``job_ttl`` seconds after they end."""
        self.expire_jobs(room=1)
        with self.lock:
            if len(self.jobs) >= self.max_jobs:
                raise ApiError(503, f"{len(self.jobs)} documents are being translated; try again shortly",
                               retry_after=5)
            job_id = uuid.uuid4().hex
            job = {"id": job_id, "status": "queued", "input": None, "output": None, "error": None,
                   "key": secrets.token_hex(16), "characters": 0, "name": filename, "ended": None}
            self.jobs[job_id] = job
        folder = self.workdir / job_id
        folder.mkdir(parents=True)
        path = folder / filename
        path.write_bytes(data)
        job["input"] = path
        threading.Thread(target=self._document, args=(job, source_lang, target_lang, glossary_ids),
                         daemon=True).start()
        return job_id

    def expire_jobs(self, now: float | None = None, room: int = 0) -> None:
        """Forget finished jobs older than ``job_ttl`` and delete their files; beyond ``max_jobs`` jobs (less
        ``room`` for new ones), the oldest finished ones go first."""
        now = time.time() if now is None else now
        with self.lock:
            ended = sorted((j for j in self.jobs.values() if j["ended"] is not None), key=lambda j: j["ended"])
            gone = [j for j in ended if now - j["ended"] > self.job_ttl]
            keep = [j for j in ended if j not in gone]
            excess = len(self.jobs) - len(gone) - self.max_jobs + room
            gone += keep[:max(0, excess)]
            for job in gone:
                del self.jobs[job["id"]]
        for job in gone:
            shutil.rmtree(self.workdir / job["id"], ignore_errors=True)

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
        finally:
            job["ended"] = time.time()

    def document(self, job_id, wait: float = 0.0) -> dict:
        self.expire_jobs()
        with self.lock:
            job = self.jobs.get(job_id)
        if job is None:
            raise ApiError(404, f"unknown document {job_id!r}")
        deadline = time.time() + wait
        while job["status"] in ("queued", "translating") and time.time() < deadline:
            time.sleep(0.05)
        return job


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


def glossary_languages(path: Path) -> list[str]:
    """The language codes a TBX (its langSets) or CSV/TSV glossary (its header) holds, in file order."""
    from bayling_cat import languages

    try:
        data = path.read_bytes()
    except OSError:
        return []
    found: list[str] = []
    if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<":
        from lxml import etree

        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
        try:
            root = etree.fromstring(data, parser)
        except etree.XMLSyntaxError:
            return []
        xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
        cells = [el.get(xml_lang) or el.get("lang") or "" for el in root.iter()
                 if isinstance(el.tag, str) and etree.QName(el).localname in ("langSet", "langSec")]
    else:
        first = data.decode("utf-8-sig", "replace").splitlines()[:1]
        line = first[0] if first else ""
        cells = line.split("\t") if line.count("\t") > line.count(",") else line.split(",")
    for cell in cells:
        try:
            code = languages.normalize(cell.strip().strip('"'))
        except UserError:
            continue
        if code not in found:
            found.append(code)
    return found


def entries_glossary(entries, source_lang: str, target_lang: str) -> Glossary:
    """Glossary entries from a request ({source, target, kind}), each field checked for type and content."""
    if not isinstance(entries, list):
        raise ApiError(400, "'terms' and 'entries' must be lists of {source, target, kind}")
    if len(entries) > MAX_ENTRIES:
        raise ApiError(413, f"at most {MAX_ENTRIES:,} glossary entries in one request")
    terms: dict[str, Term] = {}
    for i, e in enumerate(entries):
        if not isinstance(e, dict):
            raise ApiError(400, f"entry {i}: an object with 'source', 'target' and 'kind'")
        kind = e.get("kind", "preferred")
        if kind not in ("preferred", "admitted", "forbidden", "dnt"):
            raise ApiError(400, f"entry {i}: 'kind' must be preferred, admitted, forbidden or dnt")
        source, target = e.get("source"), e.get("target")
        if not isinstance(source, str) or not source.strip():
            raise ApiError(400, f"entry {i}: 'source' must be a non-empty string")
        if target is not None and not isinstance(target, str):
            raise ApiError(400, f"entry {i}: 'target' must be a string")
        if kind != "dnt" and (target is None or not target.strip()):
            raise ApiError(400, f"entry {i}: 'target' is required")
        for name, value in (("source", source), ("target", target or "")):
            if len(value) > 1000 or NOT_XML.search(value):
                raise ApiError(400, f"entry {i}: '{name}' must be at most 1,000 characters of valid text")
        term = terms.setdefault(source.strip().lower(), Term(source.strip(), origin=f"entry {i}"))
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
