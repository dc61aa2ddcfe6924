"""``translate`` (files, folders, standard input), ``check`` and ``revise``: the file pipeline's doors."""

from __future__ import annotations

import os
import select
import sys
from pathlib import Path

import click

from bayling_cat.cli import options as opts
from bayling_cat.cli.base import EXIT_ERROR, cli, say
from bayling_cat.cli.options import (cluster_options, engine_options, file_to_write, files_to_read, language,
                                     memory_file, memory_option, output_path)
from bayling_cat.errors import UserError

def _stdin_lines(stream):
    """Standard input's lines, decoded as UTF-8 here (not by the locale's codec, which turns bytes that are not
    UTF-8 into lone surrogates no engine takes): such a line is one error naming the line and the byte."""
    binary = getattr(stream, "buffer", None)
    if binary is None:  # already text (a test's StringIO)
        yield from iter(stream.readline, "")
        return
    for number, raw in enumerate(iter(binary.readline, b""), 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as exc:
            raise UserError(f"standard input, line {number}: not UTF-8 (byte 0x{raw[exc.start]:02x} at byte "
                            f"{exc.start + 1}); convert it first, e.g. iconv -f LATIN1 -t UTF-8") from None
        yield line[:-2] + "\n" if line.endswith("\r\n") else line


def _stdin_chunks(stream, size: int):
    """Lines from ``stream`` in chunks: as many as are already waiting, up to ``size``.

    An interactive or slow producer gets each line translated as soon as it arrives; a file or a fast pipe
    fills whole batches.
    """
    try:
        fd = stream.fileno()
        can_poll = os.name == "posix"
    except (AttributeError, OSError, ValueError):
        can_poll = False
    chunk: list[str] = []
    for line in _stdin_lines(stream):
        chunk.append(line[:-1] if line.endswith("\n") else line)
        more_waiting = (not can_poll) or bool(select.select([fd], [], [], 0)[0])
        if len(chunk) >= size or not more_waiting:
            yield chunk
            chunk = []
    if chunk:
        yield chunk





@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--source-lang", "-s", default=None, help="Source language code (default: from the file).")
@click.option("--target-lang", "-t", default=None, help="Target language code (default: from the file).")
@click.option("--output", "-o", default=None,
              help="Output file, or folder (several inputs, an existing folder, or a trailing slash: -o out/) "
                   "(default: INPUT.<target-lang>.<ext> beside it).")
@click.option("--mode", type=click.Choice(["target", "suggest"]), default="target", show_default=True,
              help="target: write translations into the targets; suggest: add them as proposals "
                   "(alt-trans, XLIFF 2 matches) and leave the targets alone.")
@click.option("--overwrite", is_flag=True, help="Also translate segments that already have a target "
              "(never approved, final, locked or confirmed ones).")
@click.option("--in-place", is_flag=True, help="Write into the input files (a .bak copy of each is kept).")
@click.option("--report", default=None,
              help="Write a JSON report: per segment what was done and why, and totals.")
@click.option("--accelerator", type=click.Choice(["&", "_", "~"]), default=None,
              help="PO files: the accelerator marker in msgids (&File, _File); kept on a letter of the translation.")
@click.option("--glossary", "-g", "glossaries", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="TBX, CSV or TSV glossary (repeatable): terms steer, check and revise each translation.")
@click.option("--max-revisions", type=click.IntRange(0, 10), default=2, show_default=True,
              help="Follow-up turns that ask the model to fix terminology violations.")
@click.option("--term-strategy", type=click.Choice(["none", "force"]), default="none", show_default=True,
              help="force: a term still missing after the revisions is put in as a protected placeholder.")
@memory_option(what="Translation memory: exact matches reused, fuzzy ones given to the model as examples, "
                    "translations stored.", no_memory="Neither reuse nor store translations.")
@click.option("--fuzzy-threshold", type=click.IntRange(1, 100), default=75, show_default=True,
              help="Least fuzzy match percentage a memory match needs to be shown (report, suggestions) or given "
                   "to the model as an example.")
@click.option("--no-checks", is_flag=True, help="Skip translate-toolkit's quality checks on the output.")
@click.option("--mixed-batches", is_flag=True,
              help="Batch segments of different lengths together: more throughput on a large file, but a segment's "
                   "translation may then differ from the one serve or the workbench gives it.")
@engine_options
@cluster_options
def translate(inputs, source_lang, target_lang, output, mode, overwrite, in_place, report, accelerator, glossaries,
              max_revisions, term_strategy, memory_path, no_memory, fuzzy_threshold, no_checks, mixed_batches,
              **engine_kw):
    """Translate XLIFF (1.2, 2.x, SDLXLIFF, MQXLIFF), PO/POT and DOCX files, or folders of them; '-'
    translates plain-text lines from standard input to standard output instead (blank lines stay blank)."""
    if in_place and output is not None:
        raise UserError("--in-place and --output exclude each other")
    engine_kw["mixed_batches"] = mixed_batches
    if list(inputs) != ["-"]:
        if "-" in inputs:
            raise UserError("'-' (standard input) cannot be mixed with files")
        from bayling_cat.models import model_files

        output, output_folder = output_path(output, "--output")
        if output is not None and not output_folder and len(inputs) == 1 and not output.is_dir() \
                and not Path(inputs[0]).is_dir():
            from bayling_cat.fileio import check_writable

            check_writable(output, "output")  # before the model is loaded and the file translated
        report = file_to_write(report, "--report")
        files_to_read(glossaries)
        model_id = model_files(engine_kw["model"]).name
        options = dict(mode=mode, overwrite=overwrite, in_place=in_place, output=output, accelerator=accelerator,
                       glossaries=list(glossaries), max_revisions=max_revisions, term_strategy=term_strategy,
                       memory=None if no_memory else memory_file(memory_path), model_id=model_id,
                       checks=not no_checks, chunk=max(8, engine_kw["batch_size"] * 2), output_folder=output_folder,
                       report=report, fuzzy_threshold=fuzzy_threshold)
        _translate_files(inputs, source_lang, target_lang, report, options, engine_kw)
        return
    if output is not None or report is not None or in_place:
        raise UserError("translating standard input writes to standard output: --output, --report and --in-place "
                        "apply to files")
    if not source_lang or not target_lang:
        raise UserError("translating standard input needs --source-lang and --target-lang")
    source_lang, target_lang = language(source_lang, "--source-lang"), language(target_lang, "--target-lang")
    if source_lang == target_lang:
        raise UserError(f"source and target language are both {source_lang}")
    files_to_read(glossaries)
    from bayling_cat.models import model_files

    options = pipeline_options(source_lang, target_lang, glossaries=list(glossaries), max_revisions=max_revisions,
                               term_strategy=term_strategy, memory=None if no_memory else memory_file(memory_path),
                               model_id=model_files(engine_kw["model"]).name, checks=not no_checks,
                               chunk=max(8, engine_kw["batch_size"] * 2), fuzzy_threshold=fuzzy_threshold)
    _translate_stdin(options, engine_kw)


def pipeline_options(source_lang, target_lang, **options):
    from bayling_cat import pipeline

    return pipeline.Options(source_lang=language(source_lang, "--source-lang"),
                            target_lang=language(target_lang, "--target-lang"), **options)


def _translate_stdin(options, engine_kw) -> None:
    """Standard input as one more source of the file pipeline: each chunk of lines through the same core with
    the same options (memory, glossaries, checks) as a file's segments; a blank line stays blank."""
    from bayling_cat.pipeline import FLAG_TEXT, Pipeline

    run = Pipeline(lambda: opts.load_engine(**engine_kw), options)
    started = False
    pending: list[str] = []  # blank lines seen before any text: held back so empty input writes nothing
    line_no = flagged = 0
    for chunk in _stdin_chunks(sys.stdin, engine_kw["batch_size"]):
        if not started and not any(line.strip() for line in chunk):
            pending.extend(chunk)
            continue
        if not started:
            started = True
            sys.stdout.write("".join(line + "\n" for line in pending))
            line_no = len(pending)
        for i, result in enumerate(run.translate_lines(chunk, options.source_lang, options.target_lang)):
            sys.stdout.write(result.text.replace("\n", " ") + "\n")
            if result.flags and chunk[i].strip():
                flagged += 1
                reasons = "; ".join(FLAG_TEXT.get(f, f) for f in result.flags)
                say(f"bayling-cat: warning: line {line_no + i + 1}: {reasons}; review this translation")
        sys.stdout.flush()
        line_no += len(chunk)
    if not started:
        raise UserError("standard input is empty: nothing to translate")
    run.close()
    if flagged:
        say(f"bayling-cat: {flagged} of {line_no} lines flagged for review")


def _translate_files(inputs, source_lang, target_lang, report_path, options, engine_kw):
    from bayling_cat import pipeline

    options = pipeline_options(source_lang, target_lang, **options)
    run = pipeline.Pipeline(lambda: opts.load_engine(**engine_kw), options, progress_factory=pipeline.progress_bar,
                            say=say)
    try:
        results = run.run(inputs)
    finally:
        run.close()  # a cluster's actors go, and a Ray instance started here stops
    model = str(run.engine_loaded.path) if run.engine_loaded is not None else "(not loaded: nothing to translate)"
    data = pipeline.report(results, run.seconds, model, getattr(run.engine_loaded, "info", None))
    for r in results:
        if not r.error:
            say(f"bayling-cat: wrote {r.output}")
    report_written = _write_report(report_path, data)
    say(pipeline.summary(data))
    if data["totals"]["failed_files"] or not report_written:
        raise click.exceptions.Exit(EXIT_ERROR)


def _write_report(path: Path | None, data: dict) -> bool:
    """The report, or one error line if it cannot be written now (the translations are already written)."""
    from bayling_cat import pipeline

    if path is None:
        return True
    try:
        pipeline.write_report(path, data)
    except UserError as exc:
        say(f"bayling-cat: error: {exc}")
        return False
    say(f"bayling-cat: report in {path}")
    return True


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--glossary", "-g", "glossaries", multiple=True, required=True,
              type=click.Path(path_type=Path, dir_okay=False), help="TBX, CSV or TSV glossary (repeatable).")
