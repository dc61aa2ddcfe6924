"""The run of the file pipeline, a door of the translation core:

read (connector) -> decide what to do with each segment -> the core translates each distinct source once
(memory, examples, model, glossary turns, repair, checks) -> targets (or suggestions), states and notes
written -> the file written atomically.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, Sequence

from bayling_cat import langid, languages
from bayling_cat.connectors import open_document
from bayling_cat.document import COPIED, FLAG_CODES, FLAGGED, SKIPPED, TRANSLATED, Segment
from bayling_cat.errors import UserError
from bayling_cat.fileio import copy_atomic, read_regular, same_file, write_atomic
from bayling_cat.pipeline.plan import (FileResult, Options, _language, check_collisions, collect_inputs,
                                       default_output, named_for)
from bayling_cat.pipeline.report import FLAG_TEXT
from bayling_cat.translator import FLAG_QA, FLAG_RETRIED, CoreOptions, Request, Translation, Translator


class Pipeline:
    """``engine``: a loaded engine, or a function that loads one when a segment first needs the model.
    ``glossary_for(source_lang, target_lang)`` and ``memory`` (an open one) stand in for the options'
    glossary files and memory location where the caller has them already (the server)."""

    def __init__(self, engine, options: Options, progress_factory=None, say: Callable[[str], None] = lambda m: None,
                 glossary_for=None, memory=None):
        self.options = options
        self.progress_factory = progress_factory
        self.say = say
        self._glossaries: dict[tuple[str, str], object] = {}
        self._glossary_for = glossary_for
        self._memory = memory
        self._engine = engine
        self._core: Translator | None = None
        self.seconds = 0.0

    @property
    def memory(self):
        if self._memory is None and self.options.memory is not None:
            from bayling_cat.memory import open_memory

            self._memory = open_memory(self.options.memory)
        return self._memory

    @property
    def core(self) -> Translator:
        if self._core is None:
            o = self.options
            self._core = Translator(self._engine, self.memory, CoreOptions(
                model_id=o.model_id, max_revisions=o.max_revisions, term_strategy=o.term_strategy, checks=o.checks,
                fuzzy_threshold=o.fuzzy_threshold, chunk=o.chunk))
        return self._core

    @property
    def engine_loaded(self):
        """The engine if the run loaded one, else None."""
        return self._core.engine if self._core is not None and self._core.loaded else None

    @property
    def tool(self) -> str:
        """What the files credit machine output to: bayling-cat, and an adapted model by name and base."""
        from bayling_cat.modelinfo import credit

        engine = self.engine_loaded
        info = getattr(engine, "info", None)
        return credit(getattr(info, "name", "") or Path(str(getattr(engine, "path", "model"))).stem, info)

    def close(self) -> None:
        """Release the engine the run loaded (a cluster's actors, and a Ray instance started for them)."""
        if self.engine_loaded is not None:
            self.engine_loaded.close()

    @property
    def model_calls(self) -> int:
        return self._core.model_calls if self._core is not None else 0

    def glossary(self, source_lang: str, target_lang: str):
        """The run's glossaries for one language pair, merged (None without --glossary)."""
        from bayling_cat.glossary import Glossary, load

        key = (source_lang, target_lang)
        if key not in self._glossaries:
            if self._glossary_for is not None:
                self._glossaries[key] = self._glossary_for(source_lang, target_lang)
            else:
                loaded = [load(path, source_lang, target_lang) for path in self.options.glossaries]
                self._glossaries[key] = Glossary.merge(loaded)
        return self._glossaries[key]

    # -- reading and deciding -------------------------------------------------------------------------

    def read(self, path: Path, output: Path | None) -> FileResult:
        result = FileResult(input=path)
        try:
            connector = open_document(path, read_regular(path), accelerator=self.options.accelerator)
            self._languages(result, connector)
            if self.options.mode == "suggest" and not connector.can_suggest:
                raise UserError(f"{path}: {connector.format} has no place for suggestions; use --mode target")
            result.format = connector.format
            result.connector = connector
            result.segments = connector.segments()
            self._retarget(result, connector)
            if result.declared_target_lang and getattr(connector, "segments_follow_language", False):
                result.segments = connector.segments()  # ICU plurals laid out for the new language
            result.output = self._output(path, output, connector, result.target_lang)
        except UserError as exc:
            result.error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a file no connector can read fails alone, the others still run
            result.error = f"{path}: cannot read ({_describe(exc)})"
            result.segments = []
        for seg in result.segments:
            self.decide(seg)
        return result

    def _languages(self, result: FileResult, connector) -> None:
        path = result.input
        src = self.options.source_lang or connector.source_lang or connector.default_source_lang \
            or langid.detect_document(path, connector, self.say)
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

    def _output(self, path: Path, output: Path | None, connector, target_lang: str) -> Path:
        if self.options.in_place:
            # through a symbolic link to the file it names, as editors save: the link stays a link
            return Path(os.path.realpath(path)) if path.is_symlink() else path
        chosen = output or connector.output_path(path, target_lang) or \
            default_output(path, target_lang, getattr(connector, "output_suffix", None))
        if output is None and named_for(path, target_lang):
            self.say(f"bayling-cat: note: {path} is already named for {target_lang}: its translation goes to "
                     f"{chosen.name} beside it (--in-place fills {path.name} itself, keeping a .bak)")
        if same_file(chosen, path):
            raise UserError(f"{path}: the output would overwrite the input; use --in-place to do that "
                            "(a backup is kept)")
        return chosen

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
        """Every segment to translate goes to the core, one call per language pair (each distinct source once;
        with a memory each chunk is stored as soon as it is done, so a killed run resumes where it stopped);
        then each file gets its answers."""
        pairs: dict[tuple[str, str], list[Segment]] = {}
        for r in results:
            pairs.setdefault((r.source_lang, r.target_lang), []).extend(
                seg for seg in r.segments if seg.action == TRANSLATED)
        for src, tgt in pairs:  # a glossary that cannot serve a language pair stops the run before any work
            self.glossary(src, tgt)
        total = sum(len({(seg.source.strip(), seg.hint) for seg in segs}) for segs in pairs.values())
        bar = self.progress_factory(total) if self.progress_factory and total else None
        answers: dict[int, Translation] = {}
        try:
            for (src, tgt), segs in pairs.items():
                out = self.core.translate([Request(seg.source, seg.codes, seg.hint) for seg in segs], src, tgt,
                                          self.glossary(src, tgt), progress=bar.update if bar else None)
                answers.update({id(seg): t for seg, t in zip(segs, out)})
        finally:
            if bar:
                bar.close()
        for r in results:
            self.apply_file(r, answers)

    def translate_lines(self, lines: Sequence[str], source_lang: str, target_lang: str) -> list[Translation]:
        """Plain-text lines (standard input) through the core with the run's options, as a file's segments
        would go; a blank line stays blank."""
        return self.core.translate([Request(line) for line in lines], source_lang, target_lang,
                                   self.glossary(source_lang, target_lang))

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
                    self.apply(result, seg, answers[id(seg)])
                elif seg.action == COPIED:
                    self.apply_copy(result, seg)
        except Exception as exc:  # noqa: BLE001 - any failure in one file must not lose the run's other files
            where = f"segment {seg.key}: " if seg is not None else ""
            result.error = f"{result.input}: {where}cannot write the translation ({_describe(exc)}); file not written"
            self.say(f"bayling-cat: error: {result.error}")

    def apply(self, result: FileResult, seg: Segment, translation: Translation) -> None:
        """The core's result into the file: the target (or a suggestion), its state and the notes a reviewer
        reads."""
        connector = result.connector
        connector.tool = self.tool
        flags = list(translation.flags)
        seg.memory, seg.fuzzy = translation.memory, translation.fuzzy
        seg.terms, seg.examples, seg.qa = translation.terms, translation.examples, translation.checks
        if not translation.written:
            seg.action, seg.flags = FLAGGED, [f for f in flags if f != FLAG_CODES]
            connector.add_note(seg, "no machine translation written: " + "; ".join(FLAG_TEXT.get(f, f) for f in flags))
            return
        text = translation.text
        seg.translation, seg.flags = text, flags
        seg.action = FLAGGED if flags and flags != [FLAG_RETRIED] else TRANSLATED
        if self.options.mode == "suggest":
            connector.write_suggestion(seg, text)
            if seg.fuzzy is not None and seg.memory != "human":
                write_tm_match(connector, seg, seg.fuzzy)
        else:
            connector.write_target(seg, text, copied=False, origin=translation.origin)
        if seg.memory == "human":
            connector.add_note(seg, "from the translation memory (human translation)")
        notes = [FLAG_TEXT.get(f, f) for f in flags if f != FLAG_QA]
        if seg.qa:
            notes.append("quality checks: " + "; ".join(f"{k}: {v}" for k, v in seg.qa.items()))
        if notes:
            connector.add_note(seg, "machine translation to review: " + "; ".join(notes))
        if seg.terms is not None:
            from bayling_cat.revision import feedback_note

            note = feedback_note(seg.terms)
            if note:
                connector.add_note(seg, note)

    def apply_copy(self, result: FileResult, seg: Segment) -> None:
        result.connector.tool = self.tool
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


def write_tm_match(connector, seg: Segment, hit) -> None:
    """The best human fuzzy match beside the machine suggestion (XLIFF alt-trans / mtc:match of type tm), its
    placeholders limited to the codes this segment has."""
    from bayling_cat.document import PLACEHOLDER

    def own(text: str) -> str:
        return PLACEHOLDER.sub(lambda m: m.group(0) if int(m.group(2)) in seg.codes else "", text)

    connector.write_suggestion(seg, own(hit.target), match={"type": "tm", "quality": hit.percent,
                                                            "source": own(hit.source)})


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


def _same_languages(path: Path, lang: str, options) -> str:
    """What to say when source and target are one language: advice only about options not given already."""
    if options.target_lang and options.source_lang:
        return f"{path}: source and target language are both {lang}"
    if options.target_lang:
        return (f"{path}: the file's source language is {lang}, and so is --target-lang; pass another "
                "--target-lang (or --source-lang, if the file's source is in another language)")
    return f"{path}: source and target language are both {lang}; pass --target-lang"


def _describe(exc: Exception) -> str:
    """An unexpected exception as a short phrase for a one-line error."""
    text = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
