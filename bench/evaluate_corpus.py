"""Evaluation table on the real-file corpus: every corpus file that holds approved human work (approved,
final or confirmed XLIFF targets, translated non-fuzzy PO entries), at least --min-units of it, evaluated
with ``bayling-cat evaluate``'s own code on the default model (or --model).

    python bench/evaluate_corpus.py [--sample 100] [--seed 1] [--threads 2] [--variant beam=4]
                                    [--json bench/out/evaluate_corpus.json] [--write docs/evaluation.md]

Prints a Markdown table; --write replaces the table between the corpus-table markers of that file.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CORPUS = ROOT.parent / "shared" / "corpus"
START, END = "<!-- corpus-table:start -->", "<!-- corpus-table:end -->"


def approved_files(min_units: int) -> list[tuple[Path, int]]:
    """Corpus files with at least ``min_units`` references, found by the evaluation's own reader."""
    from bayling_cat.errors import UserError
    from bayling_cat.evaluate import references

    found = []
    for path in sorted(CORPUS.glob("*/*")):
        if path.suffix in (".md", ".tbx", ".docx") or "MALFORMED" in path.name or "INVALID" in path.name:
            continue
        try:
            refs = references.read([path])
        except UserError:
            continue  # no approved work, or the file does not name its languages
        if refs.available >= min_units:
            found.append((path, refs.available))
    return found


def percent(value) -> str:
    return "–" if value is None else f"{value:.1%}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sample", type=int, default=100, help="references per file (a seeded sample)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-units", type=int, default=5)
    parser.add_argument("--variant", action="append", default=[])
    parser.add_argument("--json")
    parser.add_argument("--write", help="Markdown file whose corpus-table block is replaced")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"no corpus at {CORPUS}")

    from bayling_cat import evaluate as evaluation
    from bayling_cat.cli import load_engine

    started = time.monotonic()
    engine = load_engine(model=args.model, engine="auto", device="cpu", device_index=0, compute_type="auto",
                         threads=args.threads, beam_size=1, temperature=0.0, top_p=1.0, batch_size=16, max_new_tokens=1024)
    load_seconds = time.monotonic() - started
    lines = ["| file | pair | approved units | evaluated | row | BLEU | chrF++ | TER | exact | ≤5% edits | codes "
             "| placeholders | flagged | seg/s |",
             "|---|---|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    reports = []
    for path, units in approved_files(args.min_units):
        settings = evaluation.Settings([str(path)], variants=args.variant, sample=args.sample, seed=args.seed)
        report = evaluation.evaluate(settings, lambda model: engine, say=lambda m: print(m, file=sys.stderr))
        reports.append(report)
        name = f"{path.parent.name}/{path.name}"
        for row in report["rows"]:
            m = row["metrics"]
            variant = row["variant"] or "model"
            lines.append(
                f"| `{name}` | {report['source_lang']} → {report['target_lang']} | {units} | {m['segments']} | "
                f"{variant} | {m['bleu']:.1f} | {m['chrf++']:.1f} | {m['ter']:.1f} | {percent(m['exact_match'])} | "
                f"{percent(m['within_5pct'])} | {percent(m['code_accuracy'])} ({m['code_segments']}) | "
                f"{percent(m['placeholder_accuracy'])} ({m['placeholder_segments']}) | {percent(m['flagged'])} | "
                f"{row['segments_per_second']:.2f} |")
    signatures = reports[0]["signatures"] if reports else {}
    lines.append("")
    lines.append(f"Model: `{Path(str(engine.path)).name}`, CPU, {args.threads} threads, greedy; a seeded sample of "
                 f"at most {args.sample} references per file (seed {args.seed}); model loaded in "
                 f"{load_seconds:.1f} s. Codes and placeholders: share of the segments holding them (count in "
                 "brackets) whose translation kept every one. Signatures: "
                 + "; ".join(f"{k} `{v}`" for k, v in signatures.items()) + ".")
    table = "\n".join(lines)
    print(table)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(reports, indent=2, ensure_ascii=False), encoding="utf-8")
    if args.write:
        doc = Path(args.write)
        text = doc.read_text(encoding="utf-8")
        if START not in text or END not in text:
            sys.exit(f"{doc}: no {START} ... {END} block to replace")
        text = re.sub(re.escape(START) + r".*?" + re.escape(END), lambda _: f"{START}\n{table}\n{END}", text,
                      flags=re.S)
        doc.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
