"""``evaluate``: models and options scored on a translator's own approved work."""

from __future__ import annotations

from pathlib import Path

import click

from bayling_cat.cli import options as opts
from bayling_cat.cli.base import cli, say
from bayling_cat.cli.options import engine_options, file_to_write, memory_option, repeatable_model

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
@memory_option(what="Translation memory for --with-memory and the 'examples' variant (read, never written).")
@click.option("--comet", type=click.Path(path_type=Path), default=None,
              help="A local COMET model (folder or .ckpt): adds COMET; needs the comet extra; never downloads.")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the JSON report: metrics per row and every segment, worst first.")
@click.option("--html", "html_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write a self-contained HTML page: summary, chrF histograms, worst segments with diffs.")
@click.option("--worst", type=click.IntRange(1, 100_000), default=20, show_default=True,
              help="Worst segments per row on the HTML page.")
@repeatable_model
@engine_options
def evaluate(references, source_lang, target_lang, variants, glossaries, sample, seed, with_memory, memory_path,
             comet, report, html_path, worst, models, **engine_kw):
    """Score models on approved translations: TMX, approved/final/confirmed XLIFF targets, non-fuzzy PO entries,
    or plain-text pairs (SOURCE.txt REFERENCE.txt, one segment a line, with -s and -t)."""
    from bayling_cat import evaluate as evaluation
    from bayling_cat.fileio import check_distinct
    from bayling_cat.pipeline import progress_bar

    # the reports must never replace a reference, a glossary, the memory, or each other
    report = file_to_write(str(report), "--report") if report is not None else None
    html_path = file_to_write(str(html_path), "--html", "HTML report") if html_path is not None else None
    reads = [(f"the reference {r}", Path(r)) for r in references if Path(r).is_file()]
    reads += [(f"the glossary {g}", Path(g)) for g in glossaries]
    if memory_path is not None:
        reads += [(f"the memory {memory_path}", Path(f"{memory_path}{end}")) for end in ("", "-wal", "-shm")]
    check_distinct([(role, p) for role, p in (("the report", report), ("the HTML report", html_path)) if p], reads)
    settings = evaluation.Settings(list(references), list(models) or [None], list(variants), source_lang,
                                   target_lang, list(glossaries), sample, seed, with_memory, memory_path, comet)
    data = evaluation.evaluate(settings, lambda model: opts.load_engine(model=model, **engine_kw), say=say,
                               progress_factory=progress_bar)
    click.echo(evaluation.table(data))
    if report is not None:
        evaluation.write_json(report, data)
        say(f"bayling-cat: report in {report}")
    if html_path is not None:
        evaluation.write_html(html_path, data, worst)
        say(f"bayling-cat: HTML report in {html_path}")


