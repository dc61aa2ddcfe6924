"""The one document pipeline every format goes through.

read (connector) -> decide what to do with each segment -> translate each distinct source once, sorted by
length into batches -> restore inline codes -> write targets (or suggestions), states and notes -> write the
file atomically -> report.
"""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Protocol, Sequence

from bayling_cat import __version__, languages
from bayling_cat.connectors import EXTENSIONS, open_document
from bayling_cat.document import (COPIED, FLAG_CHARS, FLAG_CODES, FLAGGED, SKIPPED, TRANSLATED, Segment,
                                  keep_outer_space, repair)
from bayling_cat.engines.base import BLOCKING_FLAGS, sanitize
from bayling_cat.errors import UserError
from bayling_cat.fileio import check_distinct, copy_atomic, read_regular, same_file, write_atomic

FLAG_TEXT = {
    "repetition": "runaway repetition (cut)",
    "length-limit": "stopped at the generation limit (incomplete)",
    "extra-text": "commentary after the translation was cut",
    "empty": "the model gave no translation",
    FLAG_CODES: "inline codes lost, duplicated or invented by the model were repaired",
    "terms-restored": "do-not-translate terms the model dropped were put back at the end",
    "term-substituted": "a forbidden term the model used was replaced by the glossary's term",
    "retried": "the first answer was degenerate; this is the second try",
    FLAG_CHARS: "control characters or non-characters in the model's output were removed",
    "invalid-bytes": "the model's output held bytes that are not UTF-8 (shown as \ufffd): a character was lost",
    "entry-left-untranslated": "another form of this plural entry had no usable translation: the entry is left "
                               "untranslated",
    "commentary": "the model's introduction of its translation (\"Here is the translation:\") was cut",
}


class Translator(Protocol):
    def translate(self, texts: Sequence[str], source_lang: str, target_lang: str,
                  progress: Callable[[int], None] | None = None) -> list: ...


@dataclass
class Options:
    source_lang: str | None = None
    target_lang: str | None = None
    mode: str = "target"  # "target": write targets; "suggest": proposals beside them
    overwrite: bool = False
    in_place: bool = False
    output: Path | None = None
    accelerator: str | None = None  # PO: the accelerator marker ("&" or "_"), moved by bayling-cat
    glossaries: list[Path] = field(default_factory=list)
    memory: Path | str | None = None  # the translation memory: a SQLite file or a postgresql:// URL (None: none)
    model_id: str | None = None  # what memory entries are keyed on: the model's name
    chunk: int = 64  # distinct sources translated (and stored in memory) together
    checks: bool = True  # translate-toolkit's quality checks on every machine translation
    max_revisions: int = 2
    term_strategy: str = "none"  # "force": put still-missing terms in as protected placeholders
    output_folder: bool = False  # -o was written as a folder (a trailing slash): outputs go inside it
    report: Path | None = None  # the --report file: checked against every file the run reads or writes
    fuzzy_threshold: int = 75  # percent: least memory match shown (report, suggestions) or given as an example


@dataclass
class FileResult:
    input: Path
    output: Path | None = None
    format: str | None = None
    source_lang: str | None = None
    target_lang: str | None = None
    error: str | None = None
    segments: list[Segment] = field(default_factory=list)
    connector: object = None
    declared_target_lang: str | None = None  # what the file declared when -t changed it

    def totals(self) -> dict:
        counts = {TRANSLATED: 0, COPIED: 0, SKIPPED: 0, FLAGGED: 0, "not_written": 0}
        if any(s.action == "checked" for s in self.segments):
            counts = {"checked": 0, SKIPPED: 0}
        for s in self.segments:
            counts[s.action] = counts.get(s.action, 0) + 1
            if s.action == FLAGGED and s.translation is None:
                counts["not_written"] += 1
        counts["segments"] = len(self.segments)
        return counts


