"""``bayling-cat adapt``: the model learns from the translator's approved work (LoRA fine-tuning).

    approved pairs (data.py) -> held-out split -> the base model scored on the held-out pairs
    -> training prompts made by the base's own engine (data.py) -> LoRA training, resumable (train.py)
    -> merged, written for CTranslate2 and as GGUF (export.py) -> the adapted model scored the same way
    -> written only if it did not get worse (or --force), its metadata naming the base, the data and the scores

Scores are ``evaluate``'s (sacrebleu chrF++, BLEU, TER, the CAT measures), through the translation core as
``evaluate`` runs a model: no memory, the glossary when one is given. Both models are scored on
CTranslate2, the engine ``translate`` runs documents on.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bayling_cat.adapt.data import Data, Prompter, build_examples, read_pairs
from bayling_cat.errors import UserError
from bayling_cat.modelinfo import METADATA_FILE, ModelInfo

FORMATS = ("ctranslate2", "gguf", "both")


@dataclass
class Settings:
    references: list[str]
    output: Path
    source_lang: str | None = None
    target_lang: str | None = None
    base: str | None = None  # default: the default model
    memory: str | None = None  # the memory's human units are learned from too
    glossaries: list[Path] = field(default_factory=list)
    held_out: int | None = None
    fmt: str = "both"
    device: str = "auto"
    force: bool = False  # write a model that got worse; replace an existing output folder
    report: Path | None = None
    max_length: int = 512  # tokens: longer training examples are left out
    train: object = None  # train.TrainOptions


class Worse(UserError):
    """The adapted model scored lower on the held-out pairs than the base: not written."""


class Stopped(UserError):
    """Ctrl-C during training: the checkpoint is written (the command line exits 130)."""


@dataclass
class Base:
    name: str
    folder: Path  # its CTranslate2 folder: the prompts, the tokenizer, the "before" scores
    weights: str  # what the training loads: a GGUF file, a checkpoint folder or a hub id
    info: ModelInfo


def resolve_base(spec: str | None, say: Callable[[str], None]) -> Base:
    """The model to adapt: a packaged model (the default one unless named), or a converted folder whose
    metadata names the weights it was converted from."""
    from bayling_cat import models

    packaged = models.packaged(spec or "default")
    if packaged is not None and (spec is None or not Path(spec).exists()):
        gguf = models.packaged_gguf(packaged)
        if gguf is None:
            raise UserError(f"--base {packaged.key}: training needs the model's weights: {packaged.install}")
        folder = models.ensure_default_model(say, packaged)
        return Base(packaged.folder, folder, str(gguf), ModelInfo.read(folder))
    path = Path(spec).expanduser()
    if not ((path / METADATA_FILE).is_file() and (path / "model.bin").is_file()):
        raise UserError(f"--base {spec}: not a packaged model or a converted CTranslate2 folder; convert it first: "
                        f"bayling-cat convert {spec} -o DIR (then --base DIR)")
    info = ModelInfo.read(path)
    if info.extra.get("adapted"):
        raise UserError(f"--base {spec}: an adapted model; adapt its base ({info.extra['adapted'].get('base')}) "
                        "with all the data instead")
    if info.extra.get("base"):
        raise UserError(f"--base {spec}: converted from a delta and its base ({info.extra['base']}); adapt a "
                        "checkpoint with the delta applied: convert it as a Hugging Face folder first")
    source = info.source
    if not Path(source).expanduser().is_absolute() and not models.is_hub_id(source):
        raise UserError(f"--base {spec}: it names its weights by a relative path ({source}); convert it again "
                        "from an absolute path")
    if not (Path(source).expanduser().exists() or models.is_hub_id(source)):
        raise UserError(f"--base {spec}: the weights it was converted from ({source}) are not there; training "
                        "needs them")
    return Base(info.name or path.name, path, source, info)


def score(engine, pairs, source_lang: str, target_lang: str, glossary=None, progress=None) -> dict:
    """``evaluate``'s metrics for ``pairs`` translated through the core (no memory)."""
    from bayling_cat.document import FLAG_CODES
    from bayling_cat.evaluate import metrics, runner
    from bayling_cat.evaluate.references import Reference
    from bayling_cat.translator import FLAG_QA, CoreOptions, Request, Translator

    core = Translator(engine, None, CoreOptions(checks=False, store=False, reuse=False))
    started = time.monotonic()
    out = core.translate([Request(p.source, p.codes, p.hint) for p in pairs], source_lang, target_lang, glossary,
                         progress=progress)
    seconds = time.monotonic() - started
    scored = [runner.score(Reference(p.origin, p.source, p.target, source_lang, target_lang, p.codes, p.hint),
                           t.answer, [f for f in t.flags if f not in (FLAG_CODES, FLAG_QA)], glossary)
              for p, t in zip(pairs, out)]
    found, signatures = metrics.summarise(scored, target_lang)
    found["terminology"] = metrics.terminology(scored)
    found["seconds"] = round(seconds, 2)
    found["signatures"] = signatures
    found["samples"] = [{"source": s.source, "reference": s.reference, "hypothesis": s.hypothesis}
                        for s in scored[:5]]
    return found


