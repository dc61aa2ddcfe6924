"""How much ``bayling-cat adapt`` gains on a real public software TM, how long it takes, and what it costs
elsewhere. Default model (Gemma 3 270M), this machine's CPU.

    python bench/adapt.py [--tm PO_OR_TMX ...] [--held-out 100] [--epochs 2] [--out /tmp/adapt-bench]

The TM: Django's own German translations (django/conf/locale/de and every contrib app's de catalogue:
about 900 approved English -> German pairs of a web framework's interface), read from an installed Django
(``pip install django==5.2.20``; the figures in docs/adapt.md are from that release).

The general set: 100 pairs of a different domain the adaptation never saw, drawn with a fixed seed from the
German catalogues pycountry installs (Debian's iso-codes: country and currency names, a bayling-cat
dependency, so always here). Both models are scored on it; the goal is no loss larger than 2 chrF++.

Prints a Markdown table for docs/adapt.md and writes the adapt report JSON beside the model.
"""

from __future__ import annotations

import argparse
import gettext
import importlib.util
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def django_catalogues() -> list[str]:
    spec = importlib.util.find_spec("django")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("bench/adapt.py: the TM is Django's German catalogues: pip install django==5.2.20 (or pass --tm)")
    root = Path(list(spec.submodule_search_locations)[0])
    return sorted(str(p) for p in root.rglob("locale/de/LC_MESSAGES/*.po"))


def general_pairs(n: int = 100, seed: int = 7):
    """Country and currency names from pycountry's German catalogues (iso-codes)."""
    import pycountry

    from bayling_cat.adapt.data import Pair

    root = Path(pycountry.__file__).parent / "locales" / "de" / "LC_MESSAGES"
    pairs = []
    for domain in ("iso3166-1", "iso4217"):
        with open(root / f"{domain}.mo", "rb") as fh:
            catalog = gettext.GNUTranslations(fh)._catalog  # noqa: SLF001 - the parsed .mo, msgid -> msgstr
        pairs += [Pair(k, v, None, f"pycountry {domain}") for k, v in catalog.items()
                  if isinstance(k, str) and k and v and k != v]
    pairs.sort(key=lambda p: p.source)
    return random.Random(seed).sample(pairs, n)