def collect_inputs(inputs: Sequence[str], options: Options) -> list[tuple[Path, Path | None]]:
    """(input file, output file) pairs; output None means 'next to the input, named for the target language'.

    -o is a folder when there are several inputs or a folder of them, when it exists as a folder, or when it
    was written with a trailing slash (``-o out/``, ``options.output_folder``).
    """
    pairs: list[tuple[Path, Path | None]] = []
    many = len(inputs) > 1 or any(Path(i).is_dir() for i in inputs)
    out = options.output
    as_folder = out is not None and (many or options.output_folder or out.is_dir())
    if as_folder and out.exists() and not out.is_dir():
        raise UserError(f"{out}: several inputs need an output folder, and this is a file" if many else
                        f"{out}: -o ends with a slash (a folder), but this is a file")
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            if out is None and not options.in_place:
                raise UserError(f"{path}: translating a folder needs -o OUTPUT_FOLDER or --in-place")
            for f in _folder_documents(path):
                pairs.append((f, None if out is None else _po_for_pot(out / f.relative_to(path))))
        elif not path.exists():
            pairs.append((path, None))  # reported as a failed file, the others still run
        elif out is None:
            pairs.append((path, None))
        elif as_folder:
            pairs.append((path, _po_for_pot(out / path.name)))
        else:
            pairs.append((path, out))
    return pairs


def _folder_documents(folder: Path) -> list[Path]:
    """The documents in a folder tree, sorted. An entry named like a document that is not a regular file (a
    broken symbolic link, a named pipe, a socket) is listed too, so that it is refused with one line rather
    than skipped in silence; it is never opened here (a pipe would block)."""
    found = []
    for p in folder.rglob("*"):
        if p.name.startswith(".") or p.is_dir():
            continue
        if p.is_file():
            if _looks_like_document(p):
                found.append(p)
        elif p.suffix.lower() in EXTENSIONS:
            found.append(p)
    return sorted(found)


def _po_for_pot(path: Path) -> Path:
    """A translated template is a catalogue: messages.pot is written as messages.po."""
    return path.with_suffix(".po") if path.suffix.lower() == ".pot" else path


def _looks_like_document(path: Path) -> bool:
    if path.name.startswith("."):
        return False
    if path.suffix.lower() in EXTENSIONS:
        return True
    try:
        with open(path, "rb") as fh:
            return b"<xliff" in fh.read(4096)
    except OSError:
        return False


def default_output(path: Path, target_lang: str, suffix: str | None = None) -> Path:
    """report.xlf -> report.de-DE.xlf; app.docx.sdlxliff -> app.docx.de-DE.sdlxliff; messages.pot -> messages.de.po.

    A file whose name already says the target language (po/fr.po or django_fr.po into French, guide.de.xlf
    into German) would get it twice (fr.fr.po): it becomes NAME.bayling-cat.EXT (po/fr.bayling-cat.po)
    instead; only --in-place writes into the file itself.
    """
    if named_for(path, target_lang):
        return path.with_name(f"{path.stem}.bayling-cat{suffix or path.suffix}")
    return path.with_name(f"{path.stem}.{target_lang}{suffix or path.suffix}")


def named_for(path: Path, target_lang: str) -> bool:
    """Whether the file name ends with the language: fr.po, pt_BR.po, django_fr.po, app-de.xlf, guide.de.xlf."""
    try:
        wanted = languages.normalize(target_lang)
    except UserError:
        return False
    parts = re.split(r"[._-]", path.stem)
    for tail in (path.stem, "-".join(parts[-2:]), parts[-1]):
        try:
            if languages.normalize(tail) == wanted:
                return True
        except UserError:
            continue
    return False


