"""The two engines side by side on the default model: one segment at a time, a document batch, and the server.

    python bench/engines.py [--threads 1] [--single 16] [--batch 60] [--completions 24] [--json out.json]

In one run, on the same default model (SmolLM2-135M: the converted CTranslate2 int8 folder, and the packaged
Q4_1 GGUF as llama.cpp runs it), greedy decoding, the same prompts and generation limits:

1. one segment at a time (``--single`` segments, each its own call): median and p90 latency, generated
   tokens/s, for the CTranslate2 engine, the llama.cpp engine, and llama.cpp's own generation loop
   (llama-cpp-python's ``Llama.generate`` on the same prompt tokens, stopping at the same tokens);
   (tokens/s count the tokens kept after the repetition cut, for all three);
2. a document batch (``--batch`` segments in one call): segments/s for each engine;
3. through a real ``bayling-cat serve`` process per engine: ``/v1/translate`` with one segment per request,
   and ``/v1/complete`` (predictive typing: the source and a growing typed prefix), median and p90; and
   llama.cpp's own loop continuing the same prefixes.

Each time is given twice: wall clock, and the CPU seconds the call used (the server process's, read from
/proc). On a machine shared with other work the CPU time is what the call takes alone on a free core
(one thread), and the fair comparison; wall clock then mostly measures the other work.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import report, start_server  # noqa: E402
from bench.segments import SEGMENTS  # noqa: E402


def p90(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]


def summary(latencies, tokens, cpu=None):
    """Wall-clock latencies, and the CPU seconds each call took (``cpu``): on a machine shared with other
    work the CPU time is what the call would take alone on a free core (one thread)."""
    out = {"median_ms": 1000 * statistics.median(latencies), "p90_ms": 1000 * p90(latencies),
           "tokens_per_s": tokens / sum(latencies), "requests": len(latencies)}
    if cpu:
        out.update(cpu_median_ms=1000 * statistics.median(cpu), cpu_p90_ms=1000 * p90(cpu),
                   cpu_tokens_per_s=tokens / sum(cpu))
    return out


def server_cpu(pid: int) -> float:
    """CPU seconds the server process has used (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def single(engine, segments):
    engine.translate(segments[:2], "en", "de")  # warm-up
    latencies, cpu, tokens = [], [], 0
    for s in segments:
        start, used = time.perf_counter(), time.process_time()
        [g] = engine.translate([s], "en", "de")
        latencies.append(time.perf_counter() - start)
        cpu.append(time.process_time() - used)
        tokens += g.generated_tokens
    return summary(latencies, tokens, cpu)


def batch(engine, segments):
    engine.translate(segments[:2], "en", "de")
    start, used = time.perf_counter(), time.process_time()
    results = engine.translate(segments, "en", "de")
    elapsed, cpu = time.perf_counter() - start, time.process_time() - used
    return {"segments": len(segments), "seconds": elapsed, "segments_per_s": len(segments) / elapsed,
            "tokens_per_s": sum(g.generated_tokens for g in results) / elapsed, "cpu_seconds": cpu,
            "cpu_segments_per_s": len(segments) / cpu}


class LlamaOwn:
    """llama.cpp's own loop: llama-cpp-python's Llama.generate (with its own prompt cache), greedy, on the
    prompt tokens the engine makes, stopped at the same end tokens (and line breaks for a one-line source)
    and the same limit, with the same repetition cut when counting tokens."""

    def __init__(self, engine, threads):
        from llama_cpp import Llama

        self.engine = engine
        self.llm = Llama(str(engine.path), n_ctx=engine.info.context_length, n_threads=threads,
                         n_threads_batch=threads, verbose=False)

    def run(self, source, prefix=""):
        from bayling_cat.engines.base import find_repetition

        e = self.engine
        [conv] = e.requests([source], "en", "de")
        prompt = e.encode_prompt(e.template.render(conv)) + (e.tokenize(prefix) if prefix else [])
        limit = e.generation_limit(e.count_tokens(source), len(prompt))
        ends = set(e._end_ids)
        stops = ends | (set(e.newline_ids) if e._is_one_line(source) else set())
        out = []
        for token in self.llm.generate(prompt, top_k=1, top_p=1.0, min_p=0.0, temp=0.0, repeat_penalty=1.0):
            if token in stops and (out or token in ends):
                break
            out.append(token)
            if len(out) >= limit:
                break
        loop = find_repetition(out)
        return loop[0] if loop else len(out)


def llama_cpp_own(own, segments):
    for s in segments[:2]:
        own.run(s)
    latencies, cpu, tokens = [], [], 0
    for s in segments:
        start, used = time.perf_counter(), time.process_time()
        tokens += own.run(s)
        latencies.append(time.perf_counter() - start)
        cpu.append(time.process_time() - used)
    return summary(latencies, tokens, cpu)


def llama_cpp_own_typing(own, segments, completions):
    """Predictive typing with llama.cpp's own loop: the greedy continuation of the same growing prefixes (no
    alternatives: the least work a completion can be)."""
    calls = []
    for s in segments[:max(1, completions // 3)]:
        prefix = ""
        for _ in range(3):
            start, used = time.perf_counter(), time.process_time()
            own.run(s, prefix)
            calls.append((time.perf_counter() - start, time.process_time() - used))
            continuation, _ = own.engine.complete(s, prefix, "en", "de", alternatives=0)
            words = continuation.split()
            prefix = (prefix + " " + words[0]).strip() if words else prefix
    return timing(calls)


def post(url, route, body, pid):
    req = urllib.request.Request(url + route, method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps(body).encode())
    start, used = time.perf_counter(), server_cpu(pid)
    with urllib.request.urlopen(req, timeout=600) as r:
        data = json.loads(r.read())
    return time.perf_counter() - start, server_cpu(pid) - used, data


def timing(calls):
    wall, cpu = [c[0] for c in calls], [c[1] for c in calls]
    return {"median_ms": 1000 * statistics.median(wall), "p90_ms": 1000 * p90(wall),
            "cpu_median_ms": 1000 * statistics.median(cpu), "cpu_p90_ms": 1000 * p90(cpu), "requests": len(calls)}


def server(engine_name, threads, segments, completions, home):
    env = dict(os.environ, BAYLING_CAT_HOME=home)
    env.pop("BAYLING_CAT_MODEL", None)
    proc, url = start_server(["--engine", engine_name, "--threads", str(threads)], f"the {engine_name} server",
                             env=env, cwd=ROOT)
    try:
        lang = {"source_lang": "en", "target_lang": "de"}
        for s in segments[:2]:
            post(url, "v1/translate", {**lang, "segments": [s]}, proc.pid)
        calls = [post(url, "v1/translate", {**lang, "segments": [s]}, proc.pid) for s in segments]
        # predictive typing: per source, the prefix grows by the words the engine itself proposed
        typing = []
        for s in segments[:max(1, completions // 3)]:
            prefix = ""
            for _ in range(3):
                call = post(url, "v1/complete", {**lang, "source": s, "prefix": prefix, "alternatives": 5}, proc.pid)
                typing.append(call)
                words = (call[2]["continuation"] or "").split()
                prefix = (prefix + " " + words[0]).strip() if words else prefix
        return {"translate_one": timing(calls), "complete": timing(typing)}
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--single", type=int, default=16)
    parser.add_argument("--batch", type=int, default=60)
    parser.add_argument("--completions", type=int, default=24)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.engines.llamacpp import Engine as LlamaEngine
    from bayling_cat.models import default_gguf, ensure_default_model, home

    say = lambda m: print(m, file=sys.stderr)  # noqa: E731
    singles = SEGMENTS[8:8 + args.single]  # sentences and UI strings of mixed length
    out = {"threads": args.threads, "machine_cores": os.cpu_count()}
    ct2 = Engine(ensure_default_model(say), device="cpu", threads=args.threads)
    llama = LlamaEngine(default_gguf(), device="cpu", threads=args.threads)
    say("one segment at a time ...")
    own = LlamaOwn(llama, args.threads)
    out["single"] = {"ctranslate2": single(ct2, singles), "llamacpp": single(llama, singles),
                     "llama.cpp own loop": llama_cpp_own(own, singles)}
    out["complete_llama_cpp_own_loop"] = llama_cpp_own_typing(own, singles, args.completions)
    say("document batch ...")
    out["batch"] = {"ctranslate2": batch(ct2, SEGMENTS[:args.batch]), "llamacpp": batch(llama, SEGMENTS[:args.batch])}
    del ct2, llama, own
    say("server ...")
    out["server"] = {name: server(name, args.threads, singles, args.completions, str(home()))
                     for name in ("ctranslate2", "llamacpp")}
    report(out, args.json)


if __name__ == "__main__":
    main()
