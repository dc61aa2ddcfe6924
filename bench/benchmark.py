"""Speed of the engine against a plain transformers generate loop on the same model and threads.

    python bench/benchmark.py [--threads 2] [--segments 60] [--json bench/out/engine.json]

Runs each side in its own process (so peak memory is each side's own), on the default model: the engine on
the converted CTranslate2 int8 folder, transformers on the same GGUF weights (dequantized to float32, which
is how transformers runs a GGUF), with the same prompts, greedy decoding and the same generation limits.
Then measures how long `bayling-cat translate -` takes to print its first line with the cached model.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.segments import SEGMENTS  # noqa: E402


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine_side(threads: int, n: int) -> dict:
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import ensure_default_model

    folder = ensure_default_model(progress=lambda m: print(m, file=sys.stderr))
    engine = Engine(folder, device="cpu", threads=threads)
    segments = SEGMENTS[:n]
    engine.translate(segments[:2], "en", "de")  # warm-up
    start = time.perf_counter()
    results = engine.translate(segments, "en", "de")
    elapsed = time.perf_counter() - start
    tokens = sum(r.generated_tokens for r in results)
    return {"side": "engine (CTranslate2 int8)", "seconds": elapsed, "segments": n, "generated_tokens": tokens,
            "segments_per_s": n / elapsed, "tokens_per_s": tokens / elapsed, "peak_rss_mb": peak_rss_mb(),
            "flagged": sum(1 for r in results if r.flags)}


def transformers_side(threads: int, n: int) -> dict:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from bayling_cat import languages
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import default_gguf, ensure_default_model
    from bayling_cat.templates import Message

    torch.set_num_threads(threads)
    gguf = default_gguf()
    model = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model.eval()
    # the engine's prompts and generation limits, so both sides do the same work
    engine = Engine(ensure_default_model(), device="cpu", threads=1)
    end_ids = [tokenizer.convert_tokens_to_ids(t) for t in engine.info.end_tokens]
    # the engine ends a one-line segment's answer at a line break; so does this loop
    stops = end_ids + engine.newline_ids
    segments = SEGMENTS[:n]
    jobs = []
    for s in segments:
        request = engine.template.translation_request(s, languages.name("en"), languages.name("de"))
        prompt = engine.template.render([Message("user", request)])
        ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
        jobs.append((ids, engine.generation_limit(engine.count_tokens(s), ids.shape[1])))
    del engine

    def run(job):
        ids, limit = job
        with torch.inference_mode():
            out = model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=limit, do_sample=False,
                                 eos_token_id=stops, pad_token_id=end_ids[0])
        generated = out[0, ids.shape[1]:].tolist()
        return len(generated) - (1 if generated and generated[-1] in stops else 0)

    run(jobs[0])  # warm-up
    start = time.perf_counter()
    tokens = sum(run(job) for job in jobs)
    elapsed = time.perf_counter() - start
    return {"side": "transformers generate (float32)", "seconds": elapsed, "segments": n, "generated_tokens": tokens,
            "segments_per_s": n / elapsed, "tokens_per_s": tokens / elapsed, "peak_rss_mb": peak_rss_mb()}


def first_line_latency(threads: int) -> dict:
    """Seconds from starting `bayling-cat translate -` to its first output line, and the generation part."""
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import ensure_default_model

    line = "The file could not be saved."
    engine = Engine(ensure_default_model(), device="cpu", threads=threads)
    engine.translate([line], "en", "de")
    start = time.perf_counter()
    engine.translate([line], "en", "de")
    generation = time.perf_counter() - start
    cmd = [sys.executable, "-m", "bayling_cat", "translate", "-", "-s", "en", "-t", "de", "--threads", str(threads)]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    proc.stdin.write(line + "\n")
    proc.stdin.flush()
    proc.stdout.readline()
    first = time.perf_counter() - start
    proc.stdin.close()
    proc.wait()
    return {"first_line_s": first, "generation_s": generation, "overhead_s": first - generation}


def make_xliff(n: int) -> bytes:
    """An XLIFF 1.2 file of ``n`` units with inline codes and repeats, as real UI files have."""
    from xml.sax.saxutils import escape

    units = []
    for i in range(n):
        text = escape(SEGMENTS[i % len(SEGMENTS)])
        if i % 3 == 1:  # some carry inline codes
            first, _, rest = text.partition(" ")
            text = f'<g id="{i}" ctype="bold">{first}</g> {rest}<x id="{i}b"/>' if rest else f'<ph id="{i}">%s</ph> {text}'
        if i % 5 < 2:  # numbered variants make most units distinct; the rest repeat
            text = f"Step {i // 7}: {text}"
        units.append(f'      <trans-unit id="u{i}"><source>{text}</source></trans-unit>')
    return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xliff version=\"1.2\" "
            "xmlns=\"urn:oasis:names:tc:xliff:document:1.2\">\n  <file original=\"bench\" source-language=\"en\" "
            "target-language=\"de\" datatype=\"plaintext\">\n    <body>\n" + "\n".join(units) +
            "\n    </body>\n  </file>\n</xliff>\n").encode("utf-8")


def pipeline_side(threads: int, n: int, mixed: bool = False) -> dict:
    """The whole pipeline on an n-unit XLIFF: segments/s and the share of time spent outside the model;
    ``mixed``: batches of prompts of mixed lengths (translate --mixed-batches) instead of equal lengths only."""
    import tempfile

    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import ensure_default_model
    from bayling_cat.pipeline import Options, Pipeline

    from bayling_cat.engines.base import BaseEngine

    engine = Engine(ensure_default_model(), device="cpu", threads=threads)
    engine.decoding.same_length_batches = not mixed
    engine.translate(SEGMENTS[:2], "en", "de")  # warm-up
    model_seconds = [0.0]

    class Timed(BaseEngine):  # the engine, its model calls timed (a second try's decoding included)
        def __init__(self, inner):
            self.inner, self.decoding, self.path = inner, inner.decoding, inner.path

        def with_decoding(self, **changes):
            return Timed(self.inner.with_decoding(**changes))

        def translate(self, texts, src, tgt, progress=None, **kwargs):
            start = time.perf_counter()
            try:
                return self.inner.translate(texts, src, tgt, progress=progress, **kwargs)
            finally:
                model_seconds[0] += time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.xlf"
        path.write_bytes(make_xliff(n))
        start = time.perf_counter()
        run = Pipeline(Timed(engine), Options(output=Path(tmp) / "out.xlf"))
        [result] = run.run([str(path)])
        total = time.perf_counter() - start
    assert result.error is None, result.error
    return {"units": n, "batches": "mixed lengths" if mixed else "equal lengths", "model_calls": run.model_calls,
            "seconds": total, "model_seconds": model_seconds[0],
            "segments_per_s": n / total, "outside_model_share": (total - model_seconds[0]) / total,
            "peak_rss_mb": peak_rss_mb()}


def memory_side(threads: int, n: int) -> dict:
    """The n-unit XLIFF with a fresh memory, then again (all from memory); then a run killed half-way and
    resumed: the model calls of both runs together against one full run."""
    import tempfile

    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import ensure_default_model
    from bayling_cat.pipeline import Options, Pipeline

    engine = Engine(ensure_default_model(), device="cpu", threads=threads)
    engine.translate(SEGMENTS[:2], "en", "de")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        path = tmp / "bench.xlf"
        path.write_bytes(make_xliff(n))

        def run(memory, translator=engine):
            pipeline = Pipeline(translator, Options(output=tmp / "out.xlf", memory=memory, model_id="default"))
            start = time.perf_counter()
            [result] = pipeline.run([str(path)])
            assert result.error is None, result.error
            return time.perf_counter() - start, pipeline.model_calls

        first_s, first_calls = run(tmp / "m1.sqlite")
        second_s, second_calls = run(tmp / "m1.sqlite")

        class Killed(Exception):
            pass

        calls = [0]

        from bayling_cat.engines.base import BaseEngine

        class DiesHalfway(BaseEngine):
            decoding = engine.decoding

            def with_decoding(self, **changes):
                return self

            def translate(self, texts, *args, **kwargs):
                if calls[0] >= first_calls // 2:
                    raise Killed()
                calls[0] += len(texts)
                return engine.translate(texts, *args, **kwargs)

        try:
            run(tmp / "m2.sqlite", DiesHalfway())
        except Killed:
            pass
        _, resumed_calls = run(tmp / "m2.sqlite")
    return {"units": n, "first_s": first_s, "first_calls": first_calls, "second_s": second_s,
            "second_calls": second_calls, "speedup": first_s / second_s, "killed_calls": calls[0],
            "resumed_calls": resumed_calls, "chunk": Options().chunk}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--segments", type=int, default=60)
    parser.add_argument("--units", type=int, default=1000, help="units in the generated pipeline XLIFF")
    parser.add_argument("--only", choices=["foundation", "pipeline", "memory"], help="run one part only")
    parser.add_argument("--side", choices=["engine", "transformers", "latency", "pipeline", "memory"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--mixed-batches", action="store_true",
                        help="the pipeline with batches of mixed prompt lengths (translate --mixed-batches)")
    args = parser.parse_args()
    if args.side:
        if args.side == "pipeline":
            result = pipeline_side(args.threads, args.units, args.mixed_batches)
        elif args.side == "memory":
            result = memory_side(args.threads, args.units)
        elif args.side == "latency":
            result = first_line_latency(args.threads)
        else:
            result = {"engine": engine_side, "transformers": transformers_side}[args.side](args.threads, args.segments)
        print(json.dumps(result))
        return
    sides = {"foundation": ("engine", "transformers", "latency"), "pipeline": ("pipeline",), "memory": ("memory",)}
    figures = {}
    for side in sides.get(args.only, sides["foundation"] + sides["pipeline"] + sides["memory"]):
        out = subprocess.run([sys.executable, __file__, "--side", side, "--threads", str(args.threads),
                              "--segments", str(args.segments), "--units", str(args.units)]
                             + (["--mixed-batches"] if args.mixed_batches else []),
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"benchmark side {side} failed:\n{out.stderr[-3000:]}")
        figures[side] = json.loads(out.stdout.strip().splitlines()[-1])
    if "engine" in figures:
        print_foundation(figures, args)
    if "pipeline" in figures:
        p = figures["pipeline"]
        print(f"pipeline: {p['units']}-unit XLIFF ({p['model_calls']} model calls, {p['batches']}) in "
              f"{p['seconds']:.1f} s: "
              f"{p['segments_per_s']:.2f} units/s; outside the model {p['outside_model_share'] * 100:.1f}% "
              f"({p['seconds'] - p['model_seconds']:.2f} s: parsing, placeholders, writing)")
    if "memory" in figures:
        m = figures["memory"]
        print(f"memory: first run {m['first_s']:.1f} s ({m['first_calls']} model calls), second run "
              f"{m['second_s']:.2f} s ({m['second_calls']} model calls): {m['speedup']:.0f}x faster")
        print(f"resume: killed after {m['killed_calls']} model calls, the second run made {m['resumed_calls']}: "
              f"{m['killed_calls'] + m['resumed_calls']} in all against {m['first_calls']} for one full run "
              f"(chunk of {m['chunk']})")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(figures, indent=2))


def print_foundation(figures, args):
    e, t, lat = figures["engine"], figures["transformers"], figures["latency"]
    print(f"default model, {args.segments} segments en->de, {args.threads} threads, greedy, same prompts and limits")
    print(f"{'':34} {'seg/s':>8} {'gen tok/s':>10} {'tokens':>7} {'seconds':>8} {'peak RSS':>9}")
    for r in (e, t):
        print(f"{r['side']:34} {r['segments_per_s']:8.2f} {r['tokens_per_s']:10.1f} {r['generated_tokens']:7d} "
              f"{r['seconds']:8.1f} {r['peak_rss_mb']:7.0f}MB")
    print(f"engine / transformers: {e['segments_per_s'] / t['segments_per_s']:.2f}x segments/s, "
          f"{e['tokens_per_s'] / t['tokens_per_s']:.2f}x generated tokens/s")
    print(f"bayling-cat translate -: first line after {lat['first_line_s']:.2f} s, of which generation "
          f"{lat['generation_s']:.2f} s: {lat['overhead_s']:.2f} s beyond the generation")


if __name__ == "__main__":
    main()
