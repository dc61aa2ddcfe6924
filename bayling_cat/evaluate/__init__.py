"""``bayling-cat evaluate``: how good the model is on the user's own approved translations.

references.py reads TMX, approved XLIFF, non-fuzzy PO and text pairs; runner.py translates them per row
(a model, a variant, or the whole pipeline); metrics.py scores with sacrebleu and the CAT measures;
comet.py adds COMET from a local model; html.py writes the page. This module puts the rows together into
the report and the console table.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bayling_cat.errors import UserError
from bayling_cat.evaluate import metrics, references, runner

PIPELINE = "pipeline+memory"


@dataclass
class Settings:
    references: list[str]
    models: list[str | None] = field(default_factory=lambda: [None])
    variants: list[str] = field(default_factory=list)
    source_lang: str | None = None
    target_lang: str | None = None
    glossaries: list[Path] = field(default_factory=list)
    sample: int | None = None
    seed: int = 1
    with_memory: bool = False
    memory: Path | None = None
    comet: Path | None = None


def evaluate(settings: Settings, load_engine: Callable, say: Callable[[str], None] = lambda m: None,
             progress_factory=None) -> dict:
    """Run every row and return the report (see docs/evaluation.md). ``load_engine(model)`` loads one model."""
    from bayling_cat import __version__

    variants = [runner.parse_variant(v) for v in settings.variants]
    refs = references.read(settings.references, settings.source_lang, settings.target_lang, settings.sample,
                           settings.seed)
    src, tgt = refs.source_lang, refs.target_lang
    glossary = _glossary(settings.glossaries, src, tgt)
    if glossary is None and any(v.glossary for v in variants):
        raise UserError("--variant glossary needs a glossary: pass -g GLOSSARY")
    memory = memory_path = None
    if any(v.examples for v in variants) or settings.with_memory:
        memory_path, memory = _memory(settings.memory)
    comet = None
    if settings.comet is not None:
        from bayling_cat.evaluate.comet import Comet

        comet = Comet(settings.comet)
    say(f"bayling-cat: {len(refs.references)} references {src} -> {tgt}"
        + (f" (a sample of {refs.available}, seed {settings.seed})" if len(refs.references) < refs.available else ""))
    rows = []
    signatures: dict = {}
    for model in settings.models:
        started = time.monotonic()
        engine = load_engine(model)
        load_seconds = time.monotonic() - started
        label = Path(str(getattr(engine, "path", None) or model or "default")).name
        for variant in [None] + variants + ([PIPELINE] if settings.with_memory else []):
            name = label if variant is None else f"{label} [{variant if variant == PIPELINE else variant.name}]"
            say(f"bayling-cat: translating with {name}")
            scored, seconds, extra = _row(engine, refs, variant, glossary, (memory_path, memory), settings, label,
                                          progress_factory)
            if extra.get("sources_with_examples") == 0:
                say(f"bayling-cat: warning: the memory has no similar human translations for these sources: "
                    f"{name} is the plain model")
            rows.append({**extra, "name": name, "model": str(getattr(engine, "path", None) or model or "default"),
                         "variant": None if variant is None else (variant if variant == PIPELINE else variant.name),
                         "load_seconds": round(load_seconds, 2), "seconds": round(seconds, 2),
                         "segments_per_second": round(len(scored) / seconds, 3) if seconds > 0 else None,
                         "scored": scored})
        del engine  # one model in memory at a time
    for row in rows:
        scored = row.pop("scored")
        if comet is not None:
            say(f"bayling-cat: COMET for {row['name']}")
            for s, value in zip(scored, comet.scores([s.source for s in scored], [s.hypothesis for s in scored],
                                                      [s.reference for s in scored])):
                s.comet = value
        row["metrics"], signatures = metrics.summarise(scored, tgt)
        row["terminology"] = metrics.terminology(scored)
        row["segments"] = [s.as_dict() for s in metrics.worst_first(scored)]
    if comet is not None:
        signatures["COMET"] = f"model:{comet.checkpoint}|scores:x100"
    return {
        "tool": f"bayling-cat {__version__}",
        "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "source_lang": src, "target_lang": tgt,
        "references": {"files": refs.files, "available": refs.available, "segments": len(refs.references),
                       "sample": {"size": settings.sample, "seed": settings.seed}
                       if settings.sample is not None and settings.sample < refs.available else None},
        "signatures": signatures,
        "rows": rows,
    }


def _row(engine, refs, variant, glossary, memory, settings, label, progress_factory):
    """The scored segments of one row, the seconds the translation took, and extra facts for the row."""
    src, tgt = refs.source_lang, refs.target_lang
    memory_path, memory = memory
    if variant == PIPELINE:
        bar = progress_factory(len({(r.source, r.hint) for r in refs.references})) if progress_factory else None
        try:
            answers, seconds = runner.through_core(engine, refs.references, src, tgt, glossary, memory, label,
                                                   progress=bar.update if bar else None)
        finally:
            if bar:
                bar.close()
        scored = []
        for ref, (text, flags, kept) in zip(refs.references, answers):
            elements = any(c.literal is None for c in ref.codes.values())
            literals = any(c.literal is not None for c in ref.codes.values())
            scored.append(runner.score(ref, text, flags, glossary, checks=False,
                                       codes_kept=kept if elements else None,
                                       placeholders_kept=kept if literals else None))
        return scored, seconds, {}
    bar = progress_factory(len({(r.source, r.hint) for r in refs.references})) if progress_factory else None
    try:
        answers, seconds, extra = runner.translate(engine, refs.references, src, tgt, variant, glossary, memory,
                                                   progress=bar.update if bar else None)
    finally:
        if bar:
            bar.close()
    scored = [runner.score(r, text, flags, glossary) for r, (text, flags) in zip(refs.references, answers)]
    return scored, seconds, extra


def _glossary(paths, src, tgt):
    if not paths:
        return None
    from bayling_cat.glossary import Glossary, load

    return Glossary.merge([load(p, src, tgt) for p in paths])


def _memory(path: Path | None):
    from bayling_cat.memory import default_path, open_memory

    path = Path(path) if path is not None else default_path()
    if not path.is_file():
        raise UserError(f"{path}: no translation memory there (the examples variant and --with-memory read "
                        "one; fill it with bayling-cat memory import)")
    return path, open_memory(path)


def table(report: dict) -> str:
    """The summary as plain text: signatures, then one line per row."""
    from bayling_cat.evaluate.html import COLUMNS, cell

    refs = report["references"]
    lines = [f"{report['source_lang']} -> {report['target_lang']}: {refs['segments']} segments"
             + (f" (a sample of {refs['available']}, seed {refs['sample']['seed']})" if refs.get("sample") else "")
             + " from " + ", ".join(Path(f["path"]).name for f in refs["files"] if f.get("used"))]
    lines += [f"  {k}: {v}" for k, v in report["signatures"].items()]
    columns = [(t.replace("≤", "<="), k, f) for t, k, f in COLUMNS
               if any(cell(r, k, f) != "–" for r in report["rows"])]
    width = max(len("model"), *(len(r["name"]) for r in report["rows"]))
    cells = [[r["name"].ljust(width)] + [cell(r, k, f).replace("–", "-").rjust(max(len(t), 6)) for t, k, f in columns]
             for r in report["rows"]]
    lines.append("  ".join(["model".ljust(width)] + [t.rjust(max(len(t), 6)) for t, _, _ in columns]))
    lines += ["  ".join(c) for c in cells]
    return "\n".join(lines)


def write_json(path: Path, report: dict) -> None:
    from bayling_cat.fileio import write_atomic

    write_atomic(path, (json.dumps(report, indent=2, ensure_ascii=False) + "\n").encode("utf-8"))


def write_html(path: Path, report: dict, worst: int = 20) -> None:
    from bayling_cat.evaluate.html import page
    from bayling_cat.fileio import write_atomic

    write_atomic(path, page(report, worst).encode("utf-8"))
