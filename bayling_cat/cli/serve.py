"""``serve`` (the REST hook for CAT tools and the workbench) and ``review`` (one file in the workbench)."""

from __future__ import annotations

from pathlib import Path

import click

from bayling_cat.cli import options as opts
from bayling_cat.cli.base import cli, say
from bayling_cat.cli.options import (cluster_options, engine_options, files_to_read, memory_file, memory_option,
                                     open_memory_at)
from bayling_cat.errors import UserError
from bayling_cat.sessions import startup_line

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
@memory_option(what="Translation memory, as translate uses it: every protocol and the workbench reuse its "
                    "exact matches, give its fuzzy ones to the model, store machine translations; /v1/translate "
                    "and the workbench show its matches.", no_memory="Neither reuse nor store translations.")
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
    files_to_read(glossaries)  # a pipe or a device would block the server's first request
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
    memory = open_memory_at(memory_path) if memory_path and not no_memory else None
    location = None if no_memory or memory_path else memory_file(None)
    engine = opts.load_engine(**engine_kw, inter_threads=parallel, purpose="interactive")
    say(startup_line(engine))
    from bayling_cat.models import home
    from bayling_cat.server.workbench import Workbench

    bench = Workbench(documents=documents_dir, uploads=home() / "workbench" / "uploads",
                      loopback_only=is_loopback(host))
    app = create_app(engine, glossaries, api_key=api_key, max_batch=max_batch, window=batch_window,
                     max_pending=max_queue, cors=cors, job_ttl=job_ttl, same_length_batches=not mixed_batches,
                     workbench=bench, memory=memory, memory_location=location, fuzzy_threshold=fuzzy_threshold,
                     keyless=keyless)
    run_server(app, host, port, threads=server_threads, say=say)


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
@memory_option(what="Translation memory: its matches are listed per segment, exact ones reused first, "
                    "confirmed segments go into it.", no_memory="Neither reuse nor store translations.")
@click.option("--fuzzy-threshold", type=click.IntRange(1, 100), default=75, show_default=True,
              help="Least fuzzy match percentage listed.")
@engine_options
def review(input_file, source_lang, target_lang, glossaries, output, port, no_browser, memory_path, no_memory,
           fuzzy_threshold, **engine_kw):
    """Review and revise FILE in the browser: a grid of segments with machine translation, glossary
    feedback, revision turns, predictive typing and confirmation. Every edit is kept as it is made."""
    from bayling_cat.connectors import open_document
    from bayling_cat.glossary import check_file
    from bayling_cat.server import create_app
    from bayling_cat.server import serve as run_server
    from bayling_cat.server.workbench import Workbench

    open_document(input_file)  # a file that cannot be read fails now, before the model loads
    for path in glossaries:
        check_file(path)
    if output is not None and output.resolve() == input_file.resolve():
        output = None
    engine = opts.load_engine(**engine_kw)
    say(startup_line(engine))
    memory = None if no_memory else open_memory_at(memory_file(memory_path))  # fails now, not in the page
    bench = Workbench(review=input_file, output=output, source_lang=source_lang, target_lang=target_lang)
    app = create_app(engine, glossaries, workbench=bench, memory=memory, fuzzy_threshold=fuzzy_threshold)

    def ready(url):
        say(f"bayling-cat: reviewing {input_file}: open {url} (Ctrl-C to stop; edits are kept as you make them)")
        if not no_browser:
            import webbrowser

            try:
                webbrowser.get().open(url)
            except webbrowser.Error:
                pass  # no browser here: the address above is enough

    try:
        run_server(app, "127.0.0.1", port, say=say, on_ready=ready)
    except OSError as exc:  # the port is taken, or not ours to bind
        raise UserError(f"127.0.0.1:{port}: cannot listen ({exc.strerror or exc}); choose another --port") from None


