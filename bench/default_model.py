"""How well the default model translates: the goals of issue 22, measured with bayling-cat's own commands.

    python bench/default_model.py [--model default] [--engine auto] [--threads 2] [--json bench/out/default_model.json]

Runs, each as a user would (``bayling-cat`` in a subprocess, with no options beyond the files and languages):
- ``bayling-cat evaluate ui.en ui.XX -s en -t XX`` on the 20-sentence UI sets in bench/data/default_model (en→de,
  en→fr, en→zh; written for bayling-cat, none of them among the built-in few-shot examples): BLEU (the zh
  tokenizer for Chinese), chrF++;
- ``bayling-cat evaluate terms.en terms.de -s en -t de -g terms.en-de.csv --variant glossary``: term success and
  forbidden-term hits of the plain model row and of the glossary row (terms in the prompt, forbidden words
  banned, revision turns);
- ``bayling-cat translate examples/sample.xlf``: how many of its 6 translatable segments (8 units, one
  translate="no", one approved) get a translation written.
Prints a Markdown table (docs/engines.md holds it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "bench" / "data" / "default_model"


def cli(args: list[str], env: dict) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "bayling_cat", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"bayling-cat {' '.join(args)} failed: {done.stderr.strip()[-2000:]}")
    return done


def evaluate(pair: str, extra: list[str], common: list[str], env: dict, work: Path) -> list[dict]:
    src, tgt = pair.split("-")
    report = work / f"{pair}-{len(extra)}.json"
    stem = "terms" if extra else "ui"
    cli(["evaluate", str(DATA / f"{stem}.{src}"), str(DATA / f"{stem}.{tgt}"), "-s", src, "-t", tgt, *extra,
         *common, "--report", str(report)], env)
    return json.loads(report.read_text(encoding="utf-8"))["rows"]


def sample_xlf(common: list[str], env: dict, work: Path) -> dict:
    out, report = work / "sample.de.xlf", work / "sample-report.json"
    started = time.perf_counter()
    cli(["translate", str(ROOT / "examples" / "sample.xlf"), "-o", str(out), "--report", str(report),
         "--no-memory", *common], env)
    seconds = time.perf_counter() - started
    data = json.loads(report.read_text(encoding="utf-8"))
    segments = [s for f in data["files"] for s in f["segments"]]
    translatable = [s for s in segments if s["action"] != "skipped"]  # translate="no" and approved units are
    written = [s for s in translatable if s["written"]]
    return {"translatable": len(translatable), "written": len(written), "seconds": round(seconds, 1),
            "translations": {s["id"]: s["translation"] for s in translatable}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None)
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--json")
    args = parser.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    common = ["--engine", args.engine] + (["--model", args.model] if args.model else []) + \
        (["--threads", str(args.threads)] if args.threads else [])
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for pair in ("en-de", "en-fr", "en-zh"):
            [row] = evaluate(pair, [], common, env, work)
            m = row["metrics"]
            results[pair] = {"bleu": m["bleu"], "chrf": m["chrf++"], "flagged": m["flagged"],
                             "seg_per_s": row.get("segments_per_second"), "load_s": row.get("load_seconds")}
        rows = evaluate("en-de", ["-g", str(DATA / "terms.en-de.csv"), "--variant", "glossary"], common, env, work)
        results["terms"] = [{"row": r["name"], "term_success": (r["terminology"] or {}).get("term_success_rate"),
                             "forbidden": (r["terminology"] or {}).get("forbidden_hits"),
                             "chrf": r["metrics"]["chrf++"]} for r in rows]
        results["sample.xlf"] = sample_xlf(common, env, work)
    print(table(results))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def table(results: dict) -> str:
    lines = ["| figure | measured | goal |", "| --- | --: | --: |"]
    goals = {"en-de": ("chrF++", "chrf", 40), "en-fr": ("chrF++", "chrf", 50), "en-zh": ("BLEU (zh tokenizer)", "bleu", 30)}
    for pair, (what, key, goal) in goals.items():
        lines.append(f"| {pair.replace('-', '→')} {what} (20 UI sentences) | {results[pair][key]:.1f} | ≥ {goal} |")
    for row in results["terms"]:
        success = row["term_success"]
        lines.append(f"| term success, UI glossary set (20 sentences), row `{row['row']}` | "
                     f"{'–' if success is None else f'{success:.0%}'}, {row['forbidden']} forbidden | ≥ 60%, 0 forbidden |")
    xlf = results["sample.xlf"]
    lines.append(f"| examples/sample.xlf: translatable segments written | {xlf['written']} of {xlf['translatable']} "
                 f"| ≥ 5 of 6 |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
