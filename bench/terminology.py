"""Terminology benchmark: the shipped en-de glossary and 105 sentences that contain its terms.

    python bench/terminology.py [--threads 2] [--sentences 105] [--json bench/out/terminology.json]

Reports term success rate (required target terms present / required), forbidden-term hits, do-not-translate
survival and the time each mode takes, for (a) no glossary, (b) terms in the prompt with forbidden words
banned, (c) (b) + revision turns, (d) (c) + the last resort that forces missing terms. (a) is checked against
the same glossary. Runs on the default model unless --model says otherwise.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

VERBS = ["save", "open", "close", "delete", "download", "upload", "update"]
NOUNS = ["file", "folder", "document", "table", "page", "invoice", "application", "user guide", "glossary",
         "error message", "translation memory"]
PATTERNS = [
    "{Verb} the {noun}.",
    "Click the button to {verb} the {noun}.",
    "You cannot {verb} this {noun} because the connection to the server was lost.",
    "To {verb} a {noun}, open the settings and enter your password.",
    "{Verb} the {noun} as a PDF and share it on GitHub.",
]


def sentences(n: int) -> list[str]:
    out = []
    for pattern, verb, noun in itertools.product(PATTERNS, VERBS, NOUNS):
        out.append(pattern.format(Verb=verb.capitalize(), verb=verb, noun=noun))
    # interleave patterns so that any prefix mixes them
    out = [out[i] for i in sorted(range(len(out)), key=lambda i: (i % 37, i))]
    return out[:n]


def run_mode(engine, glossary, texts, mode: str) -> dict:
    from bayling_cat.revision import TermTranslator

    start = time.perf_counter()
    if mode == "a":
        results = engine.translate(texts, "en", "de")
        findings = [glossary.check(t, r.text) for t, r in zip(texts, results)]
        turns = 0
    else:
        tt = TermTranslator(engine, {("en", "de"): glossary}, max_revisions=0 if mode == "b" else 2,
                            term_strategy="force" if mode == "d" else "none")
        results = tt.translate(texts, "en", "de")
        findings = [glossary.check(t, r.text) for t, r in zip(texts, results)]
        turns = tt.turns
    seconds = time.perf_counter() - start
    required = sum(len(f.present) + len(f.missing) for f in findings)
    present = sum(len(f.present) for f in findings)
    dnt_total = sum(1 for f in findings for m in f.matched if m.term.dnt)
    dnt_kept = sum(1 for f in findings for t in f.present if t.dnt)
    return {"mode": mode, "seconds": seconds, "required": required, "present": present,
            "term_success_rate": present / required if required else None,
            "forbidden_hits": sum(len(f.forbidden) for f in findings), "dnt_total": dnt_total,
            "dnt_kept": dnt_kept, "extra_model_calls": turns,
            "substituted": sum(1 for r in results if "term-substituted" in r.flags)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--sentences", type=int, default=105)
    parser.add_argument("--model", default=None)
    parser.add_argument("--json")
    args = parser.parse_args()
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.glossary import load
    from bayling_cat.models import resolve_model

    engine = Engine(resolve_model(args.model), device="cpu", threads=args.threads)
    glossary = load(ROOT / "glossaries" / "software-ui.en-de.tbx", "en", "de")
    texts = sentences(args.sentences)
    engine.translate(texts[:2], "en", "de")  # warm-up
    names = {"a": "no glossary", "b": "prompt + ban", "c": "+ revision turns", "d": "+ last resort"}
    rows = [run_mode(engine, glossary, texts, m) for m in "abcd"]
    base = rows[0]["seconds"]
    print(f"{len(texts)} sentences en->de, glossary {glossary.name} ({len(glossary)} terms), model {engine.path.name}")
    print(f"{'mode':24} {'term success':>13} {'forbidden':>9} {'DNT kept':>9} {'extra calls':>11} {'seconds':>8} "
          f"{'x time':>7}")
    for r in rows:
        rate = f"{r['term_success_rate'] * 100:.1f}%" if r["term_success_rate"] is not None else "n/a"
        print(f"({r['mode']}) {names[r['mode']]:20} {rate:>13} {r['forbidden_hits']:>9} "
              f"{r['dnt_kept']:>4}/{r['dnt_total']:<4} {r['extra_model_calls']:>11} {r['seconds']:>8.1f} "
              f"{r['seconds'] / base:>7.2f}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
