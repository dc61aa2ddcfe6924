"""``adapt``: LoRA fine-tuning of the model on the translator's approved work (bayling_cat/adapt)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bayling_cat.cli.base import EXIT_INTERRUPTED, cli, say
from bayling_cat.cli.options import file_to_write, memory_location, output_path
from bayling_cat.errors import UserError


def progress_bar(total: int, desc: str, initial: int = 0):
    """tqdm with its ETA on a terminal; nothing when standard error is not one."""
    if not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="step" if desc == "training" else "seg", desc=desc,
                file=sys.stderr, dynamic_ncols=True)


@cli.command()
@click.argument("references", nargs=-1)
@click.option("--source-lang", "-s", default=None, help="Source language (default: from the files).")
@click.option("--target-lang", "-t", default=None, help="Target language (default: from the files).")
@click.option("--output", "-o", "output", required=True, help="The adapted model's folder (loads with --model DIR).")
@click.option("--base", default=None, help="The model to adapt: a packaged model (default: the default model) or a "
                                            "converted folder whose original weights are on disk.")
@click.option("--memory", "memory_path", default=None, callback=memory_location,
              help="Learn from this memory's human translations too (a SQLite file or a postgresql:// URL).")
@click.option("--glossary", "-g", "glossaries", multiple=True, type=click.Path(path_type=Path, dir_okay=False),
              help="Train with this glossary's terms in the prompts, as translate shows them (use it at run time too).")
@click.option("--epochs", type=click.FloatRange(0.05, 50), default=2.0, show_default=True,
              help="Passes over the training pairs (fractions allowed).")
@click.option("--max-steps", type=click.IntRange(1, 10_000_000), default=None,
              help="Stop after this many optimizer steps (a quick trial).")
@click.option("--held-out", type=click.IntRange(1, 1_000_000), default=None,
              help="Pairs set aside to score the model before and after [default: 5 %, but a tenth up to 50].")
@click.option("--format", "fmt", type=click.Choice(["ctranslate2", "gguf", "both"]), default="both",
              show_default=True, help="What the folder holds: CTranslate2, a GGUF file for llama.cpp, or both.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True,
              help="Where training runs (auto: a CUDA GPU when torch sees one).")
@click.option("--learning-rate", type=click.FloatRange(1e-6, 1e-2), default=3e-4, show_default=True)
@click.option("--rank", type=click.IntRange(1, 256), default=16, show_default=True, help="LoRA rank.")
@click.option("--seed", type=click.IntRange(0, 2**32 - 1), default=1, show_default=True,
              help="Seed of the held-out draw, the batch order and the LoRA weights.")
@click.option("--report", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Write the JSON report: data, options, held-out scores before and after, sample translations.")
@click.option("--force", is_flag=True, help="Write the model even if it scored lower than the base, and replace an "
                                            "existing output folder.")
def adapt(references, source_lang, target_lang, output, base, memory_path, glossaries, epochs, max_steps, held_out,
          fmt, device, learning_rate, rank, seed, report, force):
    """Fine-tune the model on approved translations (TMX, approved XLIFF, non-fuzzy PO, --memory): LoRA on the
    prompts translate uses, scored on held-out pairs before and after, written for both engines (docs/adapt.md).
    Ctrl-C keeps a checkpoint: the same command again resumes."""
    from bayling_cat.adapt import Settings, Stopped, adapt as run
    from bayling_cat.adapt.train import TrainOptions

    if not references and memory_path is None:
        raise UserError("nothing to learn from: name TMX, XLIFF or PO files, or --memory")
    folder, _ = output_path(output, "--output")
    report = file_to_write(str(report), "--report") if report is not None else None
    if report is not None:  # the report never replaces a reference, a glossary or the memory
        from bayling_cat.fileio import check_distinct

        reads = [(f"the reference {r}", Path(r)) for r in references if Path(r).is_file()]
        reads += [(f"the glossary {g}", Path(g)) for g in glossaries]
        if memory_path is not None:
            reads += [(f"the memory {memory_path}", Path(f"{memory_path}{end}")) for end in ("", "-wal", "-shm")]
        check_distinct([("the report", report)], reads)
    options = TrainOptions(epochs=epochs, max_steps=max_steps, learning_rate=learning_rate, rank=rank,
                           alpha=2 * rank, seed=seed)
    settings = Settings(list(references), folder, source_lang, target_lang, base, memory_path, list(glossaries),
                        held_out, fmt, device, force, report, train=options)
    try:
        result = run(settings, say=say, progress_factory=progress_bar)
    except Stopped as exc:
        say(f"bayling-cat: {exc}")
        raise click.exceptions.Exit(EXIT_INTERRUPTED) from None
    except ImportError as exc:
        raise UserError(f"adapt needs torch, transformers and peft: pip install 'bayling-cat[adapt]' ({exc.name} "
                        "is missing)") from None
    except (UserError, OSError, KeyboardInterrupt):
        raise
    except Exception as exc:  # noqa: BLE001 - torch, safetensors or CUDA (out of memory) failing deep down
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise UserError(f"adapt failed ({type(exc).__name__}: {first}); nothing was written to {folder}") from None
    before, after = result["before"], result["after"]
    say(f"bayling-cat: adapted model in {result['output']} (--model {result['output']}): held-out chrF++ "
        f"{before['chrf++']:.1f} -> {after['chrf++']:.1f} ({result['gain']['chrf++']:+.1f}), BLEU "
        f"{before['bleu']:.1f} -> {after['bleu']:.1f}, {result['minutes']} min")
