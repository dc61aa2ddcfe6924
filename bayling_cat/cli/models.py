"""``convert`` (a model for either engine) and ``models`` (what is there, what can be converted)."""

from __future__ import annotations

import os
import time

import click

from bayling_cat.cli.base import cli, say
from bayling_cat.errors import UserError

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
                          name=name, progress=lambda m: say(f"bayling-cat: {m}"), fmt=fmt)
    say(f"bayling-cat: converted {source} in {time.monotonic() - started:.0f} s: template {info.template}, "
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