class Pipeline:
    def __init__(self, translator: Translator | Callable[[], Translator], options: Options,
                 progress_factory=None, say: Callable[[str], None] = lambda m: None):
        self._translator = translator
        self.options = options
        self.progress_factory = progress_factory
        self.say = say
        self.model_calls = 0
        self.memory_hits = 0
        self._glossaries: dict[tuple[str, str], object] = {}
        self._memory = None
        self._lock = threading.Lock()

    @property
    def translator(self) -> Translator:
        if callable(self._translator) and not hasattr(self._translator, "translate"):
            self._translator = self._translator()  # loaded only when something needs translating
        return self._translator

    @property
    def memory(self):
        if self._memory is None and self.options.memory is not None:
            from bayling_cat.memory import Memory

            self._memory = Memory(self.options.memory)
        return self._memory

    def glossary(self, source_lang: str, target_lang: str):
        """The run's glossaries for one language pair, merged (None without --glossary)."""
        from bayling_cat.glossary import Glossary, load

        key = (source_lang, target_lang)
        if key not in self._glossaries:
            loaded = [load(path, source_lang, target_lang) for path in self.options.glossaries]
            self._glossaries[key] = Glossary.merge(loaded)
        return self._glossaries[key]

    def _translator_for(self, source_lang: str, target_lang: str, retry: bool = False):
        base = self.translator
        if retry:  # a second try: a repetition penalty and no repeated 3-grams
            base = base.with_decoding(repetition_penalty=1.3, no_repeat_ngram_size=3)
        glossary = self.glossary(source_lang, target_lang)
        if glossary is None:
            return base
        from bayling_cat.revision import TermTranslator

        return TermTranslator(base, {(source_lang, target_lang): glossary},
                              max_revisions=self.options.max_revisions, term_strategy=self.options.term_strategy)

    # -- reading and deciding -------------------------------------------------------------------------

    def read(self, path: Path, output: Path | None) -> FileResult:
        result = FileResult(input=path)
        try:
            connector = open_document(path, read_regular(path), accelerator=self.options.accelerator)
            src = self.options.source_lang or connector.source_lang or connector.default_source_lang
            tgt = self.options.target_lang or connector.target_lang
            if not tgt:
                raise UserError(f"{path}: the file names no target language; pass --target-lang")
            if not src:
                raise UserError(f"{path}: the file names no source language; pass --source-lang")
            result.source_lang = _language(path, src, "source")
            result.target_lang = _language(path, tgt, "target")
            if result.source_lang == result.target_lang:
                raise UserError(_same_languages(path, result.source_lang, self.options))
            if not connector.target_lang:
                connector.set_target_language(tgt)
            if self.options.mode == "suggest" and not connector.can_suggest:
                raise UserError(f"{path}: {connector.format} has no place for suggestions; use --mode target")
            result.format = connector.format
            result.connector = connector
            result.segments = connector.segments()
            self._retarget(result, connector)
            if self.options.in_place:
                # through a symbolic link to the file it names, as editors save: the link stays a link
                result.output = Path(os.path.realpath(path)) if path.is_symlink() else path
            else:
                result.output = output or default_output(path, tgt, getattr(connector, "output_suffix", None))
                if output is None and named_for(path, tgt):
                    self.say(f"bayling-cat: note: {path} is already named for {tgt}: its translation goes to "
                             f"{result.output.name} beside it (--in-place fills {path.name} itself, keeping a .bak)")
                if same_file(result.output, path):
                    raise UserError(f"{path}: the output would overwrite the input; use --in-place to do that "
                                    "(a backup is kept)")
        except UserError as exc:
            result.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a file no connector can read fails alone, the others still run
            result.error = f"{path}: cannot read ({_describe(exc)})"
            result.segments = []
        for seg in result.segments:
            self.decide(seg)
        return result

    def _retarget(self, result: FileResult, connector) -> None:
        """-t naming another language than the file declares: a file holding translations in another language
        is refused (one file, one target language); one without is re-declared, and the user told."""
        declared = connector.declared_target_language()
        if not self.options.target_lang:
            return
        if not declared:  # a language guessed (a PO's file name) gives way to -t without a word
            if connector.target_lang and connector.target_lang != result.target_lang:
                connector.set_target_language(result.target_lang, replace=True)
            return
        try:
            same = languages.normalize(declared) == result.target_lang
            other_language = languages.normalize(declared).split("-")[0] != result.target_lang.split("-")[0]
        except UserError:
            same, other_language = False, True
        if same:
            return
        # what counts as a translation is what the skip rule leaves alone (docs/formats.md): a target in state
        # new / needs-translation / initial / NotStarted, or a fuzzy PO entry, is no translation
        held = sum(1 for s in result.segments if s.target is not None and s.target.strip())
        if held and other_language:
            raise UserError(f"{result.input}: the file's target language is {declared} and it holds {held} "
                            f"translation{'s' if held != 1 else ''}; writing {result.target_lang} beside them "
                            f"would mix two languages in one file (pass -t {declared}, or start from the "
                            "untranslated file)")
        connector.set_target_language(result.target_lang, replace=True)
        result.declared_target_lang = declared
        self.say(f"bayling-cat: note: {result.input}: the file declared target language {declared}; "
                 f"it now declares {result.target_lang}, the language of its new translations")

    def decide(self, seg: Segment) -> None:
        if seg.skip:
            seg.action, seg.flags = SKIPPED, [seg.skip]
        elif not seg.source.strip():
            seg.action, seg.flags = SKIPPED, ["empty source"]
        elif seg.target is not None and not self.options.overwrite:
            seg.action, seg.flags = SKIPPED, ["has a target"]
        elif not seg.has_text:
            seg.action = COPIED
        else:
            seg.action = TRANSLATED  # provisional: the model's answer decides

    # -- the run ----------------------------------------------------------------------------------------

    def run(self, inputs: Sequence[str]) -> list[FileResult]:
        started = time.monotonic()
        results = [self.read(path, out) for path, out in collect_inputs(inputs, self.options)]
        check_collisions(results, self.options)  # before the model is loaded and anything is written
        for r in results:
            if r.error:
                self.say(f"bayling-cat: error: {r.error}")
        self.translate_all([r for r in results if not r.error])
        for r in results:
            if not r.error:
                self.write(r)
        self.seconds = time.monotonic() - started
        return results

    def translate_all(self, results: list[FileResult]) -> None:
        """Translate every distinct source once per language pair, then hand results to each segment.

        With a memory: exact matches are reused without the model; the rest is translated in chunks, each
        chunk's results stored as soon as it is done, so that a run killed at any point and started again
        translates only what was not yet done. Degenerate answers are retried once with other decoding.
        """
        wanted: dict[tuple[str, str], dict[tuple[str, str | None], None]] = {}
        codes: dict[tuple, dict] = {}  # what the placeholders of each source stand for (kept in the memory)
        for r in results:
            for seg in r.segments:
                if seg.action == TRANSLATED:
                    wanted.setdefault((r.source_lang, r.target_lang), {})[(seg.source.strip(), seg.hint)] = None
                    if seg.codes and self.options.memory is not None:
                        from bayling_cat.memory.tmx import stored_codes

                        codes.setdefault((r.source_lang, r.target_lang, seg.source.strip(), seg.hint),
                                         stored_codes(seg.codes))
        answers: dict[tuple, object] = {}
        for src, tgt in wanted:  # a glossary that cannot serve a language pair stops the run before any work
            self.glossary(src, tgt)
        memory = self.memory
        todo: dict[tuple[str, str], list] = {}
        for (src, tgt), jobs in wanted.items():
            glossary = self.glossary(src, tgt)
            fingerprint = self._memory_key(glossary)
            for job in jobs:
                hit = memory.exact(job[0], src, tgt, self.options.model_id, fingerprint, job[1]) if memory else None
                if hit is not None:
                    gen = self._from_memory(hit, job[0], glossary)
                    gen.fuzzy = hit if hit.origin == "human" else self._best_fuzzy(memory, job[0], src, tgt)
                    answers[(src, tgt) + job] = gen
                else:
                    todo.setdefault((src, tgt), []).append(job)
        total = sum(len(v) for v in todo.values())
        self.memory_hits = sum(len(v) for v in wanted.values()) - total
        if total:
            bar = self.progress_factory(total) if self.progress_factory else None
            chunks = []
            for (src, tgt), jobs in todo.items():
                fingerprint = self._memory_key(self.glossary(src, tgt))
                chunks += [(src, tgt, fingerprint, jobs[start:start + self.options.chunk])
                           for start in range(0, len(jobs), self.options.chunk)]

            def store(chunk_task, out):
                src, tgt, fingerprint, chunk = chunk_task
                stored = []
                for job, gen in zip(chunk, out):
                    answers[(src, tgt) + job] = gen
                    if memory:  # flagged answers too: the same model would only repeat them
                        stored.append({"source": job[0], "target": gen.text, "source_lang": src,
                                       "target_lang": tgt, "hint": job[1], "model": self.options.model_id,
                                       "glossary": fingerprint, "flags": gen.flags,
                                       "codes": codes.get((src, tgt) + job)})
                if memory:
                    memory.add(stored)  # this chunk survives whatever happens next

            try:
                self._run_chunks(chunks, bar, store)
            finally:
                if bar:
                    bar.close()
        for r in results:
            self.apply_file(r, answers)

    def apply_file(self, result: FileResult, answers: dict) -> None:
        """Put the answers into one file; an error there fails that file alone, with one line naming the file
        and the segment, and never the other files of the run."""
        seg = None
        try:
            for seg in result.segments:  # earlier bayling-cat notes go first: a unit's notes may concern several
                if seg.action in (TRANSLATED, COPIED):
                    result.connector.clear_notes(seg)
            for seg in result.segments:
                if seg.action == TRANSLATED:
                    self.apply(result, seg, answers[(result.source_lang, result.target_lang, seg.source.strip(),
                                                     seg.hint)])
                elif seg.action == COPIED:
                    self.apply_copy(result, seg)
        except Exception as exc:  # noqa: BLE001 - any failure in one file must not lose the run's other files
            where = f"segment {seg.key}: " if seg is not None else ""
            result.error = f"{result.input}: {where}cannot write the translation ({_describe(exc)}); file not written"
            self.say(f"bayling-cat: error: {result.error}")

    def _run_chunks(self, chunks, bar, store) -> None:
        """Translate the chunks and ``store`` each one's results as it finishes. A translator that can run
        several calls at once (a cluster's pool of model actors: ``concurrency``) gets that many chunks at a
        time, each sent as it would be locally, so the results are the same; the rest of the run (memory,
        files) stays in this thread."""
        workers = getattr(self.translator, "concurrency", 1)
        if workers <= 1 or len(chunks) <= 1:
            for task in chunks:
                store(task, self._translate_chunk(task[3], task[0], task[1], bar))
            return
        from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait

        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bayling-cat-chunk")
        futures = {pool.submit(self._translate_chunk, task[3], task[0], task[1], bar): task for task in chunks}
        try:
            pending = set(futures)
            while pending:
                done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    store(futures[future], future.result())
        except BaseException:
            # Ctrl-C or a chunk that failed for good: nothing more is started, what runs is cancelled, and
            # every chunk already stored stays in the memory for the next run
            for future in futures:
                future.cancel()
            if hasattr(self.translator, "cancel"):
                self.translator.cancel()
            raise
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _memory_key(self, glossary) -> str | None:
        """What a machine translation made with a glossary is stored under: the glossary's terms, and how hard
        the run pushed for them (term strategy, revision turns), so that a run asking for more (--term-strategy
        force, more --max-revisions) is not answered by one that asked for less."""
        if glossary is None:
            return None
        return f"{glossary.fingerprint}/{self.options.term_strategy}/r{self.options.max_revisions}"

    @staticmethod
    def _from_memory(hit, source: str, glossary):
        """A memory hit as the model's answer would be: with its flags and, under a glossary, the terminology
        findings for the stored target, so the notes, the report and the totals are those of the first run."""
        from bayling_cat.engines.base import Generation

        gen = Generation(hit.target, list(hit.flags))
        gen.memory = hit.origin
        if glossary is not None:
            from bayling_cat.revision import TermReport

            gen.terms = TermReport.from_finding(glossary.check(source, hit.target))
        return gen

    def _translate_chunk(self, jobs, src, tgt, bar) -> list:
        translator = self._translator_for(src, tgt)
        kwargs = {}
        if any(h for _, h in jobs):
            kwargs["hints"] = [h for _, h in jobs]
        matches = [[] for _ in jobs]  # the best-scoring approved human fuzzy matches: examples for the model
        if self.memory is not None:
            with self._lock:  # chunks may run in several threads; the memory connection is shared
                matches = [self.memory.similar(t, src, tgt, 2, self.options.fuzzy_threshold / 100) for t, _ in jobs]
            if any(matches):
                kwargs["examples"] = [[(h.source, h.target) for h in found] for found in matches]
        out = translator.translate([t for t, _ in jobs], src, tgt, progress=bar.update if bar else None, **kwargs)
        with self._lock:
            self.model_calls += len(jobs)
        for (source, _), gen in zip(jobs, out):  # model output is untrusted: clean before memory or file sees it
            gen.text = sanitize(gen.text, source, gen.flags)
        for gen, found in zip(out, matches):
            gen.examples = [h.source for h in found]
            gen.fuzzy = found[0] if found else None
        # degenerate answers (empty, looping, a copy of the source, a length far off) get one more try
        from bayling_cat.quality import degenerate

        retry = [i for i, (job, gen) in enumerate(zip(jobs, out)) if degenerate(job[0], gen.text, gen.flags, src, tgt)]
        if retry and hasattr(self.translator, "with_decoding"):
            other = self._translator_for(src, tgt, retry=True)
            again = other.translate([jobs[i][0] for i in retry], src, tgt,
                                    **({"hints": [jobs[i][1] for i in retry]} if "hints" in kwargs else {}))
            with self._lock:
                self.model_calls += len(retry)
            for i, gen in zip(retry, again):
                gen.text = sanitize(gen.text, jobs[i][0], gen.flags)
                if not degenerate(jobs[i][0], gen.text, gen.flags, src, tgt):
                    gen.flags = list(gen.flags) + ["retried"]
                    gen.examples = getattr(out[i], "examples", [])
                    gen.fuzzy = getattr(out[i], "fuzzy", None)
                    out[i] = gen
        return out

    def _best_fuzzy(self, memory, source: str, src: str, tgt: str):
        found = memory.similar(source, src, tgt, 1, self.options.fuzzy_threshold / 100)
        return found[0] if found else None

    def apply(self, result: FileResult, seg: Segment, generation) -> None:
        connector = result.connector
        flags = list(generation.flags)
        answer = sanitize(generation.text, seg.source, flags)  # also what a memory filled by older versions holds
        seg.memory = getattr(generation, "memory", None)
        seg.fuzzy = getattr(generation, "fuzzy", None)  # the best human memory match (a Hit), for the report
        if any(f in BLOCKING_FLAGS for f in flags):
            seg.action, seg.flags = FLAGGED, flags
            connector.add_note(seg, "no machine translation written: " + "; ".join(FLAG_TEXT.get(f, f) for f in flags))
            return
        seg.terms = getattr(generation, "terms", None)
        seg.examples = getattr(generation, "examples", [])
        text, changed = repair(keep_outer_space(seg.source, answer), seg.codes)
        if changed:
            flags.append(FLAG_CODES)
        if self.options.checks and seg.memory != "human":
            from bayling_cat.quality import plain, run_checks

            seg.qa = run_checks(plain(seg.source, seg.codes).strip(), plain(text, seg.codes).strip(),
                                result.target_lang)
            if seg.qa:
                flags.append("qa")
        seg.translation = text
        seg.flags = flags
        seg.action = FLAGGED if flags and flags != ["retried"] else TRANSLATED
        origin = "tm" if seg.memory == "human" else "mt"
        if self.options.mode == "suggest":
            connector.write_suggestion(seg, text)
            if seg.fuzzy is not None and seg.memory != "human":
                write_tm_match(connector, seg, seg.fuzzy)
        else:
            connector.write_target(seg, text, copied=False, origin=origin)
        if seg.memory == "human":
            connector.add_note(seg, "from the translation memory (human translation)")
        notes = [FLAG_TEXT.get(f, f) for f in flags if f != "qa"]
        if getattr(seg, "qa", None):
            notes.append("quality checks: " + "; ".join(f"{k}: {v}" for k, v in seg.qa.items()))
        if notes:
            connector.add_note(seg, "machine translation to review: " + "; ".join(notes))
        if seg.terms is not None:
            from bayling_cat.revision import feedback_note

            note = feedback_note(seg.terms)
            if note:
                connector.add_note(seg, note)

    def apply_copy(self, result: FileResult, seg: Segment) -> None:
        seg.translation = seg.source
        if self.options.mode == "suggest":
            result.connector.write_suggestion(seg, seg.source)
        else:
            result.connector.write_target(seg, seg.source, copied=True)

    def write(self, result: FileResult) -> None:
        try:
            data = result.connector.serialize()
            for seg in result.segments:  # the report says what the file holds
                if seg.translation is not None and result.connector.unwritten(seg):
                    seg.translation, seg.action = None, FLAGGED
                    seg.flags = [*seg.flags, "entry-left-untranslated"]
            if self.options.in_place:
                backup = result.input.with_name(result.input.name + ".bak")
                copy_atomic(result.input, backup)  # a full disk must not leave a truncated backup
            write_atomic(result.output, data)
        except UserError as exc:
            result.error = str(exc)
            self.say(f"bayling-cat: error: {exc}")
        except OSError as exc:
            result.error = f"{result.output}: cannot write ({exc.strerror or exc})"
            self.say(f"bayling-cat: error: {result.error}")
        except Exception as exc:  # noqa: BLE001 - one file that cannot be serialised must not stop the others
            result.error = f"{result.input}: cannot write the translation ({_describe(exc)}); file not written"
            self.say(f"bayling-cat: error: {result.error}")


