"""The cluster path against one local process, on the default model, and what the driver can feed.

    python bench/cluster.py [--units 300] [--workers 2]

Each side runs in its own process on a generated XLIFF (bench/benchmark.py's make_xliff: UI strings and
sentences with inline codes and repeats), through the whole pipeline with no memory:
- local: one process, one engine with --workers threads (all the cores);
- cluster: a local Ray instance with --workers model actors of one thread each (the same cores);
- one actor: the cluster path with a single one-thread actor, against a local engine with one thread: the
  overhead of sending calls to an actor;
- driver: the same file with a translator that answers at once, so that only the driver's work is timed
  (reading, deciding, memory, repair, checks, writing): the segments/s beyond which more workers cannot help.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.benchmark import make_xliff  # noqa: E402


def run_side(side: str, units: int, workers: int) -> dict:
    from bayling_cat.engines.base import Generation
    from bayling_cat.models import ensure_default_model
    from bayling_cat.pipeline import Options, Pipeline

    model = ensure_default_model()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "bench.xlf"
        path.write_bytes(make_xliff(units))
        started = time.perf_counter()
        if side == "driver":
            from bayling_cat.engines.base import BaseEngine, DecodingOptions

            class Instant(BaseEngine):  # the model's place, answering at once: the driver's own cost
                decoding = DecodingOptions()

                def translate(self, texts, source_lang, target_lang, progress=None, **kwargs):
                    return [Generation(f"Übersetzt: {t}") for t in texts]

            translator = Instant()
            setup = 0.0
        elif side in ("cluster", "one-actor"):
            from bayling_cat.engines.cluster import ClusterEngine

            translator = ClusterEngine(model, address="local", workers=workers if side == "cluster" else 1,
                                       threads=1)
            setup = time.perf_counter() - started
        else:
            from bayling_cat.engines.ctranslate2 import Engine

            translator = Engine(model, device="cpu", threads=workers if side == "local" else 1)
            setup = time.perf_counter() - started
        translator.translate(["Save", "Open file"], "en", "de")  # warm-up, as a running service would be
        start = time.perf_counter()
        run = Pipeline(translator, Options(output=tmp / "out.xlf", model_id="default"))
        [result] = run.run([str(path)])
        seconds = time.perf_counter() - start
        if hasattr(translator, "close"):
            translator.close()
    assert result.error is None, result.error
    return {"side": side, "units": units, "distinct": run.model_calls, "seconds": seconds, "setup_s": setup,
            "units_per_s": units / seconds, "distinct_per_s": run.model_calls / seconds}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--driver-units", type=int, default=20000)
    parser.add_argument("--side", help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.side:
        units = args.driver_units if args.side == "driver" else args.units
        print(json.dumps(run_side(args.side, units, args.workers)))
        return
    figures = {}
    for side in ("local", "cluster", "one-local", "one-actor", "driver"):
        out = subprocess.run([sys.executable, __file__, "--side", side, "--units", str(args.units), "--workers",
                              str(args.workers), "--driver-units", str(args.driver_units)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"side {side} failed:\n{out.stderr[-3000:]}")
        figures[side] = json.loads(out.stdout.strip().splitlines()[-1])
    f = figures
    print(f"default model, {args.units}-unit XLIFF ({f['local']['distinct']} model calls), greedy, no memory")
    print(f"{'':44} {'units/s':>8} {'calls/s':>8} {'seconds':>8} {'start-up':>9}")
    names = {"local": f"local, one engine, {args.workers} threads", "cluster": f"cluster, {args.workers} actors x 1 thread",
             "one-local": "local, one engine, 1 thread", "one-actor": "cluster, 1 actor x 1 thread",
             "driver": "driver alone (instant translator)"}
    for side, r in f.items():
        print(f"{names[side]:44} {r['units_per_s']:8.2f} {r['distinct_per_s']:8.2f} {r['seconds']:8.1f} "
              f"{r['setup_s']:8.1f}s")
    print(f"cluster / local: {f['cluster']['units_per_s'] / f['local']['units_per_s']:.2f}x; cluster path overhead "
          f"(1 actor against 1 local thread): {(f['one-local']['units_per_s'] / f['one-actor']['units_per_s'] - 1) * 100:.1f}%")
    per_worker = f["one-actor"]["units_per_s"]
    limit = f["driver"]["units_per_s"]
    print(f"projection: {per_worker:.2f} units/s per one-thread CPU actor; the driver alone does {limit:.0f} units/s, "
          f"so it becomes the limit at about {limit / per_worker:.0f} such actors")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