def _engine(folder: Path, device: str):
    from bayling_cat.engines.ctranslate2 import Engine

    return Engine(folder, device="cuda" if device == "cuda" else "cpu")


def _glossary(paths, src, tgt):
    if not paths:
        return None
    from bayling_cat.glossary import Glossary, load

    return Glossary.merge([load(p, src, tgt) for p in paths])


def _cached_before(checkpoint: Path, key: dict, compute: Callable[[], dict]) -> dict:
    """The base's held-out scores, kept in the checkpoint folder so that a resumed run does not score again."""
    path = checkpoint / "before.json"
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        if kept.get("key") == key:
            return kept["scores"]
    except (OSError, ValueError):
        pass
    scores = compute()
    checkpoint.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "scores": scores}, ensure_ascii=False), encoding="utf-8")
    return scores


def checkpoint_folder(output: Path) -> Path:
    return output.parent / f".{output.name}.adapt-checkpoint"


def adapt(settings: Settings, say: Callable[[str], None] = lambda m: None, progress_factory=None) -> dict:
    """Adapt, write the model folder, return the report (docs/adapt.md)."""
    from bayling_cat import __version__
    from bayling_cat.adapt import train

    started = time.monotonic()
    options = settings.train or train.TrainOptions()
    output = _check_output(settings)
    data = read_pairs(settings.references, settings.memory, settings.source_lang, settings.target_lang,
                      settings.held_out, options.seed)
    src, tgt = data.source_lang, data.target_lang
    say(f"bayling-cat: {len(data.train)} pairs to learn from, {len(data.held_out)} held out ({src} -> {tgt}; "
        f"{data.duplicates} repeated sources left out)")
    device = train.pick_device(settings.device)
    base = resolve_base(settings.base, say)
    _check_base(settings, output, base)
    glossary = _glossary(settings.glossaries, src, tgt)
    checkpoint = checkpoint_folder(output)
    engine = _engine(base.folder, device)

    def before_scores():
        say(f"bayling-cat: scoring the base model {base.name} on the {len(data.held_out)} held-out pairs")
        return _scored(engine, data.held_out, src, tgt, glossary, progress_factory)

    key = {"base": str(base.folder), "data": data.sha256, "glossary": glossary.fingerprint if glossary else None}
    before = _cached_before(checkpoint, key, before_scores)
    examples, too_long = build_examples(Prompter(engine, builtin_examples=False), data, glossary,
                                        max_length=settings.max_length)
    if not examples:
        raise UserError(f"every training pair is longer than {settings.max_length} tokens")
    del engine, before_scores  # the base's CTranslate2 model leaves memory (and the GPU) before training
    trainer = _train(settings, options, base, data, examples, device, checkpoint, say, progress_factory,
                     glossary.fingerprint if glossary else None)
    info = _adapted_info(base, settings, options, data, examples, too_long, before, trainer, __version__)
    report = _write(settings, output, base, info, trainer, data, glossary, before, device, say, progress_factory)
    report["minutes"] = round((time.monotonic() - started) / 60, 1)
    if settings.report is not None:
        settings.report.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    shutil.rmtree(checkpoint, ignore_errors=True)
    return report