def check_files(inputs: Sequence[str], options: Options) -> list[FileResult]:
    """Terminology check of whatever the targets of translated files hold (human or machine); writes nothing."""
    from bayling_cat.revision import TermReport

    checker = Pipeline(None, options)
    results = []
    for path, _ in collect_inputs(inputs, Options(in_place=True, output=options.output,
                                                  source_lang=options.source_lang, target_lang=options.target_lang)):
        result = checker.read(path, None)
        result.output = None
        results.append(result)
        if result.error:
            continue
        glossary = checker.glossary(result.source_lang, result.target_lang)
        for seg in result.segments:
            seg.action, seg.flags = ("checked", []) if seg.current else (SKIPPED, ["no target"])
            if not seg.current:
                continue
            finding = glossary.check(seg.source, seg.current)
            seg.translation = seg.current
            seg.terms = TermReport.from_finding(finding)
    check_collisions(results, options)  # the report must not replace a file check promises never to write
    return results


def check_collisions(results: list[FileResult], options: Options) -> None:
    """Refuse a run in which a file it writes (an output, the .bak of --in-place, the report) is a file it
    reads (an input, a glossary, the memory) or another file it writes, whatever the spelling: symbolic
    links and hard links are followed."""
    reads: list[tuple[str, Path]] = [(f"the input {r.input}", r.input) for r in results]
    reads += [(f"the glossary {g}", Path(g)) for g in options.glossaries]
    if options.memory is not None:
        reads += [(f"the memory {options.memory}", Path(f"{options.memory}{end}")) for end in ("", "-wal", "-shm")]
    writes: list[tuple] = []
    for r in results:
        if r.error or r.output is None:
            continue
        if options.in_place:
            writes.append((f"the in-place output of {r.input}", r.output, r.input))
            writes.append((f"the backup of {r.input}", r.input.with_name(r.input.name + ".bak")))
        else:
            writes.append((f"the output of {r.input}", r.output))
    if options.report is not None:
        writes.append(("the report", Path(options.report)))
    check_distinct(writes, reads)