@click.option("--source-lang", "-s", default=None, help="Source language code (default: from the file).")
@click.option("--target-lang", "-t", default=None, help="Target language code (default: from the file).")
@click.option("--report", default=None, help="Also write the findings as JSON.")
def check(inputs, glossaries, source_lang, target_lang, report):
    """Check the terminology of translated files (XLIFF, PO) against glossaries; writes nothing to them."""
    from bayling_cat import pipeline

    report = file_to_write(report, "--report")
    files_to_read(glossaries)
    options = pipeline.Options(source_lang=language(source_lang, "--source-lang"),
                               target_lang=language(target_lang, "--target-lang"),
                               glossaries=list(glossaries), report=report)
    results = pipeline.check_files(inputs, options)
    data = pipeline.report(results, 0.0, "(none: terminology check)")
    for r, entry in zip(results, data["files"]):
        if r.error:
            say(f"bayling-cat: error: {r.error}")
            continue
        for seg in r.segments:
            for problem in (seg.terms.violated if seg.terms else []):
                click.echo(f"{r.input}: unit {seg.key}: {problem}")
        t = entry.get("terminology") or {}
        rate = t.get("term_success_rate")
        click.echo(f"{r.input}: {entry['totals'].get('checked', 0)} segments checked, term success rate "
                   + (f"{rate:.1%} ({t['present']} of {t['required']})" if rate is not None else "n/a (no terms)")
                   + f", forbidden terms {t.get('forbidden_hits', 0)}, inconsistent terms "
                   + f"{len(t.get('inconsistent_terms', {}))}")
    if not _write_report(report, data) or data["totals"]["failed_files"]:
        raise click.exceptions.Exit(EXIT_ERROR)