def _check_output(settings: Settings) -> Path:
    """The output folder, refused before any work: an existing file or non-empty folder (without --force), a
    parent that cannot be made, or a folder that is (or holds) what the run reads."""
    if settings.fmt not in FORMATS:
        raise UserError(f"--format {settings.fmt}: choose one of {', '.join(FORMATS)}")
    output = settings.output.expanduser().resolve()
    reads = [Path(p) for p in settings.references] + [Path(g) for g in settings.glossaries]
    if settings.memory and not str(settings.memory).startswith(("postgres://", "postgresql://")):
        reads.append(Path(settings.memory))
    for path in reads:
        _refuse_overlap(output, path.expanduser().resolve(), f"the input {path}")
    if output.exists() and not output.is_dir():
        raise UserError(f"{output}: a file, not a folder; name the adapted model's folder")
    if output.exists() and any(output.iterdir()) and not settings.force:
        raise UserError(f"{output}: already exists and is not empty (use --force to replace it)")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"{output.parent}: cannot create the folder ({exc.strerror or exc})") from None
    return output


def _refuse_overlap(output: Path, read: Path, what: str) -> None:
    if output == read or output in read.parents:
        raise UserError(f"{output}: the adapted model's folder would replace {what}; choose another folder")


def _check_base(settings: Settings, output: Path, base: Base) -> None:
    """What the base allows, found out before training: the output may not replace it, and a GGUF file of a
    Hugging Face base is written by the Llama writer only."""
    from bayling_cat.convert_gguf import GGUF_ARCHITECTURES
    from bayling_cat.ggufinfo import is_gguf

    _refuse_overlap(output, base.folder.resolve(), f"the base model {base.folder}")
    weights = Path(base.weights).expanduser()
    if weights.exists():
        _refuse_overlap(output, weights.resolve(), f"the base's weights {weights}")
    from_gguf = weights.is_file() and is_gguf(weights)
    if settings.fmt != "ctranslate2" and not from_gguf and base.info.architecture not in GGUF_ARCHITECTURES:
        raise UserError(f"--format {settings.fmt}: a GGUF file of a {base.info.architecture} checkpoint cannot be "
                        "written (the GGUF writer takes Llama and Mistral; a GGUF base takes any); use --format "
                        "ctranslate2")


def _scored(engine, pairs, src, tgt, glossary, progress_factory) -> dict:
    bar = progress_factory(len(pairs), "scoring") if progress_factory else None
    try:
        return score(engine, pairs, src, tgt, glossary, progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()


def _train(settings, options, base, data: Data, examples, device, checkpoint, say, progress_factory, glossary_key):
    import hashlib

    from bayling_cat.adapt import train

    say(f"bayling-cat: loading {base.name}'s weights for training ({base.weights})")
    model, hf_tokenizer = train.load_weights(base.weights)
    digest = hashlib.sha256(json.dumps([[e.prompt, e.answer] for e in examples]).encode("ascii")).hexdigest()
    # a checkpoint is resumed only for the very same examples (data, base, template, glossary) and options
    fingerprint = {"data": data.sha256, "base": base.weights, "options": options.key(), "examples": digest,
                   "glossary": glossary_key}
    trainer = train.Trainer(model, examples, options, device, checkpoint / "lora", fingerprint)
    trainer.hf_tokenizer = hf_tokenizer
    if trainer.resume():
        say(f"bayling-cat: resuming from the checkpoint at step {trainer.step} of {len(trainer.plan.steps)}")
    total = len(trainer.plan.steps)
    tokens = sum(e.length for e in examples)
    say(f"bayling-cat: LoRA rank {options.rank} on {device}: {len(examples)} examples ({tokens} tokens), "
        f"{options.epochs:g} epochs, {total} steps of {options.batch_size}")
    bar = progress_factory(total, "training", initial=trainer.step) if progress_factory else None

    def on_step(step, loss):
        if bar:
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.3f}")

    try:
        trainer.run(on_step)
    except train.Interrupted:
        raise Stopped(f"interrupted at step {trainer.step} of {total}: the checkpoint is in {checkpoint}; run "
                      "the same command again to resume") from None
    finally:
        if bar:
            bar.close()
    return trainer


