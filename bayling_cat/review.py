"""The translator's workbench, server side: one document under review as a session.

A session is the document read by its connector (through the pipeline's reading and deciding), and what the
translator did to each segment since: targets typed, machine translations, revision turns, confirmations,
each change with a version number. Every change is appended to an edit log on disk the moment it is made, so
a closed tab, a crashed browser or a restarted server reopens the document where it was left.

The session lives in the data folder (``$BAYLING_CAT_HOME/workbench/sessions/ID/``, ID from the document's
path, so a document in a read-only folder can be reviewed): a copy of the document as it was opened (the base
every save writes into, so a save never depends on an earlier save's layout), ``meta.json`` and
``edits.jsonl`` (one line per change: the segment's whole new record, so replay is "last line wins"; see
journal.py for how a record torn by a crash or a full disk is dropped and nothing after it is lost).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import threading
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from bayling_cat.connectors import open_document
from bayling_cat.connectors.xmlio import local_name
from bayling_cat.document import PLACEHOLDER, Segment, keep_outer_space, repair
from bayling_cat.engines.base import BLOCKING_FLAGS
from bayling_cat.errors import UserError
from bayling_cat.fileio import copy_atomic, write_atomic
from bayling_cat.journal import Journal

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


class Conflict(UserError):
    """A change based on a version of the segment that another tab has already replaced."""

    def __init__(self, message: str, current: dict):
        super().__init__(message)
        self.current = current


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def session_id(document: Path) -> str:
    return hashlib.sha256(os.fsencode(str(Path(document).resolve()))).hexdigest()[:16]


def sessions_root() -> Path:
    from bayling_cat.models import home

    return home() / "workbench" / "sessions"


def session_folder(document: Path) -> Path:
    """Where the review session of ``document`` lives: the data folder, never beside the document."""
    return sessions_root() / session_id(document)


def legacy_folder(document: Path) -> Path:
    """Where releases before this one kept a session: a hidden folder beside the document."""
    return document.with_name(f".{document.name}.review")


class NeedsRepair(UserError):
    """A target whose inline codes the file cannot hold as they are: ``repaired`` is what it would become."""

    def __init__(self, message: str, repaired: str):
        super().__init__(message)
        self.repaired = repaired


class DiskChanged(UserError):
    """The document on disk is no longer the one the session opened or last saved."""


def check_text(text: str, what: str = "the target") -> None:
    """Text a person sends must be storable in any of the formats: refused (nothing applied) when it holds a
    lone surrogate, a control character other than tab and line breaks, or a noncharacter XML cannot hold."""
    for pos, ch in enumerate(text):
        code = ord(ch)
        if 0xD800 <= code <= 0xDFFF or (code < 0x20 and ch not in "\t\n\r") or code in (0xFFFE, 0xFFFF):
            name = unicodedata.name(ch, f"U+{code:04X}") if not 0xD800 <= code <= 0xDFFF else "a lone surrogate"
            raise UserError(f"{what} holds {name} (U+{code:04X}) at character {pos + 1}, which no document can "
                            "hold; nothing was changed")


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
    comment: str | None = None  # the translator's comment, when changed here (None: the file's own)

    def to_json(self) -> dict:
        return {"target": self.target, "status": self.status, "origin": self.origin, "version": self.version,
                "flags": self.flags, "history": self.history, "turns": self.turns, "base": self.base,
                "comment": self.comment}

    @classmethod
    def from_json(cls, data: dict) -> "Record":
        return cls(data.get("target"), data["status"], data.get("origin", "human"), int(data["version"]),
                   list(data.get("flags", [])), [dict(h) for h in data.get("history", [])],
                   [list(t) for t in data.get("turns", [])], data.get("base"), data.get("comment"))

    def copy(self) -> "Record":
        """A copy to change: the session's record changes only once the change is on disk."""
        return Record.from_json(self.to_json())


