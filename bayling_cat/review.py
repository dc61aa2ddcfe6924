"""The translator's workbench, server side: one document under review as a session.

A session is the document read by its connector (through the pipeline's reading and deciding), and what the
translator did to each segment since: targets typed, machine translations, revision turns, confirmations,
each change with a version number. Every change is appended to an edit log on disk the moment it is made, so
a closed tab, a crashed browser or a restarted server reopens the document where it was left.

The session lives in a hidden folder beside the document (``.NAME.review/``): a copy of the document as it was
opened (the base every save writes into, so a save never depends on an earlier save's layout), ``meta.json``
and ``edits.jsonl`` (one line per change: the segment's whole new record, so replay is "last line wins" and a
line torn by a crash is simply skipped).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bayling_cat.connectors import open_document
from bayling_cat.connectors.xmlio import local_name
from bayling_cat.document import PLACEHOLDER, Segment, keep_outer_space, repair
from bayling_cat.engines.base import BLOCKING_FLAGS
from bayling_cat.errors import UserError
from bayling_cat.fileio import write_atomic

# statuses the grid shows and filters on; the format's own word for each segment is shown beside it
NEW, REVIEW, DRAFT, CONFIRMED, LOCKED = "new", "review", "draft", "confirmed", "locked"
# reasons to leave a segment alone that also mean a person may not change it here
READ_ONLY = {"translate=no", "approved", "locked", "final", "signed-off", "no source",
             "confirmed (ApprovedTranslation)", "confirmed (ApprovedSignOff)"}
# the formats' words for a target that waits for review (machine output, fuzzy, draft)
REVIEW_STATES = {"needs-review-translation", "needs-review-l10n", "needs-review-adaptation", "needs-translation",
                 "needs-l10n", "needs-adaptation", "new", "initial", "Draft", "PreTranslated", "PartiallyEdited",
                 "fuzzy", "untranslated", "NotStarted"}
HISTORY_LIMIT = 200  # per segment: enough to take back anything a person remembers doing
WORD = re.compile(r"\w+", re.UNICODE)


class LockedMemory:
    """The translation memory shared by the server's threads: one SQLite connection, one caller at a time."""

    def __init__(self, memory):
        self._memory = memory
        self._lock = threading.Lock()
        self.location = memory.location  # a file, or a postgresql:// URL without its password

    def __getattr__(self, name):
        method = getattr(self._memory, name)

        def locked(*args, **kwargs):
            with self._lock:
                return method(*args, **kwargs)
        return locked


class Conflict(UserError):
    """A change based on a version of the segment that another tab has already replaced."""

    def __init__(self, message: str, current: dict):
        super().__init__(message)
        self.current = current


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def session_folder(document: Path) -> Path:
    return document.with_name(f".{document.name}.review")


def code_info(code) -> dict:
    """How a chip shows an inline code: its literal text, or the element's name and id."""
    if code.literal is not None:
        return {"paired": False, "label": code.literal, "literal": True}
    el = code.element
    if el is None or not isinstance(el.tag, str):
        return {"paired": code.paired, "label": "comment", "literal": False}
    name = local_name(el)
    ident = el.get("id") or el.get("mid") or el.get("startRef") or ""
    return {"paired": code.paired, "label": f"{name} {ident}".strip(), "literal": False}


def words(text: str) -> int:
    return len(WORD.findall(PLACEHOLDER.sub(" ", text)))


def code_problems(text: str, codes) -> dict:
    """Inline codes the target lost or added (or broke), compared with the source's."""
    wanted = []
    for n in sorted(codes):
        wanted += [f"<{n}>", f"</{n}>"] if codes[n].paired else [f"<{n}/>"]
    found = [m.group(0) for m in PLACEHOLDER.finditer(text)]
    missing = [t for t in wanted if t not in found]
    extra = [t for t in found if t not in wanted or found.count(t) > 1]
    _, broken = repair(text, codes)
    return {"missing": missing, "extra": sorted(set(extra)), "ok": not broken}


