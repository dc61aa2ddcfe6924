"""Throughput of `bayling-cat serve` with 8 concurrent clients against 1 client, on the default model.

    python bench/server.py [--requests 48] [--clients 8]

Starts a real server process on a loopback port; every request carries one segment (as a CAT tool
pre-translating segment by segment does). The same requests are sent first by one client, one after the
other, then by N clients at once; the server's dynamic batching is what makes the difference.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import numbered, start_server  # noqa: E402


def post(url: str, text: str) -> None:
    req = urllib.request.Request(url + "v1/translate", method="POST", headers={"Content-Type": "application/json"},
                                 data=json.dumps({"source_lang": "en", "target_lang": "de", "segments": [text]}).encode())
    with urllib.request.urlopen(req, timeout=600) as r:
        json.loads(r.read())


def run(url: str, texts: list[str], clients: int) -> float:
    queue = list(texts)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not queue:
                    return
                text = queue.pop(0)
            post(url, text)

    start = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=48)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--parallel", type=int, default=0, help="batches at once (0: the server's default)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads per batch (0: the server's default)")
    parser.add_argument("--mixed-batches", action="store_true",
                        help="serve --mixed-batches: batch prompts of different lengths together")
    args = parser.parse_args()
    options = ["--http-threads", "16", "--max-batch", "32", "--batch-window", "0.02", "--threads", str(args.threads),
               "--parallel", str(args.parallel)] + (["--mixed-batches"] if args.mixed_batches else [])
    proc, url = start_server(options)
    try:
        texts = numbered(args.requests)
        post(url, "Warm up.")
        one = run(url, texts, 1)
        many = run(url, texts, args.clients)
        print(f"{args.requests} requests of one segment, default model, server defaults (threads {args.threads or 'auto'}"
              f"{', mixed-length batches' if args.mixed_batches else ''})")
        print(f"1 client:  {one:7.1f} s  {args.requests / one:6.2f} segments/s")
        print(f"{args.clients} clients: {many:7.1f} s  {args.requests / many:6.2f} segments/s")
        print(f"throughput ratio: {one / many:.2f}x")
    finally:
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()
