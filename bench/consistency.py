"""Does a segment's translation depend on the traffic it was batched with? On the default model, greedy.

    python bench/consistency.py [--rounds 3] [--max-batch 32] [--mixed-batches]

Each of the 60 benchmark segments is first translated alone (one request, a batch of one), then all of them
are sent again at once from concurrent clients, in a different order each round, so that the server's
batcher mixes them into batches of other sizes and lengths. The figure is the share of segments whose
mixed-batch translation is identical to the one they got alone. Runs the server's own Service (batcher and
engine) in-process, without HTTP, so that only batching differs between the two passes.
"""

from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.segments import SEGMENTS  # noqa: E402


def mixed(service, texts: list[str], order: list[int]) -> list[str]:
    out: list[str | None] = [None] * len(texts)

    def one(i):
        [gen] = service.engine.translate([texts[i]], "en", "de")  # the model through the server's batcher
        out[i] = gen.text

    threads = [threading.Thread(target=one, args=(i,)) for i in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out  # type: ignore[return-value]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--max-batch", type=int, default=32)
    parser.add_argument("--window", type=float, default=0.2, help="seconds a request waits for others")
    parser.add_argument("--model", default=None, help="a converted model (default: the default model)")
    parser.add_argument("--mixed-batches", action="store_true",
                        help="batch prompts of different lengths together (serve --mixed-batches; the old behaviour)")
    args = parser.parse_args()

    from bayling_cat.cli import load_engine
    from bayling_cat.server.service import Service

    engine = load_engine(model=args.model, engine="ctranslate2", device="cpu", device_index=0, compute_type="auto",
                         threads=0, beam_size=1, temperature=0.0, top_p=1.0, batch_size=32, max_new_tokens=256)
    same = not args.mixed_batches
    texts = list(SEGMENTS)
    started = time.perf_counter()
    alone_service = Service(engine, max_batch=1, window=0.0, same_length_batches=same)
    alone = [alone_service.engine.translate([t], "en", "de")[0].text for t in texts]
    alone_service.batcher.stop()
    print(f"alone: {len(texts)} segments in {time.perf_counter() - started:.1f} s")
    rng = random.Random(7)
    shares = []
    for r in range(args.rounds):
        service = Service(engine, max_batch=args.max_batch, window=args.window, same_length_batches=same)
        order = list(range(len(texts)))
        rng.shuffle(order)
        started = time.perf_counter()
        got = mixed(service, texts, order)
        same = sum(a == b for a, b in zip(alone, got))
        shares.append(same / len(texts))
        print(f"round {r + 1}: {same}/{len(texts)} identical ({100 * same / len(texts):.0f} %), "
              f"{service.batcher.batches} batches, {time.perf_counter() - started:.1f} s")
        service.batcher.stop()  # the engine stays loaded for the next round
    mode = "mixed-length batches" if args.mixed_batches else "same-length batches (the default)"
    print(f"{mode}: identical alone vs batched with other traffic: {100 * sum(shares) / len(shares):.1f} % "
          f"(min {100 * min(shares):.0f} %, {args.rounds} rounds, max batch {args.max_batch})")


if __name__ == "__main__":
    main()
