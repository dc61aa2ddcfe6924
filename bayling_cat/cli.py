"""The command line: ``bayling-cat translate``, ``convert`` and ``models``.

A thin shell: it parses options, calls the engine or the converter, and turns a UserError into one line on
standard error and a non-zero exit code. It never imports torch or transformers (conversion of the default
model runs in a child process).
"""

from __future__ import annotations

import os
import select
import sys
import time
from pathlib import Path

import click

from bayling_cat import __version__, languages
from bayling_cat.sessions import startup_line
from bayling_cat.errors import UserError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _say(message: str) -> None:
    click.echo(message, err=True)


EXIT_USAGE = 2  # click's code for a bad option or argument


class _Cli(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _say(f"bayling-cat: error: {exc}")
            ctx.exit(EXIT_ERROR)
        except click.UsageError as exc:
            # one line like every other error, not click's three-line usage block
            where = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
            _say(f"bayling-cat: error: {exc.format_message().rstrip('.')}{where}")
            ctx.exit(EXIT_USAGE)
        except OSError as exc:
            # a file system error nothing below turned into a UserError (a full disk, a vanished folder)
            where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
            _say(f"bayling-cat: error: {where}{exc.strerror or exc}")
            ctx.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            _say("bayling-cat: interrupted")
            ctx.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # the reader went away (e.g. `| head`): not an error of ours
            try:
                sys.stdout = open(os.devnull, "w")
            finally:
                ctx.exit(0)


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="bayling-cat")
def cli():
    """bayling-cat: BayLing machine translation for CAT tools, on CTranslate2."""


# Every numeric option has both bounds (a value past what the engines can take crashed them: --threads 99999
# was a segmentation fault in CTranslate2). 512 threads is more than any machine this runs on has cores.
MAX_THREADS = 512