@dataclass
class Record:
    """What the translator did to one segment in this session."""

    target: str | None
    status: str
    origin: str = "human"  # who wrote the target: human, mt (the model), tm (the memory), copy
    version: int = 0
    flags: list[str] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)  # {kind, text, instruction?, at}
    turns: list[list[str]] = field(default_factory=list)  # the revision conversation: [instruction, answer]
    base: str | None = None  # the translation the revision conversation started from

    def to_json(self) -> dict:
        return {"target": self.target, "status": self.status, "origin": self.origin, "version": self.version,
                "flags": self.flags, "history": self.history, "turns": self.turns, "base": self.base}

    @classmethod
    def from_json(cls, data: dict) -> "Record":
        return cls(data.get("target"), data["status"], data.get("origin", "human"), int(data["version"]),
                   list(data.get("flags", [])), list(data.get("history", [])), list(data.get("turns", [])),
                   data.get("base"))


class ReviewSession:
    """One document open in the workbench."""

    def __init__(self, path: Path, doc_id: str, source_lang: str | None = None, target_lang: str | None = None,
                 glossary_for: Callable[[str, str], object] | None = None, memory=None,
                 output: Path | None = None, folder: Path | None = None):
        from bayling_cat.pipeline import Options, Pipeline

        self.path = Path(path).resolve()
        self.id = doc_id
        self.output = output
        self.memory = memory
        self.lock = threading.RLock()
        self.folder = folder or session_folder(self.path)
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        self.notice = self._prepare_folder(data)
        base_copy = self.folder / ("original" + "".join(self.path.suffixes[-1:]))
        # the pipeline's reading and deciding, on the base copy under the document's own name
        options = Options(source_lang=source_lang, target_lang=target_lang, in_place=True)
        reader = Pipeline(None, options)
        result = reader.read(self.path, None)
        if result.error:
            raise UserError(result.error)
        self.connector = open_document(self.path, data=base_copy.read_bytes())
        if not self.connector.target_lang:
            self.connector.set_target_language(result.target_lang)
        self.format = result.format
        self.source_lang, self.target_lang = result.source_lang, result.target_lang
        self.segments: list[Segment] = self.connector.segments()
        for seg in self.segments:
            reader.decide(seg)
        self.glossary = glossary_for(self.source_lang, self.target_lang) if glossary_for else None
        self.records: dict[int, Record] = {}
        self._matches: dict[int, list] = {}  # glossary matches per source
        self._feedback: dict[int, tuple] = {}  # the findings for the target last checked, per segment
        self.changes = 0  # counts every change since the server started: pages ask what changed since
        self.changed_at: dict[int, int] = {}
        self._replay()

    # -- the session folder --------------------------------------------------------------------------

    def _prepare_folder(self, data: bytes) -> str | None:
        """Resume the session of this document, or start one; a session whose document was changed by
        someone else since is kept aside (renamed), never silently dropped."""
        meta_path = self.folder / "meta.json"
        notice = None
        if meta_path.is_file():
            try:
                meta = json.loads(meta_path.read_text("utf-8"))
            except (OSError, ValueError):
                meta = {}
            if _sha(data) in (meta.get("opened"), meta.get("saved")):
                return None
            aside = self.folder.with_name(f"{self.folder.name}.stale-{time.strftime('%Y%m%d-%H%M%S')}")
            self.folder.rename(aside)
            notice = (f"the document changed outside the workbench since the last session; that session's edits "
                      f"are kept in {aside}")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            suffix = "".join(self.path.suffixes[-1:])
            write_atomic(self.folder / ("original" + suffix), data)
            write_atomic(meta_path, json.dumps({"document": str(self.path), "opened": _sha(data),
                                                "saved": None}).encode())
            (self.folder / "edits.jsonl").touch()
        except OSError as exc:
            raise UserError(f"{self.folder}: cannot keep the review session ({exc.strerror or exc})") from None
        return notice

    def _replay(self) -> None:
        log = self.folder / "edits.jsonl"
        keys = {i: s.key for i, s in enumerate(self.segments)}
        lines = 0
        for line in log.read_text("utf-8", errors="replace").splitlines():
            lines += 1
            try:
                entry = json.loads(line)
                index = int(entry["i"])
                if keys.get(index) != entry["key"]:
                    continue
                self.records[index] = Record.from_json(entry["record"])
            except (ValueError, KeyError, TypeError):
                continue  # a line torn by a crash: the change before it stands
        if lines > 4 * len(self.records) + 1000:  # compact: one line per segment
            text = "".join(self._line(i) for i in sorted(self.records))
            write_atomic(log, text.encode("utf-8"))

    def _line(self, index: int) -> str:
        return json.dumps({"i": index, "key": self.segments[index].key, "record": self.records[index].to_json()},
                          ensure_ascii=False) + "\n"

    def _append(self, index: int) -> None:
        try:
            with open(self.folder / "edits.jsonl", "a", encoding="utf-8") as fh:
                fh.write(self._line(index))
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise UserError(f"{self.folder}: cannot record the edit ({exc.strerror or exc})") from None

    # -- reading --------------------------------------------------------------------------------------

    def file_target(self, seg: Segment) -> str | None:
        from bayling_cat.document import align_target

        if seg.current is None:
            return None
        aligned = align_target(seg)
        # a target whose codes have no counterpart in the source: shown without them, marked by the checks
        return aligned if aligned is not None else PLACEHOLDER.sub("", seg.current)

    def file_status(self, seg: Segment) -> str:
        if seg.skip in READ_ONLY:
            return LOCKED
        if seg.current is None:
            return NEW
        state = self.connector.state(seg) or ""
        if state in REVIEW_STATES or "bayling-cat:" in state or seg.target is None:
            return REVIEW
        return CONFIRMED

    def index(self, index) -> int:
        try:
            number = int(index)
        except (TypeError, ValueError):
            raise UserError(f"no segment {index!r}") from None
        if not 0 <= number < len(self.segments):
            raise UserError(f"no segment {number} (the document has {len(self.segments)})")
        return number

    def segment_json(self, index: int, full: bool = True) -> dict:
        seg = self.segments[index]
        record = self.records.get(index)
        target = record.target if record else self.file_target(seg)
        status = record.status if record else self.file_status(seg)
        entry = {
            "i": index, "key": seg.key, "source": seg.source, "target": target, "status": status,
            "state": self.connector.state(seg), "readonly": seg.skip in READ_ONLY, "reason": seg.skip,
            "origin": record.origin if record else None, "version": record.version if record else 0,
            "flags": record.flags if record else [], "words": words(seg.source), "hint": seg.hint,
            "codes": {str(n): code_info(c) for n, c in seg.codes.items()},
        }
        if full:
            entry["notes"] = self.connector.notes(seg)
            entry["history"] = record.history if record else []
            # quality checks on what changed in this session (the file's own targets were reviewed before)
            entry.update(self.feedback(index, target, checks=record is not None))
        return entry

    def feedback(self, index: int, target: str | None, checks: bool = False) -> dict:
        """Terminology (the same checker as ``bayling-cat check``) and inline-code findings for a target, and
        with ``checks`` translate-toolkit's quality checks (as ``translate`` runs on machine output)."""
        from bayling_cat.glossary import find

        cached = self._feedback.get(index)
        if cached is not None and cached[:2] == (target, checks):
            return cached[2]
        seg = self.segments[index]
        out: dict = {"terms": [], "violations": [], "forbidden": [], "code_problems": None, "checks": {}}
        if self.glossary is not None:
            if index not in self._matches:  # a source never changes: matched once
                self._matches[index] = self.glossary.match(seg.source)
            matches = self._matches[index]
            out["terms"] = [{"start": m.start, "end": m.end, "source": m.term.source, "targets": m.term.targets,
                             "dnt": m.term.dnt, "forbidden": m.term.forbidden} for m in matches]
            if target:
                finding = self.glossary.check(seg.source, target, matches)
                out["violations"] = finding.describe()
                out["forbidden"] = [{"form": form, "spans": find(target, form, self.glossary.target_lang)}
                                    for _, form in finding.forbidden]
                out["missing"] = [t.source for t in finding.missing]
        if target is not None and seg.codes:
            problems = code_problems(target, seg.codes)
            out["code_problems"] = None if problems["ok"] and not problems["missing"] else problems
        if checks and target and target.strip():
            from bayling_cat.quality import plain, run_checks

            out["checks"] = run_checks(plain(seg.source, seg.codes).strip(), plain(target, seg.codes).strip(),
                                       self.target_lang)
        self._feedback[index] = (target, checks, out)
        return out

    def changed_since(self, since: int) -> tuple[int, list[int]]:
        """The change counter now, and the segments changed after ``since`` (by pre-translation, other tabs)."""
        with self.lock:
            return self.changes, sorted(i for i, n in self.changed_at.items() if n > since)

    def summary(self) -> dict:
        total = done = 0
        counts: dict[str, int] = {}
        for i, seg in enumerate(self.segments):
            record = self.records.get(i)
            status = record.status if record else self.file_status(seg)
            counts[status] = counts.get(status, 0) + 1
            n = words(seg.source)
            total += n
            done += n if status in (CONFIRMED, LOCKED) else 0
        return {"words": total, "confirmed_words": done, "segments": len(self.segments), "statuses": counts}

    def info(self) -> dict:
        return {"id": self.id, "name": self.path.name, "path": str(self.path), "format": self.format,
                "source_lang": self.source_lang, "target_lang": self.target_lang, "notice": self.notice,
                "glossary_terms": len(self.glossary) if self.glossary is not None else 0,
                "memory": self.memory.location if self.memory is not None else None,
                "output": str(self.output or self.path), "changes": self.changes, **self.summary()}

    # -- changing ------------------------------------------------------------------------------------

    def _record(self, index: int, version, editing: bool = True) -> Record:
        """The segment's record for a change based on ``version``; a stale version is a Conflict."""
        seg = self.segments[index]
        if editing and seg.skip in READ_ONLY:
            raise UserError(f"segment {seg.key} is {seg.skip}: it cannot be changed here")
        record = self.records.get(index)
        current = record.version if record else 0
        if version is not None and int(version) != current:
            raise Conflict(f"segment {seg.key} was changed elsewhere (another tab or window) since you loaded it: "
                           f"your version {version}, now {current}", self.segment_json(index))
        if record is None:
            original = self.file_target(seg)
            record = Record(original, self.file_status(seg), origin="file")
            if original is not None:
                record.history.append({"kind": "original", "text": original, "at": time.time()})
        return record

    def _commit(self, index: int, record: Record, kind: str, text: str | None, **extra) -> dict:
        last = record.history[-1] if record.history else None
        if kind == "edit" and last and last["kind"] == "edit":  # typing: one history entry per run of edits
            last.update(text=text, at=time.time())
        elif text is not None or kind == "confirm":
            record.history.append({"kind": kind, "text": text, "at": time.time(), **extra})
            del record.history[:-HISTORY_LIMIT]
        record.version += 1
        self.records[index] = record
        self._append(index)
        self.changes += 1
        self.changed_at[index] = self.changes
        return self.segment_json(index)

    def edit(self, index: int, target: str, version) -> dict:
        with self.lock:
            record = self._record(index, version)
            if target == record.target:
                return self.segment_json(index)
            record.target, record.status, record.origin, record.flags = target, DRAFT, "human", []
            return self._commit(index, record, "edit", target)

    def confirm(self, index: int, target: str | None, version) -> dict:
        """The translator's confirmation: the format's human state on save, and the memory as human work."""
        with self.lock:
            record = self._record(index, version)
            text = record.target if target is None else target
            if not text or not text.strip():
                raise UserError(f"segment {self.segments[index].key}: an empty target cannot be confirmed")
            seg = self.segments[index]
            record.target, record.status, record.origin, record.flags = text, CONFIRMED, "human", []
            if self.memory is not None:
                self.memory.add([{"source": seg.source.strip(), "target": text.strip(),
                                  "source_lang": self.source_lang, "target_lang": self.target_lang,
                                  "hint": seg.hint, "origin": "human", "context": seg.key}])
            return self._commit(index, record, "confirm", text)

    def take_back(self, index: int, entry: int, version) -> dict:
        """Make an earlier version of the target (from the history) the current one again."""
        with self.lock:
            record = self._record(index, version)
            if not 0 <= int(entry) < len(record.history) or record.history[int(entry)]["text"] is None:
                raise UserError(f"segment {self.segments[index].key}: no version {entry} to take back")
            text = record.history[int(entry)]["text"]
            record.target, record.status, record.origin, record.flags = text, DRAFT, "human", []
            return self._commit(index, record, "takeback", text, entry=int(entry))

    def matches(self, index: int, threshold: float, limit: int = 3) -> list[dict]:
        """The memory's best approved human matches for the segment, as a CAT tool's translation results
        list them: an exact match (100 %), then fuzzy ones at or above ``threshold`` (a fraction), each with
        its percentage and how its source differs from this segment's."""
        from bayling_cat.memory.fuzzy import differences

        if self.memory is None:
            return []
        source = self.segments[index].source.strip()
        return [{"percent": hit.percent, "source": hit.source, "target": hit.target,
                 "differences": [list(piece) for piece in differences(hit.source, source)]}
                for hit in self.memory.matches(source, self.source_lang, self.target_lang, limit, threshold)]

    def use_match(self, index: int, target: str, percent: int, version) -> dict:
        """A memory match's translation as the segment's target, to be adapted and confirmed."""
        from bayling_cat.engines.base import Generation

        flags = [] if percent >= 100 else ["fuzzy-match"]
        return self.put_machine(index, Generation(target, flags), "tm", version, percent=percent)

    def put_machine(self, index: int, gen, origin: str, version=None, **extra) -> dict | None:
        """A machine or memory translation as the segment's target (codes repaired as the pipeline does)."""
        seg = self.segments[index]
        with self.lock:
            record = self._record(index, version)
            flags = list(gen.flags)
            if any(f in BLOCKING_FLAGS for f in flags):
                record.flags = flags
                return self._commit(index, record, "mt-failed", None)
            text, changed = repair(keep_outer_space(seg.source, gen.text), seg.codes)
            if changed:
                flags.append("codes-repaired")
            record.target, record.status, record.origin, record.flags = text, REVIEW, origin, flags
            record.turns, record.base = [], None
            return self._commit(index, record, "memory" if origin == "tm" else "mt", text, **extra)

    def copy_source(self, index: int) -> dict:
        with self.lock:
            record = self._record(index, None)
            seg = self.segments[index]
            record.target, record.status, record.origin = seg.source, REVIEW, "copy"
            return self._commit(index, record, "copy", seg.source)

    def revise(self, index: int, instruction: str, version, engine) -> dict:
        """The next turn of the segment's revision conversation (a new one when the target was edited)."""
        from bayling_cat.revision import Conversation
        from bayling_cat.sessions import segment_key

        seg = self.segments[index]
        with self.lock:
            record = self._record(index, version)
            if not record.target or not record.target.strip():
                raise UserError(f"segment {seg.key}: translate it before asking for a revision")
            if not record.turns or record.turns[-1][1] != record.target:
                record.turns, record.base = [], record.target
            chat = Conversation(seg.source.strip(), record.base.strip(), self.source_lang, self.target_lang,
                                seg.hint, [tuple(t) for t in record.turns])
            version_seen = record.version
        # outside the lock: the model takes a while; the segment's session continues its completions' state
        gen = chat.revise(engine, instruction, session=segment_key(chat.source, self.source_lang, self.target_lang))
        with self.lock:
            record = self._record(index, version_seen)
            text, changed = repair(keep_outer_space(seg.source, gen.text), seg.codes)
            flags = list(gen.flags) + (["codes-repaired"] if changed else [])
            if any(f in BLOCKING_FLAGS for f in gen.flags) or not text.strip():
                record.flags = flags
                return self._commit(index, record, "revise-failed", None, instruction=instruction)
            record.turns = [list(t) for t in chat.turns[:-1]] + [[instruction, text]]
            record.target, record.status, record.origin, record.flags = text, DRAFT, "mt", flags
            return self._commit(index, record, "revise", text, instruction=instruction)

    # -- machine translation of many segments --------------------------------------------------------

    def untranslated(self) -> list[int]:
        out = []
        for i, seg in enumerate(self.segments):
            record = self.records.get(i)
            status = record.status if record else self.file_status(seg)
            if status == NEW and seg.skip not in READ_ONLY and seg.source.strip():
                out.append(i)
        return out

    def examples(self, index: int, threshold: float) -> list[tuple[str, str]]:
        """The two best approved human fuzzy matches of the segment: shown to the model before it
        translates, as `translate` does, so the translation follows what the translator approved."""
        if self.memory is None or not self.segments[index].source.strip():
            return []
        return [(h.source, h.target) for h in self.memory.similar(self.segments[index].source.strip(),
                                                                  self.source_lang, self.target_lang, 2, threshold)]

    def pretranslate(self, indices: list[int], translate, model_id: str | None, progress=lambda n: None,
                     chunk: int = 8, threshold: float = 0.75) -> None:
        """Memory first (confirmed human work is reused as is), then the model in small chunks, given the
        best fuzzy matches as examples; each result is recorded as soon as it arrives.
        ``translate(texts, hints, examples)`` returns Generations."""
        from bayling_cat.engines.base import Generation

        fingerprint = getattr(self.glossary, "fingerprint", None)
        todo = []
        for i in indices:
            seg = self.segments[i]
            if not seg.has_text:
                self.copy_source(i)
                progress(1)
                continue
            hit = None
            if self.memory is not None:
                hit = self.memory.exact(seg.source.strip(), self.source_lang, self.target_lang, model_id,
                                        fingerprint, seg.hint)
            if hit is not None:
                self.put_machine(i, Generation(hit.target, list(hit.flags)), "tm" if hit.origin == "human" else "mt")
                progress(1)
            else:
                todo.append(i)
        for start in range(0, len(todo), chunk):
            part = [i for i in todo[start:start + chunk] if self.records.get(i) is None
                    or self.records[i].status == NEW]  # the translator may have typed one meanwhile
            if not part:
                progress(len(todo[start:start + chunk]))
                continue
            gens = translate([self.segments[i].source.strip() for i in part], [self.segments[i].hint for i in part],
                             [self.examples(i, threshold) for i in part])
            stored = []
            for i, gen in zip(part, gens):
                self.put_machine(i, gen, "mt")
                stored.append({"source": self.segments[i].source.strip(), "target": gen.text,
                               "source_lang": self.source_lang, "target_lang": self.target_lang,
                               "hint": self.segments[i].hint, "model": model_id, "glossary": fingerprint,
                               "flags": gen.flags})
            if self.memory is not None:
                self.memory.add(stored)
            progress(len(todo[start:start + chunk]))

    # -- saving -------------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The document with every target of the session written into a fresh copy of the opened file."""
        with self.lock:
            base = next(self.folder.glob("original*"))
            connector = open_document(self.path, data=base.read_bytes())
            if not connector.target_lang:
                connector.set_target_language(self.target_lang)
            segments = connector.segments()
            for index, record in sorted(self.records.items()):
                if record.target is None or record.origin == "file" and record.status != CONFIRMED:
                    continue
                seg = segments[index]
                text, _ = repair(record.target, seg.codes)
                origin = {CONFIRMED: "human", DRAFT: "draft"}.get(record.status, record.origin)
                if origin == "human" and record.history and record.history[0]["kind"] == "original" \
                        and self.file_status(self.segments[index]) == CONFIRMED:
                    origin = "reviewed"  # a person's finished translation, confirmed again: a review
                if origin == "file":
                    continue
                connector.write_target(seg, text, copied=origin == "copy", origin=origin)
            return connector.serialize()

    def save(self, output: Path | None = None) -> dict:
        """Write the document: to ``output`` (or -o), else in place with a .bak of the original."""
        data = self.render()
        target = Path(output or self.output or self.path)
        backup = None
        with self.lock:
            in_place = target.resolve() == self.path
            meta_path = self.folder / "meta.json"
            meta = json.loads(meta_path.read_text("utf-8"))
            if in_place:
                backup = self.path.with_name(self.path.name + ".bak")
                if not meta.get("saved"):  # the first save keeps the file as it was before the workbench
                    try:
                        shutil.copy2(self.path, backup)
                    except OSError as exc:
                        raise UserError(f"{backup}: cannot write the backup ({exc.strerror or exc}); "
                                        "nothing was saved") from None
            write_atomic(target, data)
            if in_place:
                meta["saved"] = _sha(data)
                write_atomic(meta_path, json.dumps(meta).encode())
        return {"output": str(target), "backup": str(backup) if backup else None, "bytes": len(data)}