def term_split(folder: Path, pairs, glossary) -> dict:
    """Term success through the core with the glossary (steering, revision turns, bans), on the held-out pairs
    that hold a term, apart for the terms their reference follows and those it contradicts (the TM's
    translators chose another word): [followed by the model, occurrences]."""
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.translator import CoreOptions, Request, Translator

    pairs = [p for p in pairs if glossary.match(p.source)]
    core = Translator(Engine(folder), None, CoreOptions(checks=False, store=False, reuse=False))
    out = core.translate([Request(p.source, p.codes, p.hint) for p in pairs], "en", "de", glossary)
    split = {"reference follows": [0, 0], "reference contradicts": [0, 0]}
    for p, t in zip(pairs, out):
        ref = glossary.check(p.source, p.target)
        kept = {x.source for x in glossary.check(p.source, t.answer).present}
        followed = {x.source for x in ref.present}
        for term in {x.source for x in ref.present + ref.missing}:
            bucket = split["reference follows" if term in followed else "reference contradicts"]
            bucket[0] += term in kept
            bucket[1] += 1
    return split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tm", nargs="*", help="PO/TMX/XLIFF files (default: Django's German catalogues)")
    parser.add_argument("--held-out", type=int, default=100)
    parser.add_argument("--epochs", type=float, default=2.0)
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--out", default="/tmp/bayling-cat-adapt-bench/django-de")
    parser.add_argument("--format", default="both")
    parser.add_argument("--glossary", default=str(ROOT / "glossaries" / "software-ui.en-de.tbx"),
                        help="scored with it too (term success), before and after; training does not see it")
    parser.add_argument("--train-glossary", action="store_true",
                        help="train with --glossary in the prompts too (adapt -g), as translate will use it")
    parser.add_argument("--reuse", action="store_true",
                        help="score the model already in --out (its report beside it) instead of adapting again")
    args = parser.parse_args()

    from bayling_cat.adapt import Settings, adapt, score
    from bayling_cat.adapt.train import TrainOptions
    from bayling_cat.engines.ctranslate2 import Engine

    tm = args.tm or django_catalogues()
    out = Path(args.out)
    options = TrainOptions(epochs=args.epochs, max_steps=args.max_steps, learning_rate=args.learning_rate,
                           rank=args.rank, alpha=2 * args.rank)
    settings = Settings(tm, out, "en", "de", held_out=args.held_out, fmt=args.format, force=True,
                        glossaries=[Path(args.glossary)] if args.train_glossary else [],
                        report=out.parent / f"{out.name}.report.json", train=options)
    started = time.monotonic()
    if args.reuse:
        report = json.loads(settings.report.read_text(encoding="utf-8"))
    else:
        report = adapt(settings, say=lambda m: print(m, flush=True))
    minutes = report["minutes"] if args.reuse else (time.monotonic() - started) / 60
    general = general_pairs()
    base_folder = Path(report["adapted"]["base_weights"])
    from bayling_cat.models import default_model_dir

    g_before = score(Engine(default_model_dir()), general, "en", "de")
    g_after = score(Engine(out), general, "en", "de")
    from bayling_cat.adapt.data import read_pairs
    from bayling_cat.glossary import load

    held = read_pairs(tm, None, "en", "de", args.held_out).held_out
    glossary = load(Path(args.glossary), "en", "de")
    terms = {"before": term_split(default_model_dir(), held, glossary), "after": term_split(out, held, glossary)}
    llama = {}
    if (out / f"{out.name}.gguf").is_file():  # the same held-out pairs on llama.cpp: the base GGUF, the adapted one
        from bayling_cat.engines.llamacpp import Engine as Llama
        from bayling_cat.models import default_gguf

        llama = {"before": score(Llama(default_gguf()), held, "en", "de"),
                 "after": score(Llama(out / f"{out.name}.gguf"), held, "en", "de")}
    a = report["adapted"]
    b, f = report["before"], report["after"]
    print()
    print("| TM pairs (train / held out) | epochs | steps | training min | whole run min | chrF++ before -> after | "
          "BLEU before -> after | general chrF++ before -> after |")
    print("|---|---|---|---|---|---|---|---|")
    print(f"| {a['data']['pairs']} / {a['data']['held_out']} | {args.epochs:g} | {a['steps']} | "
          f"{a['train_minutes']} | {minutes:.1f} | {b['chrf++']:.1f} -> {f['chrf++']:.1f} "
          f"({f['chrf++'] - b['chrf++']:+.1f}) | {b['bleu']:.1f} -> {f['bleu']:.1f} | "
          f"{g_before['chrf++']:.1f} -> {g_after['chrf++']:.1f} ({g_after['chrf++'] - g_before['chrf++']:+.1f}) |")
    print(f"held-out seconds on CTranslate2: base {b['seconds']}, adapted {f['seconds']}; base weights {base_folder}")
    how = "trained with it" if args.train_glossary else "not trained on"
    for kind in ("reference follows", "reference contradicts"):
        (b0, n), (a0, _) = terms["before"][kind], terms["after"][kind]
        print(f"{Path(args.glossary).name} ({how}), terms the {kind} the glossary: {b0}/{n} -> {a0}/{n} kept")
    if llama:
        lb, la = llama["before"], llama["after"]
        print(f"llama.cpp, the same held-out pairs: chrF++ {lb['chrf++']:.1f} -> {la['chrf++']:.1f} "
              f"({la['chrf++'] - lb['chrf++']:+.1f}), BLEU {lb['bleu']:.1f} -> {la['bleu']:.1f}, seconds "
              f"{lb['seconds']} -> {la['seconds']}")
    scores = {"general": {"before": g_before, "after": g_after}, "llamacpp": llama, "terms": terms}
    (out.parent / f"{out.name}.scores.json").write_text(json.dumps(scores, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
