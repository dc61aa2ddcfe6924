"""``memory``: import human translations, export, statistics, copy between backends."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bayling_cat.cli.base import EXIT_ERROR, cli, say
from bayling_cat.cli.options import (file_to_write, language, memory_file, memory_location, memory_option,
                                     open_memory_at)
from bayling_cat.errors import UserError

@cli.group()
def memory():
    """The translation memory: import human translations, export, statistics, copy between backends."""



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
@memory_option
def memory_import(files, source_lang, target_lang, strict, memory_path):
    """Load human translations from TMX, and approved/confirmed XLIFF and non-fuzzy PO entries; they win over
    machine translations."""
    from bayling_cat.fileio import check_regular, same_file
    from bayling_cat.memory import import_files, is_url

    mem = open_memory_at(memory_file(memory_path))
    source_lang = language(source_lang, "--source-lang")
    target_lang = language(target_lang, "--target-lang")
    skipped = []

    def warn(message):
        skipped.append(message)
        say(f"bayling-cat: warning: {message}")

    count = failed = 0
    for f in files:  # one line per file that cannot be imported; the others still are (not with --strict)
        try:
            if not is_url(mem.location) and same_file(f, mem.location):
                raise UserError(f"{f}: this is the memory itself")
            check_regular(f)
            count += import_files(mem, [f], source_lang, target_lang, strict=strict, warn=warn, progress=_byte_bar)
        except UserError as exc:
            say(f"bayling-cat: error: {exc}")
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
@memory_option
def memory_export(tmx_path, origin, memory_path):
    """Write the memory (or its human or machine part) as TMX; machine translations flagged for review are
    left out."""
    from bayling_cat.fileio import check_distinct
    from bayling_cat.memory import export_tmx, is_url

    tmx_path = file_to_write(tmx_path, "--tmx", "TMX file")
    location = memory_file(memory_path)
    if not is_url(location):
        check_distinct([("the TMX export", tmx_path)],
                       [(f"the memory {location}", Path(f"{location}{end}")) for end in ("", "-wal", "-shm")])
    mem = open_memory_at(location)
    count = export_tmx(mem, tmx_path, origin)
    flagged = sum(p["flagged"] for p in mem.stats()["pairs"] if origin in (None, p["origin"]))
    click.echo(f"exported {count} translation units to {tmx_path}"
               + (f"; {flagged} machine translations flagged for review were left out" if flagged else ""))


@memory.command("stats")
@memory_option
def memory_stats(memory_path):
    """Units per language pair and origin; flagged ones are machine translations marked for review, which
    exports leave out."""
    stats = open_memory_at(memory_file(memory_path)).stats()
    click.echo(f"{stats['location']}: {stats['units']} units"
               + (f" ({stats['flagged']} flagged for review, left out of exports)" if stats["flagged"] else ""))
    for p in stats["pairs"]:
        click.echo(f"  {p['source_lang']} -> {p['target_lang']}  {p['origin']:5}  {p['units']}"
                   + (f"  ({p['flagged']} flagged)" if p["flagged"] else ""))


@memory.command("copy")
@click.argument("source", callback=memory_location)
@click.argument("destination", callback=memory_location)
def memory_copy(source, destination):
    """Copy every unit of the memory SOURCE into DESTINATION (a file or a postgresql:// URL each), e.g. a
    SQLite memory into PostgreSQL when a team grows. Units DESTINATION already holds are not duplicated."""
    from bayling_cat.memory import copy_memory

    src, dst = open_memory_at(source), open_memory_at(destination)
    if src.location == dst.location:
        raise UserError(f"{src.location}: source and destination are the same memory")
    count = copy_memory(src, dst)
    click.echo(f"copied {count} translation units from {src.location} to {dst.location}")