class ReviewSession:
    """One document open in the workbench."""

    def __init__(self, path: Path, doc_id: str, source_lang: str | None = None, target_lang: str | None = None,
                 glossary_for: Callable[[str, str], object] | None = None, memory=None,
                 output: Path | None = None, folder: Path | None = None):
        from bayling_cat.pipeline import Options, Pipeline

        self.path = Path(path).resolve()
        self.tool = "bayling-cat"  # what the saved file credits machine output to (the workbench names its model)
        self.id = doc_id
        self.output = output
        self.memory = memory
        self.lock = threading.RLock()
        self.folder = Path(folder) if folder else session_folder(self.path)
        self.journal = Journal(self.folder / "edits.jsonl")
        try:
            data = self.path.read_bytes()
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        self._adopt_legacy()
        self.notice = self._prepare_folder(data)
        base_copy = self.folder / ("original" + "".join(self.path.suffixes[-1:]))
        # the pipeline's reading and deciding, on the base copy under the document's own name
        options = Options(source_lang=source_lang, target_lang=target_lang, in_place=True)
        reader = Pipeline(None, options)
        result = reader.read(self.path, None)
        if result.error:
            raise UserError(result.error)
        self.connector = open_document(self.path, data=base_copy.read_bytes())
        # -t naming another language than the file declares: the saved file declares -t's (as translate does)
        self.retarget = bool(result.declared_target_lang) or bool(getattr(result.connector, "_retargeted", False))
        self._declare_language(self.connector, result.target_lang)
        self.format = result.format
        self.source_lang, self.target_lang = result.source_lang, result.target_lang
        self.segments: list[Segment] = self.connector.segments()
        for seg in self.segments:
            reader.decide(seg)
        self.glossary = glossary_for(self.source_lang, self.target_lang) if glossary_for else None
        self.records: dict[int, Record] = {}
        self._matches: dict[int, list] = {}  # glossary matches per source
        self._feedback: dict[int, tuple] = {}  # the findings for the target last checked, per segment
        self._statics: dict[int, dict] = {}
        self.changes = 0  # counts every change since the server started: pages ask what changed since
        self.changed_at: dict[int, int] = {}
        self._replay()

    # -- the session folder --------------------------------------------------------------------------

    def _declare_language(self, connector, lang: str) -> None:
        if not connector.target_lang:
            connector.set_target_language(lang)
        elif self.retarget:
            connector.set_target_language(lang, replace=True)

    def _adopt_legacy(self) -> None:
        """A session an earlier release kept beside the document is carried over into the data folder (copied:
        the old one stays, and a read-only folder is no obstacle)."""
        old = legacy_folder(self.path)
        if self.folder.exists() or not (old / "meta.json").is_file():
            return
        try:
            shutil.copytree(old, self.folder)
        except (OSError, shutil.Error):
            shutil.rmtree(self.folder, ignore_errors=True)  # a fresh session starts instead

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
        keys = {i: s.key for i, s in enumerate(self.segments)}
        entries, lines = self.journal.read()
        for entry in entries:
            try:
                index = int(entry["i"])
                if keys.get(index) != entry["key"]:
                    continue
                self.records[index] = Record.from_json(entry["record"])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # a record of another shape: the changes around it stand
        if lines > 4 * len(self.records) + 1000:  # compact: one line per segment
            try:
                self.journal.rewrite([self._entry(i, self.records[i]) for i in sorted(self.records)])
            except UserError:
                pass  # a full disk: the long journal still replays

    def _entry(self, index: int, record: Record) -> dict:
        return {"i": index, "key": self.segments[index].key, "record": record.to_json()}

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
        static = self._static(index)
        changed = record is not None and record.origin != "file"
        entry = {
            "i": index, "key": seg.key, "source": seg.source, "target": target, "status": status,
            # the format's word for the segment as the file holds it; a segment changed here gets its new
            # state on save, so the file's old word ("untranslated") is not shown under it
            "state": None if changed else static["state"], "file_state": static["state"],
            "readonly": seg.skip in READ_ONLY, "reason": seg.skip,
            "origin": record.origin if record else None, "version": record.version if record else 0,
            "flags": record.flags if record else [], "words": words(seg.source), "hint": seg.hint,
            "codes": {str(n): code_info(c) for n, c in seg.codes.items()},
            "machine": (record.origin == "mt") if changed else static["machine"],
            "file": static["file"], "tag_only": static["tag_only"], "max_length": static["max_length"],
            "comment": record.comment if record is not None and record.comment is not None else static["comment"],
        }
        if static["max_length"] is not None:
            entry["length"] = self.length(seg, target)
        if full:
            entry["notes"] = [n for n in self.connector.notes(seg) if n != static["comment"]]
            entry["history"] = record.history if record else []
            # quality checks on what changed in this session (the file's own targets were reviewed before)
            entry.update(self.feedback(index, target, checks=record is not None))
        return entry

    def _static(self, index: int) -> dict:
        """What the file says about a segment beyond its text (read once: the opened file never changes)."""
        found = self._statics.get(index)
        if found is None:
            from bayling_cat import review_format as fmt

            seg = self.segments[index]
            found = {"state": self.connector.state(seg), "file": fmt.file_of(self.connector, seg),
                     "tag_only": bool(seg.source.strip()) and not seg.has_text,
                     "max_length": fmt.length_limit(self.connector, seg),
                     "machine": seg.current is not None and fmt.from_machine(self.connector, seg),
                     "comment": fmt.comment(self.connector, seg)}
            self._statics[index] = found
        return found

    def length(self, seg: Segment, target: str | None) -> int:
        """The target's length as a length limit counts it: characters, a literal code (``%s``) as its text,
        a markup code as nothing."""
        if not target:
            return 0
        return len(PLACEHOLDER.sub(lambda m: (seg.codes.get(int(m.group(2))) and seg.codes[int(m.group(2))].literal)
                                   or "", target))

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
                "output": str(self.output or self.path), "changes": self.changes,
                "files": len({self._static(i)["file"] for i in range(len(self.segments))}),
                "comments": self._can_comment(), **self.summary()}

    def _can_comment(self) -> bool:
        from bayling_cat.review_format import can_comment

        return can_comment(self.connector)

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
        return record.copy()  # changed freely: the session's own record changes only in _commit

    def _commit(self, index: int, record: Record, kind: str, text: str | None, **extra) -> dict:
        """Make ``record`` the segment's state: on disk first (the journal), then here; a change that cannot
        be recorded is not made at all."""
        last = record.history[-1] if record.history else None
        # typing: one history entry per run of edits; an edit to (or from) an empty target starts a new
        # entry, so an undo to empty never replaces the typed text that take-back can restore
        if kind == "edit" and last and last["kind"] == "edit" and text and (last.get("text") or ""):
            last.update(text=text, at=time.time())
        elif text is not None or kind == "confirm":
            record.history.append({"kind": kind, "text": text, "at": time.time(), **extra})
            del record.history[:-HISTORY_LIMIT]
        record.version += 1
        self.journal.append(self._entry(index, record))
        self.records[index] = record
        self.changes += 1
        self.changed_at[index] = self.changes
        return self.segment_json(index)

    def edit(self, index: int, target: str, version) -> dict:
        check_text(target)
        with self.lock:
            record = self._record(index, version)
            if target == record.target:
                return self.segment_json(index)
            record.target, record.status, record.origin, record.flags = target, DRAFT, "human", []
            return self._commit(index, record, "edit", target)

    def set_comment(self, index: int, text: str, version) -> dict:
        """The translator's comment on the segment, written into the file on save (XLIFF note, PO comment)."""
        from bayling_cat.review_format import can_comment

        check_text(text, "the comment")
        if not can_comment(self.connector):
            raise UserError(f"{self.path.name}: a {self.format} document has no place for comments")
        with self.lock:
            record = self._record(index, version, editing=False)
            record.comment = text.strip()
            return self._commit(index, record, "comment", None)

    def confirm(self, index: int, target: str | None, version, accept_repair: bool = False) -> dict:
        """The translator's confirmation: the format's human state on save, and the memory as human work."""
        with self.lock:
            record = self._record(index, version)
            text = record.target if target is None else target
            if not text or not text.strip():
                raise UserError(f"segment {self.segments[index].key}: an empty target cannot be confirmed")
            check_text(text)
            seg = self.segments[index]
            fixed, broken = repair(text, seg.codes)
            if broken and fixed != text and not accept_repair:
                # the file cannot hold the target as typed: the translator sees what it would become first
                from bayling_cat.document import restore_literals

                raise NeedsRepair(f"segment {seg.key}: the inline codes of this target are incomplete; saved, it "
                                  f"would read: {restore_literals(fixed, seg.codes)}", fixed)
            text = fixed if broken else text
            record.target, record.status, record.origin, record.flags = text, CONFIRMED, "human", []
            answer = self._commit(index, record, "confirm", text)
        if self.memory is not None:
            try:
                self.memory.add([{"source": seg.source.strip(), "target": text.strip(),
                                  "source_lang": self.source_lang, "target_lang": self.target_lang,
                                  "hint": seg.hint, "origin": "human", "context": seg.key}])
            except UserError as exc:  # the confirmation stands (it is on disk); the page says what failed
                answer["warning"] = f"confirmed, but not stored in the memory: {exc}"
        return answer

    def take_back(self, index: int, entry: int, version) -> dict:
        """Make an earlier version of the target (from the history) the current one again."""
        with self.lock:
            record = self._record(index, version)
            if not 0 <= int(entry) < len(record.history) or record.history[int(entry)]["text"] is None:
                raise UserError(f"segment {self.segments[index].key}: no version {entry} to take back")
            text = record.history[int(entry)]["text"]
            record.target, record.status, record.origin, record.flags = text, DRAFT, "human", []
            return self._commit(index, record, "takeback", text, entry=int(entry))

    def concordance(self, text: str, limit: int = 20) -> dict:
        """A CAT tool's concordance search: approved human units of the memory whose source or target holds
        ``text``, and the glossary's terms that do."""
        memory = []
        if self.memory is not None:
            memory = [{"source": h.source, "target": h.target}
                      for h in self.memory.concordance(text, self.source_lang, self.target_lang, limit)]
        terms = []
        if self.glossary is not None:
            terms = [{"source": t.source, "targets": t.targets, "forbidden": t.forbidden, "dnt": t.dnt}
                     for t in self.glossary.concordance(text, limit)]
        return {"query": text, "memory": memory, "terms": terms, "has_memory": self.memory is not None,
                "has_glossary": self.glossary is not None}

    def failed(self, indices: list[int]) -> list[int]:
        """Those of ``indices`` that machine translation left without a target (its output was refused)."""
        with self.lock:
            return [i for i in indices if (r := self.records.get(i)) is None or r.target is None
                    or any(f in BLOCKING_FLAGS for f in r.flags)]

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

    def use_match(self, index: int, target: str, percent: int, version, core) -> dict:
        """A memory match's translation as the segment's target, to be adapted and confirmed."""
        from bayling_cat.engines.base import Generation

        flags = [] if percent >= 100 else ["fuzzy-match"]
        result = core.finish(self.request(index), Generation(target, flags), self.target_lang, memory="human")
        return self.put_machine(index, result, version, percent=percent)

    def request(self, index: int):
        """The segment as the translation core takes it."""
        from bayling_cat.translator import Request

        seg = self.segments[index]
        return Request(seg.source, seg.codes, seg.hint)

    def translate(self, index: int, core, version=None) -> dict | None:
        """The segment's machine translation (the memory's exact match first), through the translation core."""
        if not self.segments[index].has_text:
            return self.copy_source(index)
        [result] = core.translate([self.request(index)], self.source_lang, self.target_lang, self.glossary)
        return self.put_machine(index, result, version)

    def put_machine(self, index: int, result, version=None, **extra) -> dict | None:
        """A translation from the core (translator.Translation) as the segment's target."""
        with self.lock:
            record = self._record(index, version)
            record.flags = list(result.flags)
            if not result.written:
                return self._commit(index, record, "mt-failed", None)
            record.target, record.status, record.origin = result.text, REVIEW, result.origin
            record.turns, record.base = [], None
            return self._commit(index, record, "memory" if result.origin == "tm" else "mt", result.text, **extra)

    def copy_source(self, index: int) -> dict:
        with self.lock:
            record = self._record(index, None)
            seg = self.segments[index]
            record.target, record.status, record.origin = seg.source, REVIEW, "copy"
            return self._commit(index, record, "copy", seg.source)

    def revise(self, index: int, instruction: str, version, core) -> dict:
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
            version_seen, base = record.version, record.base
        # outside the lock: the model takes a while; the segment's session continues its completions' state
        result = core.revise(chat, instruction, seg.codes,
                             session=segment_key(chat.source, self.source_lang, self.target_lang))
        with self.lock:
            record = self._record(index, version_seen)
            record.base = base  # a fresh copy of the record: the conversation's start goes with the answer
            if not result.written or not result.text.strip():
                record.flags = list(result.flags)
                return self._commit(index, record, "revise-failed", None, instruction=instruction)
            text = keep_outer_space(seg.source, result.text)
            record.turns = [list(t) for t in chat.turns[:-1]] + [[instruction, text]]
            record.target, record.status, record.origin, record.flags = text, DRAFT, "mt", list(result.flags)
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

    def pretranslate(self, indices: list[int], core, progress=lambda n: None) -> None:
        """Every segment through the translation core in one call, as ``translate FILE`` does (memory first,
        examples, batches of the engine's size, stored in the memory as each chunk is done); each result is
        recorded as its chunk arrives, unless the translator typed that segment meanwhile."""
        todo = []
        for i in indices:
            if not self.segments[i].has_text:
                self.copy_source(i)
                progress(1)
            else:
                todo.append(i)
        requests = [(i, self.request(i)) for i in todo]

        def arrived(done, results):
            owners = {id(r): i for i, r in requests}
            for request, result in zip(done, results):
                i = owners[id(request)]
                record = self.records.get(i)
                if record is None or record.status == NEW:
                    self.put_machine(i, result)
                progress(1)

        core.translate([r for _, r in requests], self.source_lang, self.target_lang, self.glossary,
                       on_chunk=arrived)

    # -- saving -------------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The document with every target of the session written into a fresh copy of the opened file."""
        with self.lock:
            base = next(self.folder.glob("original*"))
            connector = open_document(self.path, data=base.read_bytes())
            self._declare_language(connector, self.target_lang)
            segments = connector.segments()
            for index, record in sorted(self.records.items()):
                if record.comment is not None and record.comment != self._static(index)["comment"]:
                    from bayling_cat.review_format import write_comment

                    write_comment(connector, segments[index], record.comment)
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
                connector.tool = self.tool
                connector.write_target(seg, text, copied=origin == "copy", origin=origin)
            return connector.serialize()

    def _check_unchanged(self, meta: dict) -> None:
        """Refuse to save over a document someone changed on disk since the workbench opened (or last saved)
        it: saving would silently drop their change (and the .bak would not hold it either)."""
        try:
            st = os.stat(self.path)
            same_stat = meta.get("stat") == [st.st_size, st.st_mtime_ns]
            current = None if same_stat else _sha(self.path.read_bytes())
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read ({exc.strerror or exc}); nothing was saved") from None
        if current is not None and current not in (meta.get("opened"), meta.get("saved")):
            raise DiskChanged(f"{self.path.name} was changed on disk since the workbench opened it (another "
                              "program or person saved it); nothing was saved. Save to another file (Download), "
                              "or reopen the document to review the changed file")

    def _translation_path(self) -> Path:
        """Where saving writes without -o: the document itself, except for a monolingual resource (en.json,
        values/strings.xml), whose translation goes where its ecosystem expects it and never over the source."""
        if not getattr(self.connector, "monolingual", False):
            return self.path
        from bayling_cat.pipeline import default_output

        return self.connector.output_path(self.path, self.target_lang) or default_output(self.path, self.target_lang)

    def save(self, output: Path | None = None) -> dict:
        """Write the document: to ``output`` (or -o), else in place with a .bak of the original."""
        data = self.render()
        target = Path(output or self.output or self._translation_path())
        backup = None
        with self.lock:
            in_place = target.resolve() == self.path
            meta_path = self.folder / "meta.json"
            meta = json.loads(meta_path.read_text("utf-8"))
            if in_place:
                self._check_unchanged(meta)
                backup = self.path.with_name(self.path.name + ".bak")
                if not meta.get("saved"):  # the first save keeps the file as it was before the workbench
                    try:
                        copy_atomic(self.path, backup)  # a full disk leaves no truncated .bak, nor breaks one
                    except UserError as exc:
                        raise UserError(f"{exc} (the backup: the document was not saved)") from None
            write_atomic(target, data)
            if in_place:
                meta["saved"] = _sha(data)
                try:
                    st = os.stat(self.path)
                    meta["stat"] = [st.st_size, st.st_mtime_ns]
                except OSError:
                    meta.pop("stat", None)
                write_atomic(meta_path, json.dumps(meta).encode())
        return {"output": str(target), "backup": str(backup) if backup else None, "bytes": len(data)}