def engine_options(f):
    """Options shared by every command that loads a model."""
    decorators = [
        click.option("--model", "-m", envvar="BAYLING_CAT_MODEL", default=None,
                     help="Converted model folder or name, a .gguf file, or a packaged model: gemma3-270m (the "
                          "default), smollm2 (env BAYLING_CAT_MODEL)."),
        click.option("--engine", envvar="BAYLING_CAT_ENGINE", type=click.Choice(["auto", "ctranslate2", "llamacpp"]),
                     default="auto", show_default=True,
                     help="auto: CTranslate2 on CUDA and for document batches, llama.cpp for interactive use on a "
                          "CPU or Metal (env BAYLING_CAT_ENGINE; see docs/engines.md)."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "metal"]), default="auto",
                     show_default=True, help="metal: Apple GPUs, llama.cpp engine only."),
        click.option("--device-index", type=click.IntRange(0, 63), default=0, show_default=True, help="GPU index."),
        click.option("--compute-type", default="auto", show_default=True,
                     help="CTranslate2 compute type: auto, default, int8, int8_float16, int8_bfloat16, int16, "
                          "float16, bfloat16, float32."),
        click.option("--threads", type=click.IntRange(0, MAX_THREADS), default=0, show_default=True,
                     help="CPU threads per translation (0: half the cores)."),
        click.option("--beam-size", type=click.IntRange(1, 16), default=1, show_default=True),
        click.option("--temperature", type=click.FloatRange(0, 10), default=0.0, show_default=True,
                     help="Sampling temperature (0: greedy or beam search)."),
        click.option("--top-p", type=click.FloatRange(0, 1), default=1.0, show_default=True),
        click.option("--batch-size", type=click.IntRange(1, 4096), default=16, show_default=True),
        click.option("--max-new-tokens", type=click.IntRange(1, 1 << 17), default=1024, show_default=True),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def cluster_options(f):
    """Options of the commands whose model calls can go to a Ray cluster (translate, serve)."""
    decorators = [
        click.option("--cluster", envvar="BAYLING_CAT_CLUSTER", default=None,
                     help="Send the model calls to a Ray cluster: auto (the one this machine belongs to, else a "
                          "local one), local, or ray://HOST:10001 (env BAYLING_CAT_CLUSTER). Needs the 'cluster' extra."),
        click.option("--workers", type=click.IntRange(1, 4096), default=2, show_default=True,
                     help="With --cluster: model actors, each loading the model once."),
        click.option("--gpus-per-worker", type=click.FloatRange(0, 64), default=0, show_default=True,
                     help="With --cluster: GPUs per model actor (0: CPU actors with --threads threads each)."),
        click.option("--ship-model", is_flag=True,
                     help="With --cluster: send the model to the workers through Ray's object store instead of "
                          "reading it from a path every node sees."),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def load_engine(model, engine, device, device_index, compute_type, threads, beam_size, temperature, top_p,
                batch_size, max_new_tokens, inter_threads=1, purpose="batch", cluster=None, workers=2,
                gpus_per_worker=0, ship_model=False, mixed_batches=False):
    """Choose the engine (``purpose``: "batch" for documents, "interactive" for the server and revision),
    say which and why, and load it; with ``cluster``, a pool of CTranslate2 model actors on a Ray cluster."""
    from bayling_cat.engines import ClusterSettings, choose_engine, create_engine
    from bayling_cat.engines.base import DecodingOptions

    decoding = DecodingOptions(beam_size=beam_size, sampling_temperature=temperature, sampling_topp=top_p,
                               sampling_topk=0 if temperature > 0 else 1, max_batch_size=batch_size,
                               max_new_tokens=max_new_tokens, same_length_batches=not mixed_batches)
    settings = ClusterSettings(cluster, workers, gpus_per_worker, ship_model) if cluster else None
    choice = choose_engine(engine, model, device, purpose, beam_size, cluster=settings)
    _say(f"bayling-cat: {choice.describe()}")
    return create_engine(choice, device=device, device_index=device_index, compute_type=compute_type,
                         threads=threads, inter_threads=inter_threads, decoding=decoding, progress=_say,
                         cluster=settings)


def _language(code: str | None, option: str) -> str | None:
    if code is None:
        return None
    try:
        return languages.normalize(code)
    except UserError as exc:
        raise UserError(f"{option}: {exc}") from None


def _output_path(value: str | None, option: str) -> tuple[Path | None, bool]:
    """An -o value as a Path, and whether it was written as a folder (a trailing slash), which Path forgets."""
    if value is None:
        return None, False
    if not value.strip():
        raise UserError(f"{option} is empty: name a file or a folder")
    separators = tuple(sep for sep in ("/", os.sep, os.altsep) if sep)
    return Path(value).expanduser(), value.endswith(separators)


def _file_to_write(value: str | None, option: str, what: str | None = None) -> Path | None:
    """A file the command will write (--report, --tmx): refused now, before any work, if it cannot be."""
    if value is None:
        return None
    path, folder = _output_path(value, option)
    if folder:
        raise UserError(f"{option} {value}: names a folder; give a file name")
    from bayling_cat.fileio import check_writable

    check_writable(path, what or option.lstrip("-"))
    return path


def _memory_file(memory_path):
    """The memory's file (or a postgresql:// URL, as it is), refused now when it cannot be created (a file
    where a folder should be)."""
    from bayling_cat.fileio import check_writable
    from bayling_cat.memory import default_location, is_url

    location = memory_path or default_location()
    if is_url(location):
        return location
    path = Path(location)
    if not path.exists():
        check_writable(path, "memory")
    return path


def _files_to_read(paths) -> None:
    """Glossaries and other whole files read later: a pipe, device, folder or missing file is refused now."""
    from bayling_cat.fileio import check_regular

    for path in paths:
        check_regular(path)


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




def _memory_location(ctx, param, value):
    """A postgresql:// URL as it is, anything else as a file path."""
    from bayling_cat.memory import is_url

    if value is None or is_url(value):
        return value
    path = Path(value).expanduser()
    if path.is_dir():
        raise click.BadParameter(f"'{value}' is a directory; give the memory's file (or a postgresql:// URL)",
                                 ctx=ctx, param=param)
    return path


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
@click.option("--memory", "memory_path", envvar="BAYLING_CAT_MEMORY", default=None, callback=_memory_location,
              help="Translation memory: a SQLite file or a postgresql://user@host/db URL (env BAYLING_CAT_MEMORY; "
                   "default: memory.sqlite in the data folder).")
@click.option("--no-memory", is_flag=True, help="Neither reuse nor store translations.")
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

        output, output_folder = _output_path(output, "--output")
        if output is not None and not output_folder and len(inputs) == 1 and not output.is_dir() \
                and not Path(inputs[0]).is_dir():
            from bayling_cat.fileio import check_writable

            check_writable(output, "output")  # before the model is loaded and the file translated
        report = _file_to_write(report, "--report")
        _files_to_read(glossaries)
        model_id = model_files(engine_kw["model"]).name
        options = dict(mode=mode, overwrite=overwrite, in_place=in_place, output=output, accelerator=accelerator,
                       glossaries=list(glossaries), max_revisions=max_revisions, term_strategy=term_strategy,
                       memory=None if no_memory else _memory_file(memory_path), model_id=model_id,
                       checks=not no_checks, chunk=max(8, engine_kw["batch_size"] * 2), output_folder=output_folder,
                       report=report, fuzzy_threshold=fuzzy_threshold)
        _translate_files(inputs, source_lang, target_lang, report, options, engine_kw)
        return
    if output is not None or report is not None or in_place:
        raise UserError("translating standard input writes to standard output: --output, --report and --in-place "
                        "apply to files")
    if not source_lang or not target_lang:
        raise UserError("translating standard input needs --source-lang and --target-lang")
    source_lang, target_lang = _language(source_lang, "--source-lang"), _language(target_lang, "--target-lang")
    if source_lang == target_lang:
        raise UserError(f"source and target language are both {source_lang}")
    _files_to_read(glossaries)
    from bayling_cat.models import model_files

    options = pipeline_options(source_lang, target_lang, glossaries=list(glossaries), max_revisions=max_revisions,
                               term_strategy=term_strategy, memory=None if no_memory else _memory_file(memory_path),
                               model_id=model_files(engine_kw["model"]).name, checks=not no_checks,
                               chunk=max(8, engine_kw["batch_size"] * 2), fuzzy_threshold=fuzzy_threshold)
    _translate_stdin(options, engine_kw)


def pipeline_options(source_lang, target_lang, **options):
    from bayling_cat import pipeline

    return pipeline.Options(source_lang=_language(source_lang, "--source-lang"),
                            target_lang=_language(target_lang, "--target-lang"), **options)


def _translate_stdin(options, engine_kw) -> None:
    """Standard input as one more source of the file pipeline: each chunk of lines through the same core with
    the same options (memory, glossaries, checks) as a file's segments; a blank line stays blank."""
    from bayling_cat.pipeline import FLAG_TEXT, Pipeline

    run = Pipeline(lambda: load_engine(**engine_kw), options)
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
                _say(f"bayling-cat: warning: line {line_no + i + 1}: {reasons}; review this translation")
        sys.stdout.flush()
        line_no += len(chunk)
    if not started:
        raise UserError("standard input is empty: nothing to translate")
    run.close()
    if flagged:
        _say(f"bayling-cat: {flagged} of {line_no} lines flagged for review")


def _translate_files(inputs, source_lang, target_lang, report_path, options, engine_kw):
    from bayling_cat import pipeline

    options = pipeline_options(source_lang, target_lang, **options)
    run = pipeline.Pipeline(lambda: load_engine(**engine_kw), options, progress_factory=pipeline.progress_bar,
                            say=_say)
    try:
        results = run.run(inputs)
    finally:
        run.close()  # a cluster's actors go, and a Ray instance started here stops
    model = str(run.engine_loaded.path) if run.engine_loaded is not None else "(not loaded: nothing to translate)"
    data = pipeline.report(results, run.seconds, model)
    for r in results:
        if not r.error:
            _say(f"bayling-cat: wrote {r.output}")
    report_written = _write_report(report_path, data)
    _say(pipeline.summary(data))
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
        _say(f"bayling-cat: error: {exc}")
        return False
    _say(f"bayling-cat: report in {path}")
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

    report = _file_to_write(report, "--report")
    _files_to_read(glossaries)
    options = pipeline.Options(source_lang=_language(source_lang, "--source-lang"),
                               target_lang=_language(target_lang, "--target-lang"),
                               glossaries=list(glossaries), report=report)
    results = pipeline.check_files(inputs, options)
    data = pipeline.report(results, 0.0, "(none: terminology check)")
    for r, entry in zip(results, data["files"]):
        if r.error:
            _say(f"bayling-cat: error: {r.error}")
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

    output, output_folder = _output_path(output, "--output")
    if output is not None and (output_folder or output.is_dir()):
        output = output / input_file.name
    if output is not None and same_file(output, input_file):
        output = None  # -o naming the input is the default: in place, with a backup
    if output is not None:
        check_writable(output, "output")
    options = pipeline.Options(source_lang=_language(source_lang, "--source-lang"),
                               target_lang=_language(target_lang, "--target-lang"),
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

    core = Translator(load_engine(**engine_kw, purpose="interactive"))
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
        _say(f"bayling-cat: {changed} revision(s) accepted; wrote {result.output}{backup}")
    elif kept:
        _say("bayling-cat: no target changed; nothing written, the file is unchanged")
    else:
        _say("bayling-cat: nothing accepted; the file is unchanged")


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


def _repeatable_model(f):
    """engine_options' --model, made repeatable: each model is one row of an evaluation."""
    f.__click_params__ = [p for p in f.__click_params__ if p.name != "model"]
    return click.option("--model", "-m", "models", multiple=True, envvar="BAYLING_CAT_MODEL",
                        help="Converted model folder or name (repeatable; default: the packaged Gemma 3 270M model).")(f)


@cli.command()
@click.argument("references", nargs=-1, required=True)
@click.option("--source-lang", "-s", default=None, help="Source language (default: from the files).")
@click.option("--target-lang", "-t", default=None, help="Target language (default: from the files).")
@click.option("--variant", "variants", multiple=True,
              help="One more row per model (repeatable): beam=5, temperature=0.7, glossary, examples, or several "
                   "joined by commas.")
@click.option("--glossary", "-g", "glossaries", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="TBX, CSV or TSV glossary: term success rate and forbidden-term hits for every row, and the "
                   "'glossary' variant.")
@click.option("--sample", type=click.IntRange(1, 10_000_000), default=None, help="Evaluate a random sample of N references.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True, help="Seed of the sample (same seed, same sample).")
@click.option("--with-memory", is_flag=True, help="Add a row for the whole translate pipeline: memory matches and "
              "examples, glossary, retries, checks (the memory is read, never written).")
@click.option("--memory", "memory_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Translation memory for --with-memory and the 'examples' variant (default: the data folder's).")
@click.option("--comet", type=click.Path(path_type=Path), default=None,
              help="A local COMET model (folder or .ckpt): adds COMET; needs the comet extra; never downloads.")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the JSON report: metrics per row and every segment, worst first.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write a self-contained HTML page: summary, chrF histograms, worst segments with diffs.")
@click.option("--worst", type=click.IntRange(1, 100_000), default=20, show_default=True,
              help="Worst segments per row on the HTML page.")
@_repeatable_model
@engine_options
def evaluate(references, source_lang, target_lang, variants, glossaries, sample, seed, with_memory, memory_path,
             comet, report, html_path, worst, models, **engine_kw):
    """Score models on approved translations: TMX, approved/final/confirmed XLIFF targets, non-fuzzy PO entries,
    or plain-text pairs (SOURCE.txt REFERENCE.txt, one segment a line, with -s and -t)."""
    from bayling_cat import evaluate as evaluation
    from bayling_cat.fileio import check_distinct
    from bayling_cat.pipeline import progress_bar

    # the reports must never replace a reference, a glossary, the memory, or each other
    report = _file_to_write(str(report), "--report") if report is not None else None
    html_path = _file_to_write(str(html_path), "--html", "HTML report") if html_path is not None else None
    reads = [(f"the reference {r}", Path(r)) for r in references if Path(r).is_file()]
    reads += [(f"the glossary {g}", Path(g)) for g in glossaries]
    if memory_path is not None:
        reads += [(f"the memory {memory_path}", Path(f"{memory_path}{end}")) for end in ("", "-wal", "-shm")]
    check_distinct([(role, p) for role, p in (("the report", report), ("the HTML report", html_path)) if p], reads)
    settings = evaluation.Settings(list(references), list(models) or [None], list(variants), source_lang,
                                   target_lang, list(glossaries), sample, seed, with_memory, memory_path, comet)
    data = evaluation.evaluate(settings, lambda model: load_engine(model=model, **engine_kw), say=_say,
                               progress_factory=progress_bar)
    click.echo(evaluation.table(data))
    if report is not None:
        evaluation.write_json(report, data)
        _say(f"bayling-cat: report in {report}")
    if html_path is not None:
        evaluation.write_html(html_path, data, worst)
        _say(f"bayling-cat: HTML report in {html_path}")


@cli.group()
def memory():
    """The translation memory: import human translations, export, statistics, copy between backends."""


def _memory_option(f):
    return click.option("--memory", "memory_path", envvar="BAYLING_CAT_MEMORY", default=None,
                        callback=_memory_location,
                        help="A SQLite file or a postgresql://user@host/db URL (env BAYLING_CAT_MEMORY; default: "
                             "memory.sqlite in the data folder).")(f)


def _open_memory(location):
    from bayling_cat.memory import default_path, open_memory

    return open_memory(location or default_path())


def _byte_bar(total: int):
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, desc="importing", file=sys.stderr, dynamic_ncols=True)


@memory.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--source-lang", "-s", default=None)
@click.option("--target-lang", "-t", default=None)
@click.option("--strict", is_flag=True, help="Stop at the first unit that cannot be imported (default: name it, "
              "skip it and import every other unit).")
@_memory_option
def memory_import(files, source_lang, target_lang, strict, memory_path):
    """Load human translations from TMX, and approved/confirmed XLIFF and non-fuzzy PO entries; they win over
    machine translations."""
    from bayling_cat.fileio import check_regular, same_file
    from bayling_cat.memory import import_files, is_url

    mem = _open_memory(_memory_file(memory_path))
    source_lang = _language(source_lang, "--source-lang")
    target_lang = _language(target_lang, "--target-lang")
    skipped = []

    def warn(message):
        skipped.append(message)
        _say(f"bayling-cat: warning: {message}")

    count = failed = 0
    for f in files:  # one line per file that cannot be imported; the others still are (not with --strict)
        try:
            if not is_url(mem.location) and same_file(f, mem.location):
                raise UserError(f"{f}: this is the memory itself")
            check_regular(f)
            count += import_files(mem, [f], source_lang, target_lang, strict=strict, warn=warn, progress=_byte_bar)
        except UserError as exc:
            _say(f"bayling-cat: error: {exc}")
            failed += 1
            if strict:
                break
    click.echo(f"imported {count} translation units into {mem.location}"
               + (f"; {len(skipped)} units skipped (named above)" if skipped else "")
               + (f"; {failed} file{'s' if failed != 1 else ''} failed" if failed else ""))
    if failed:
        raise click.exceptions.Exit(EXIT_ERROR)


@memory.command("export")
@click.option("--tmx", "tmx_path", required=True, help="The TMX file to write.")
@click.option("--origin", type=click.Choice(["human", "mt"]), default=None, help="Only these units.")
@_memory_option
def memory_export(tmx_path, origin, memory_path):
    """Write the memory (or its human or machine part) as TMX; machine translations flagged for review are
    left out."""
    from bayling_cat.fileio import check_distinct
    from bayling_cat.memory import export_tmx, is_url

    tmx_path = _file_to_write(tmx_path, "--tmx", "TMX file")
    location = _memory_file(memory_path)
    if not is_url(location):
        check_distinct([("the TMX export", tmx_path)],
                       [(f"the memory {location}", Path(f"{location}{end}")) for end in ("", "-wal", "-shm")])
    mem = _open_memory(location)
    count = export_tmx(mem, tmx_path, origin)
    flagged = sum(p["flagged"] for p in mem.stats()["pairs"] if origin in (None, p["origin"]))
    click.echo(f"exported {count} translation units to {tmx_path}"
               + (f"; {flagged} machine translations flagged for review were left out" if flagged else ""))


@memory.command("stats")
@_memory_option
def memory_stats(memory_path):
    """Units per language pair and origin; flagged ones are machine translations marked for review, which
    exports leave out."""
    stats = _open_memory(_memory_file(memory_path)).stats()
    click.echo(f"{stats['location']}: {stats['units']} units"
               + (f" ({stats['flagged']} flagged for review, left out of exports)" if stats["flagged"] else ""))
    for p in stats["pairs"]:
        click.echo(f"  {p['source_lang']} -> {p['target_lang']}  {p['origin']:5}  {p['units']}"
                   + (f"  ({p['flagged']} flagged)" if p["flagged"] else ""))


@memory.command("copy")
@click.argument("source", callback=_memory_location)
@click.argument("destination", callback=_memory_location)
def memory_copy(source, destination):
    """Copy every unit of the memory SOURCE into DESTINATION (a file or a postgresql:// URL each), e.g. a
    SQLite memory into PostgreSQL when a team grows. Units DESTINATION already holds are not duplicated."""
    from bayling_cat.memory import copy_memory

    src, dst = _open_memory(source), _open_memory(destination)
    if src.location == dst.location:
        raise UserError(f"{src.location}: source and destination are the same memory")
    count = copy_memory(src, dst)
    click.echo(f"copied {count} translation units from {src.location} to {dst.location}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(0, 65535), default=5000, show_default=True)
@click.option("--glossary", "-g", "glossaries", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Glossaries applied to every request of their language pair (repeatable).")
@click.option("--api-key", envvar="BAYLING_CAT_API_KEY", default=None,
              help="Require this key on every route (env BAYLING_CAT_API_KEY); needed to bind a non-loopback address.")
@click.option("--max-batch", type=click.IntRange(1, 256), default=32, show_default=True,
              help="Most segments translated in one engine call.")
@click.option("--batch-window", type=click.FloatRange(0, 1), default=0.02, show_default=True,
              help="Seconds a request waits for others to join its batch.")
@click.option("--max-queue", type=click.IntRange(1, 1_000_000), default=1024, show_default=True,
              help="Segments allowed to wait; beyond that the server answers 503 with Retry-After.")
@click.option("--http-threads", "server_threads", type=click.IntRange(1, 256), default=16, show_default=True,
              help="HTTP worker threads.")
@click.option("--cors", default=None, help="Allow browser requests from this origin (off by default).")
@click.option("--parallel", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Batches translated at once (0: CPU cores / --threads; 1 on a GPU).")
@click.option("--job-ttl", type=click.FloatRange(1, 30 * 86400), default=3600, show_default=True,
              help="Seconds a translated document (upload and result) is kept after its job ends.")
@click.option("--mixed-batches", is_flag=True,
              help="Batch segments of different lengths together: more throughput, but a segment's translation "
                   "may then depend on the other requests it is batched with.")
@click.option("--documents", "documents_dir", type=click.Path(path_type=Path, file_okay=False, exists=True),
              default=None, help="A folder whose documents the workbench page (/) offers to open and review.")
@click.option("--memory", "memory_path", envvar="BAYLING_CAT_MEMORY", default=None, callback=_memory_location,
              help="Translation memory (a SQLite file or a postgresql:// URL; env BAYLING_CAT_MEMORY; default: "
                   "memory.sqlite in the data folder), as translate uses it: every protocol and the workbench reuse "
                   "its exact matches, give its fuzzy ones to the model, store machine translations; /v1/translate "
                   "and the workbench show its matches.")
@click.option("--no-memory", is_flag=True, help="Neither reuse nor store translations.")
@click.option("--fuzzy-threshold", type=click.IntRange(1, 100), default=75, show_default=True,
              help="Least fuzzy match percentage shown.")
@click.option("--keyless", default=None, metavar="PROTOCOLS",
              help="With --api-key, let these protocols in without a key (apertium,libretranslate: clients that "
                   "cannot send one); loopback addresses only.")
@engine_options
@cluster_options
def serve(host, port, glossaries, api_key, max_batch, batch_window, max_queue, server_threads, cors, parallel,
          job_ttl, mixed_batches, documents_dir, memory_path, no_memory, fuzzy_threshold, keyless, **engine_kw):
    """Serve the model over HTTP for CAT tools: bayling-cat's API (/v1), OpenAI chat completions, LibreTranslate,
    Apertium and DeepL, and the translator's workbench (a review grid) at /."""
    from bayling_cat.glossary import check_file
    from bayling_cat.server import check_host, create_app, is_loopback
    from bayling_cat.server import serve as run_server

    check_host(host, port)
    from bayling_cat.server import keyless as keyless_mod

    keyless = keyless_mod.parse(keyless)
    keyless_mod.check(host, keyless, is_loopback(host))
    if not is_loopback(host) and not api_key:
        raise UserError(f"binding {host} exposes the server beyond this machine: set --api-key (or "
                        "BAYLING_CAT_API_KEY), or bind 127.0.0.1")
    _files_to_read(glossaries)  # a pipe or a device would block the server's first request
    for path in glossaries:  # fail now, not on the first request
        check_file(path)
    from bayling_cat.engines.base import auto_threads, cpu_cores

    cores = cpu_cores()
    per_batch = engine_kw["threads"] or auto_threads()
    # as many batches at once as the cores allow: concurrent clients keep every core busy
    if not parallel:
        parallel = max(1, cores // per_batch) if engine_kw["device"] != "cuda" else 1
    # one memory for every protocol and the workbench, as translate has: --memory (opened now: a bad one fails
    # here, not on a request), else the user's, opened when first needed
    memory = _open_memory(memory_path) if memory_path and not no_memory else None
    location = None if no_memory or memory_path else _memory_file(None)
    engine = load_engine(**engine_kw, inter_threads=parallel, purpose="interactive")
    _say(startup_line(engine))
    from bayling_cat.models import home
    from bayling_cat.server.workbench import Workbench

    bench = Workbench(documents=documents_dir, uploads=home() / "workbench" / "uploads",
                      loopback_only=is_loopback(host))
    app = create_app(engine, glossaries, api_key=api_key, max_batch=max_batch, window=batch_window,
                     max_pending=max_queue, cors=cors, job_ttl=job_ttl, same_length_batches=not mixed_batches,
                     workbench=bench, memory=memory, memory_location=location, fuzzy_threshold=fuzzy_threshold,
                     keyless=keyless)
    run_server(app, host, port, threads=server_threads, say=_say)


@cli.command()
@click.argument("input_file", metavar="FILE", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--source-lang", "-s", default=None, help="Source language code (default: from the file).")
@click.option("--target-lang", "-t", default=None, help="Target language code (default: from the file).")
@click.option("--glossary", "-g", "glossaries", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Glossary (TBX, CSV, TSV) for translation and live term checks (repeatable).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Save to this file (default: into FILE itself, keeping FILE.bak).")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
@click.option("--no-browser", is_flag=True, help="Print the address only; do not open a browser.")
@click.option("--memory", "memory_path", envvar="BAYLING_CAT_MEMORY", default=None, callback=_memory_location,
              help="Translation memory (a SQLite file or a postgresql:// URL; env BAYLING_CAT_MEMORY): its matches "
                   "are listed per segment, exact ones reused first, confirmed segments go into it (default: "
                   "memory.sqlite in the data folder).")
@click.option("--no-memory", is_flag=True, help="Neither reuse nor store translations.")
@click.option("--fuzzy-threshold", type=click.IntRange(1, 100), default=75, show_default=True,
              help="Least fuzzy match percentage listed.")
@engine_options
def review(input_file, source_lang, target_lang, glossaries, output, port, no_browser, memory_path, no_memory,
           fuzzy_threshold, **engine_kw):
    """Review and revise FILE in the browser: a grid of segments with machine translation, glossary
    feedback, revision turns, predictive typing and confirmation. Every edit is kept as it is made."""
    from bayling_cat.connectors import open_document
    from bayling_cat.glossary import check_file
    from bayling_cat.memory import default_path
    from bayling_cat.server import create_app
    from bayling_cat.server import serve as run_server
    from bayling_cat.server.workbench import Workbench

    open_document(input_file)  # a file that cannot be read fails now, before the model loads
    for path in glossaries:
        check_file(path)
    if output is not None and output.resolve() == input_file.resolve():
        output = None
    engine = load_engine(**engine_kw)
    _say(startup_line(engine))
    memory = None if no_memory else _open_memory(_memory_file(memory_path))  # fails now, not in the page
    bench = Workbench(review=input_file, output=output, source_lang=source_lang, target_lang=target_lang)
    app = create_app(engine, glossaries, workbench=bench, memory=memory, fuzzy_threshold=fuzzy_threshold)

    def ready(url):
        _say(f"bayling-cat: reviewing {input_file}: open {url} (Ctrl-C to stop; edits are kept as you make them)")
        if not no_browser:
            import webbrowser

            try:
                webbrowser.get().open(url)
            except webbrowser.Error:
                pass  # no browser here: the address above is enough

    try:
        run_server(app, "127.0.0.1", port, say=_say, on_ready=ready)
    except OSError as exc:  # the port is taken, or not ours to bind
        raise UserError(f"127.0.0.1:{port}: cannot listen ({exc.strerror or exc}); choose another --port") from None


@cli.command()
@click.argument("source")
@click.option("--output", "-o", "output", required=True, type=click.Path(file_okay=False),
              help="Folder to write the model into.")
@click.option("--format", "fmt", type=click.Choice(["ctranslate2", "gguf"]), default="ctranslate2", show_default=True,
              help="ctranslate2: a CTranslate2 folder; gguf: one GGUF file in the folder, for --engine llamacpp.")
@click.option("--quantization", "-q", default=None,
              type=click.Choice(["int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                                 "bfloat16", "float32", "q4_k_m", "q5_k_m", "q8_0", "f16"]),
              help="CTranslate2: int8 (default) ... float32; GGUF: q4_k_m (default), q5_k_m, q8_0, f16.")
@click.option("--template", type=click.Choice(["bayling", "bayling-llama3", "chat", "fewshot"]), default=None,
              help="Prompt template (default: chosen from the model; fewshot: a base model).")
@click.option("--base", default=None, help="For a BayLing-1 delta: the original LLaMA-1 weights (folder or hub id).")
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option("--name", default=None, hidden=True)
def convert(source, output, fmt, quantization, template, base, force, name):
    """Convert SOURCE (hub id, checkpoint folder, .gguf file or BayLing-1 delta) to a CTranslate2 model, or with
    --format gguf to a GGUF file for the llama.cpp engine."""
    from bayling_cat.convert import convert as run_conversion

    gguf_types = ("q4_k_m", "q5_k_m", "q8_0", "f16")
    if quantization is None:
        quantization = "q4_k_m" if fmt == "gguf" else "int8"
    elif (fmt == "gguf") != (quantization in gguf_types):
        raise UserError(f"--quantization {quantization} is not a {fmt} quantization (gguf: {', '.join(gguf_types)}; "
                        "ctranslate2: int8 ... float32)")
    started = time.monotonic()
    info = run_conversion(source, output, quantization=quantization, template=template, base=base, force=force,
                          name=name, progress=lambda m: _say(f"bayling-cat: {m}"), fmt=fmt)
    _say(f"bayling-cat: converted {source} in {time.monotonic() - started:.0f} s: template {info.template}, "
         f"{info.quantization}, end tokens {', '.join(info.end_tokens)}")
    click.echo(os.path.abspath(output))


@cli.command()
def models():
    """List the default model, converted models, and the BayLing models you can convert."""
    from bayling_cat.modelinfo import folder_size
    from bayling_cat.models import (KNOWN_MODELS, cached_ggufs, cached_models, default_gguf, default_model_dir,
                                    models_dir)

    from bayling_cat.models import DEFAULT, PACKAGED

    packaged = []
    for model in PACKAGED.values():
        default_dir, gguf = default_model_dir(model), default_gguf(model)
        if (default_dir / "bayling_cat.json").is_file():
            state = f"converted: {default_dir}"
        elif gguf:
            state = f"not converted yet (converted on first use from {gguf})"
        else:
            state = f"not installed: {model.install}"
        click.echo(f"{'Default model' if model is DEFAULT else 'Packaged model'}: {model.title}, "
                   f"--model {model.key} ({model.licence})")
        click.echo(f"  {state}")
        packaged += [(model, gguf)] if gguf else []
    click.echo(f"\nConverted models in {models_dir()}:")
    found = cached_models()
    if not found:
        click.echo("  (none)")
    for folder, info in found:
        size = folder_size(folder) / 1e9
        click.echo(f"  {folder.name:<32} {info.template:<15} {info.quantization:<14} {size:6.2f} GB  "
                   f"from {info.source}")
    ggufs = cached_ggufs()
    if packaged or ggufs:
        click.echo("\nGGUF models for the llama.cpp engine (--engine llamacpp; no conversion needed):")
    for model, gguf in packaged:
        click.echo(f"  {'(' + model.key + ') ' + gguf.name:<42} {gguf.stat().st_size / 1e9:6.2f} GB  {gguf}")
    for path in ggufs:
        click.echo(f"  {path.parent.name if path.parent != models_dir() else path.stem:<42} "
                   f"{path.stat().st_size / 1e9:6.2f} GB  {path}")
    click.echo("\nBayLing models to convert (bayling-cat convert HUB_ID -o DIR [--format gguf]):")
    click.echo(f"  {'hub id':<30} {'download':>9} {'int8 disk':>10} {'GPU int8':>9} {'GPU fp16':>9}  template")
    for m in KNOWN_MODELS:
        click.echo(f"  {m.hub_id:<30} {m.download_gb:>7.1f}GB {m.int8_disk_gb:>8.1f}GB {m.gpu_gb_int8:>7}GB "
                   f"{m.gpu_gb_fp16:>7}GB  {m.template}" + (f"  (needs {m.needs})" if m.needs else ""))


def main():
    cli(prog_name="bayling-cat")
