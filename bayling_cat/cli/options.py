"""Options and checks the commands share: the engine's options (one definition), the cluster's, the memory's
(``--memory`` defined once, here), and the checks every path or language option gets before any work."""

from __future__ import annotations

import os
from pathlib import Path

import click

from bayling_cat import languages
from bayling_cat.cli.base import say
from bayling_cat.errors import UserError

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
    say(f"bayling-cat: {choice.describe()}")
    return create_engine(choice, device=device, device_index=device_index, compute_type=compute_type,
                         threads=threads, inter_threads=inter_threads, decoding=decoding, progress=say,
                         cluster=settings)


def language(code: str | None, option: str) -> str | None:
    if code is None:
        return None
    try:
        return languages.normalize(code)
    except UserError as exc:
        raise UserError(f"{option}: {exc}") from None


def output_path(value: str | None, option: str) -> tuple[Path | None, bool]:
    """An -o value as a Path, and whether it was written as a folder (a trailing slash), which Path forgets."""
    if value is None:
        return None, False
    if not value.strip():
        raise UserError(f"{option} is empty: name a file or a folder")
    separators = tuple(sep for sep in ("/", os.sep, os.altsep) if sep)
    return Path(value).expanduser(), value.endswith(separators)


def file_to_write(value: str | None, option: str, what: str | None = None) -> Path | None:
    """A file the command will write (--report, --tmx): refused now, before any work, if it cannot be."""
    if value is None:
        return None
    path, folder = output_path(value, option)
    if folder:
        raise UserError(f"{option} {value}: names a folder; give a file name")
    from bayling_cat.fileio import check_writable

    check_writable(path, what or option.lstrip("-"))
    return path


def memory_file(memory_path):
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


def files_to_read(paths) -> None:
    """Glossaries and other whole files read later: a pipe, device, folder or missing file is refused now."""
    from bayling_cat.fileio import check_regular

    for path in paths:
        check_regular(path)



def memory_location(ctx, param, value):
    """A postgresql:// URL as it is, anything else as a file path."""
    from bayling_cat.memory import is_url

    if value is None or is_url(value):
        return value
    path = Path(value).expanduser()
    if path.is_dir():
        raise click.BadParameter(f"'{value}' is a directory; give the memory's file (or a postgresql:// URL)",
                                 ctx=ctx, param=param)
    return path



def repeatable_model(f):
    """engine_options' --model, made repeatable: each model is one row of an evaluation."""
    f.__click_params__ = [p for p in f.__click_params__ if p.name != "model"]
    return click.option("--model", "-m", "models", multiple=True, envvar="BAYLING_CAT_MODEL",
                        help="Converted model folder or name (repeatable; default: the packaged Gemma 3 270M model).")(f)



MEMORY_HELP = ("A SQLite file or a postgresql://user@host/db URL (env BAYLING_CAT_MEMORY; default: memory.sqlite in "
               "the data folder).")


def memory_option(f=None, *, what: str = "", no_memory: str | None = None):
    """``--memory`` (every command's, defined here once): a SQLite file or a postgresql:// URL, env
    BAYLING_CAT_MEMORY; ``what`` says what the command does with it; ``no_memory``, when given, adds
    ``--no-memory`` with that help."""
    def decorate(g):
        if no_memory is not None:
            g = click.option("--no-memory", is_flag=True, help=no_memory)(g)
        return click.option("--memory", "memory_path", envvar="BAYLING_CAT_MEMORY", default=None,
                            callback=memory_location, help=(what + " " if what else "") + MEMORY_HELP)(g)

    return decorate(f) if f is not None else decorate


def open_memory_at(location):
    from bayling_cat.memory import default_path, open_memory

    return open_memory(location or default_path())