def _describe(exc: Exception) -> str:
    """An unexpected exception as a short phrase for a one-line error."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _same_languages(path: Path, lang: str, options) -> str:
    """What to say when source and target are one language: advice only about options not given already."""
    if options.target_lang and options.source_lang:
        return f"{path}: source and target language are both {lang}"
    if options.target_lang:
        return (f"{path}: the file's source language is {lang}, and so is --target-lang; pass another "
                "--target-lang (or --source-lang, if the file's source is in another language)")
    return f"{path}: source and target language are both {lang}; pass --target-lang"


def _language(path: Path, code: str, which: str) -> str:
    try:
        return languages.normalize(code)
    except UserError:
        raise UserError(f"{path}: invalid {which} language {code!r}") from None


# -- report and summary ---------------------------------------------------------------------------------

def report(results: list[FileResult], seconds: float, model: str) -> dict:
    files = []
    totals = {"files": len(results), "failed_files": 0, "segments": 0, TRANSLATED: 0, COPIED: 0, SKIPPED: 0,
              FLAGGED: 0, "not_written": 0}
    for r in results:
        entry = {"input": str(r.input), "output": str(r.output) if r.output and not r.error else None,
                 "format": r.format, "source_lang": r.source_lang, "target_lang": r.target_lang, "error": r.error,
                 **({"declared_target_lang": r.declared_target_lang} if r.declared_target_lang else {})}
        if r.error:
            totals["failed_files"] += 1
        else:
            t = r.totals()
            entry["totals"] = t
            for k in t:
                totals[k] = totals.get(k, 0) + t[k]
            entry["segments"] = [{
                "id": s.key, "action": s.action,
                "reason": s.flags[0] if s.action == SKIPPED and s.flags else None,
                "flags": s.flags if s.action != SKIPPED else [],
                "written": s.translation is not None,
                "source": s.source, "translation": s.translation,
                **({"terms": terms_entry(s.terms)} if s.terms is not None else {}),
                **({"memory": s.memory} if getattr(s, "memory", None) else {}),
                **({"examples": s.examples} if getattr(s, "examples", None) else {}),
                **({"fuzzy": fuzzy_entry(s.fuzzy)} if getattr(s, "fuzzy", None) else {}),
                **({"checks": s.qa} if getattr(s, "qa", None) else {}),
            } for s in r.segments]
            entry["totals"]["from_memory"] = sum(1 for s in r.segments if getattr(s, "memory", None))
            entry["totals"]["check_failures"] = sum(1 for s in r.segments if getattr(s, "qa", None))
            for k in ("from_memory", "check_failures"):
                totals[k] = totals.get(k, 0) + entry["totals"][k]
            reports = [s.terms for s in r.segments if s.terms is not None]
            if reports:
                entry["terminology"] = terminology_totals(reports)
        files.append(entry)
    return {"tool": f"bayling-cat {__version__}", "model": model,
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seconds": round(seconds, 2), "totals": totals, "files": files}


def fuzzy_entry(hit) -> dict:
    """The best memory match of a segment as a CAT tool shows it: percentage, its source and target."""
    return {"percent": hit.percent, "source": hit.source, "target": hit.target, "origin": hit.origin}


def write_tm_match(connector, seg: Segment, hit) -> None:
    """The best human fuzzy match beside the machine suggestion (XLIFF alt-trans / mtc:match of type tm), its
    placeholders limited to the codes this segment has."""
    from bayling_cat.document import PLACEHOLDER

    def own(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: m.group(0) if int(m.group(2)) in seg.codes else "", text)

    connector.write_suggestion(seg, own(hit.target), match={"type": "tm", "quality": hit.percent,
                                                            "source": own(hit.source)})


def terms_entry(report) -> dict:
    return {"matched": report.matched, "applied": report.applied, "violated": report.violated,
            "revisions": report.revisions, "forced": report.forced}


def terminology_totals(reports) -> dict:
    """Term success rate, forbidden-term hits and consistency over a document."""
    required = sum(r.required for r in reports)
    present = sum(r.present for r in reports)
    forms: dict[str, set[str]] = {}
    for r in reports:
        for term, form in r.used.items():
            forms.setdefault(term, set()).add(form)
    inconsistent = {term: sorted(f) for term, f in sorted(forms.items()) if len(f) > 1}
    return {
        "segments_with_terms": sum(1 for r in reports if r.matched),
        "required": required, "present": present,
        "term_success_rate": round(present / required, 4) if required else None,
        "forbidden_hits": sum(r.forbidden_hits for r in reports),
        "revision_turns": sum(r.revisions for r in reports),
        "forced": sum(1 for r in reports if r.forced),
        "consistency": round(1 - len(inconsistent) / len(forms), 4) if forms else None,
        "inconsistent_terms": inconsistent,
    }


def write_report(path: Path, data: dict) -> None:
    write_atomic(path, (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def summary(data: dict) -> str:
    t = data["totals"]
    parts = [f"{t['translated']} translated", f"{t['copied']} copied", f"{t['skipped']} skipped",
             f"{t['flagged']} flagged" + (f" ({t['not_written']} not written)" if t["not_written"] else "")]
    if t.get("from_memory"):
        parts.append(f"{t['from_memory']} from memory")
    if t.get("check_failures"):
        parts.append(f"{t['check_failures']} failing quality checks")
    failed = f", {t['failed_files']} failed" if t["failed_files"] else ""
    return (f"bayling-cat: {t['files']} file{'s' if t['files'] != 1 else ''}{failed}: {t['segments']} segments: "
            + ", ".join(parts) + f"; {data['seconds']:.1f} s")


def progress_bar(total: int):
    """tqdm on a terminal (segments, segments/s, ETA); nothing when standard error is not a terminal."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="seg", desc="translating", file=sys.stderr, dynamic_ncols=True)