def _adapted_info(base: Base, settings, options, data: Data, examples, too_long, before, trainer, version) -> ModelInfo:
    extra = dict(base.info.extra)
    if base.info.template == "fewshot":
        extra["builtin_examples"] = False  # trained without them: asked without them
    extra["adapted"] = {
        "base": base.name, "base_weights": base.weights,
        "data": {"pairs": len(data.train), "examples": len(examples), "too_long": too_long,
                 "with_memory_matches": sum(1 for e in examples if e.shots),
                 "glossary_terms_shown": sum(e.terms for e in examples),
                 "glossary_terms_contradicted": sum(e.contradicted for e in examples),
                 "held_out": len(data.held_out), "duplicates": data.duplicates, "sha256": data.sha256,
                 "languages": [data.source_lang, data.target_lang],
                 "files": [{k: f.get(k) for k in ("path", "format", "approved")} for f in data.files]},
        "options": options.key(), "glossaries": [str(g) for g in settings.glossaries],
        "steps": trainer.step, "train_minutes": round(trainer.seconds / 60, 1),
        "final_loss": trainer.losses[-1] if trainer.losses else None,
        "held_out": {"before": _short(before)},
    }
    return replace(base.info, name=settings.output.name, source=f"{base.name} adapted by bayling-cat adapt",
                   converted_by=f"bayling-cat {version}",
                   created=datetime.now(timezone.utc).isoformat(timespec="seconds"), extra=extra)


def _short(scores: dict) -> dict:
    """What the metadata keeps of a score: the corpus figures (the report has the rest)."""
    keep = ("segments", "chrf++", "bleu", "ter", "exact_match", "code_accuracy", "placeholder_accuracy")
    out = {k: (round(scores[k], 2) if isinstance(scores.get(k), float) else scores.get(k)) for k in keep}
    terms = scores.get("terminology")
    if terms:
        out["term_success"] = terms.get("term_success_rate")
    return out


def _write(settings, output: Path, base: Base, info: ModelInfo, trainer, data, glossary, before, device, say,
           progress_factory) -> dict:
    """Merge, convert, score the adapted model, and move it into place unless it got worse."""
    from bayling_cat.adapt import export
    from bayling_cat.convert import _staging

    deltas = trainer.deltas() if settings.fmt != "ctranslate2" else {}
    merged = trainer.merged()
    with _staging(output, True) as stage:
        model_dir = stage / "model"
        work = stage / "work"
        work.mkdir()
        say("bayling-cat: merging the LoRA weights and converting for CTranslate2")
        export.write_ctranslate2(merged, trainer.hf_tokenizer, base.folder, info, work, model_dir,
                                 base.info.quantization if base.info.quantization in ("int8", "float32", "float16",
                                                                                      "int8_float16", "bfloat16")
                                 else "int8")
        say(f"bayling-cat: scoring the adapted model on the {len(data.held_out)} held-out pairs")
        after = _scored(_engine(model_dir, device), data.held_out, data.source_lang, data.target_lang, glossary,
                        progress_factory)
        gain = after["chrf++"] - before["chrf++"]
        info.extra["adapted"]["held_out"]["after"] = _short(after)
        info.extra["adapted"]["held_out"]["chrf++_gain"] = round(gain, 2)
        report = {"output": str(output), "base": base.name, "source_lang": data.source_lang,
                  "target_lang": data.target_lang, "adapted": info.extra["adapted"],
                  "before": before, "after": after, "gain": {"chrf++": round(gain, 2),
                                                              "bleu": round(after["bleu"] - before["bleu"], 2)},
                  "written": False}
        if gain < 0 and not settings.force:
            if settings.report is not None:
                settings.report.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            raise Worse(f"not written: the adapted model scored chrF++ {after['chrf++']:.1f} on the held-out pairs, "
                        f"the base {before['chrf++']:.1f} ({gain:+.1f}); --force writes it anyway (the training is "
                        f"kept in {checkpoint_folder(output)})")
        info.write(model_dir)
        if settings.fmt != "ctranslate2":
            export.write_gguf(Path(base.weights), work / "merged", deltas, info, model_dir / f"{output.name}.gguf",
                              say)
        if settings.fmt == "gguf":
            for f in list(model_dir.iterdir()):
                if f.suffix != ".gguf":
                    f.unlink()
        shutil.rmtree(work)
        report["written"] = True
    return report