@cli.command()
@click.argument("input_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--segment", "segment_id", default=None, help="Only this segment (its id as the report shows it).")
@click.option("--source-lang", "-s", default=None, help="Source language code (default: from the file).")
@click.option("--target-lang", "-t", default=None, help="Target language code (default: from the file).")
@click.option("--output", "-o", default=None,
              help="Write the revised file here, a file or a folder (default: into INPUT_FILE, keeping "
                   "INPUT_FILE.bak).")
@engine_options
def revise(input_file, segment_id, source_lang, target_lang, output, **engine_kw):
    """Revise translations interactively: type an instruction ("more formal", "use 'Datei' for file",
    "shorter"), see the model's revision from the next turn of the same conversation, accept it into the file.
    Every translation shown carries the engine's warnings (cut at the generation limit, repetition...); the
    file is written only when an accepted revision changed a target."""
    from bayling_cat import pipeline
    from bayling_cat.document import repair
    from bayling_cat.fileio import check_writable, same_file
    from bayling_cat.revision import Conversation

    output, output_folder = output_path(output, "--output")
    if output is not None and (output_folder or output.is_dir()):
        output = output / input_file.name
    if output is not None and same_file(output, input_file):
        output = None  # -o naming the input is the default: in place, with a backup
    if output is not None:
        check_writable(output, "output")
    options = pipeline.Options(source_lang=language(source_lang, "--source-lang"),
                               target_lang=language(target_lang, "--target-lang"),
                               in_place=output is None, output=output)
    reader = pipeline.Pipeline(None, options)
    result = reader.read(input_file, output)
    if result.error:
        raise UserError(result.error)
    pipeline.check_collisions([result], options)
    segments = [s for s in result.segments if not s.skip and s.has_text]
    if segment_id is not None:
        segments = [s for s in segments if s.key == segment_id]
        if not segments:
            raise UserError(f"{input_file}: no segment {segment_id!r} to revise (translate=no, locked, approved, "
                            "empty or unknown)")
    from bayling_cat.fewshot import UnsupportedRequest
    from bayling_cat.translator import Request, Translator

    core = Translator(opts.load_engine(**engine_kw, purpose="interactive"))
    changed = kept = 0
    for number, seg in enumerate(segments, 1):
        current, flags = seg.current, []
        if not current:
            [first] = core.translate([Request(seg.source.strip(), seg.codes, seg.hint)], result.source_lang,
                                     result.target_lang)
            current, flags = first.text, list(first.flags)
        chat = Conversation(seg.source.strip(), current, result.source_lang, result.target_lang, seg.hint)
        click.echo(f"\n[{number}/{len(segments)}] {seg.key}\n  source: {seg.source.strip()}\n  target: {current}")
        _show_flags(flags)
        while True:
            said = _ask("instruction (Enter: next, a: accept, q: quit)")
            if said is None or said.strip().lower() in ("", "a", "q"):
                break
            try:
                revised = core.revise(chat, said.strip(), seg.codes)
            except UnsupportedRequest as exc:  # a base model cannot follow it: say so, ask again
                click.echo(f"  not possible: {exc}")
                continue
            flags = list(revised.flags)
            click.echo(f"  revised: {revised.text}")
            _show_flags(flags)
        if said is not None and said.strip().lower() == "a":
            text, repaired = repair(chat.latest, seg.codes)
            if text == seg.current:
                kept += 1
                click.echo("  kept: the target is unchanged")
            else:
                result.connector.write_target(seg, text, copied=False)
                changed += 1
                click.echo("  accepted" + (" (inline codes lost or invented by the model were repaired)"
                                           if repaired else ""))
        if said is None or said.strip().lower() == "q":
            break
    if changed:
        reader.write(result)
        if result.error:
            raise UserError(result.error)
        backup = f" (the original is in {input_file}.bak)" if options.in_place else ""
        say(f"bayling-cat: {changed} revision(s) accepted; wrote {result.output}{backup}")
    elif kept:
        say("bayling-cat: no target changed; nothing written, the file is unchanged")
    else:
        say("bayling-cat: nothing accepted; the file is unchanged")


def _ask(prompt: str) -> str | None:
    """One line from the user; None at the end of input (a closed pipe ends the session like 'q')."""
    try:
        return input(f"{prompt}: ")
    except EOFError:
        click.echo()
        return None


def _show_flags(flags) -> None:
    """The engine's warnings on a translation shown to the user, in words."""
    if flags:
        from bayling_cat.pipeline import FLAG_TEXT

        click.echo("  warning: " + "; ".join(FLAG_TEXT.get(f, f) for f in flags) + "; review this translation")


