"""The OpenAI protocol two ways, on the default model: Weblate's batches against OmegaT plugins' one request
per segment.

    python bench/protocols.py [--segments 48] [--batch 20]

Starts a real `bayling-cat serve` on a loopback port and sends the same segments (en→de) as
- Weblate's OpenAI machinery sends them: batches of 20 strings in one chat request (its JSON form: system
  prompt, example turn, then the strings), one request after the other;
- OmegaT's OpenAI plugins send them: one chat request per segment (a system prompt naming the languages,
  the segment as the user turn), one after the other, as a translator moving through a file.
Both go through the same translation path; the difference is how many segments share a model call.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import numbered, start_server  # noqa: E402


def chat(url: str, messages: list[dict]) -> str:
    req = urllib.request.Request(url + "v1/chat/completions", method="POST",
                                 headers={"Content-Type": "application/json", "Authorization": "Bearer none"},
                                 data=json.dumps({"model": "gpt-4o", "temperature": 0, "messages": messages}).encode())
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.loads(r.read())["choices"][0]["message"]["content"]


def weblate(url: str, texts: list[str], batch: int) -> float:
    start = time.perf_counter()
    for k in range(0, len(texts), batch):
        part = texts[k:k + batch]
        payload = {"source_language": "en", "target_language": "de", "glossary": [],
                   "strings": [{"source": t} for t in part]}
        answer = json.loads(chat(url, [
            {"role": "system", "content": "You are a professional translation engine specialized in structured "
                                          "localization tasks. Respond ONLY with a valid JSON array."},
            {"role": "user", "content": json.dumps({"source_language": "en", "target_language": "cs", "glossary": [],
                                                    "strings": [{"source": "Weblate"}]})},
            {"role": "assistant", "content": json.dumps(["Weblate"])},
            {"role": "user", "content": json.dumps(payload)}]))
        assert len(answer) == len(part)
    return time.perf_counter() - start


def omegat(url: str, texts: list[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        chat(url, [{"role": "system", "content": "Translate the following text from English to German. "
                                                 "Reply with the translation only."},
                   {"role": "user", "content": text}])
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--segments", type=int, default=48)
    parser.add_argument("--batch", type=int, default=20)
    args = parser.parse_args()
    proc, url = start_server()
    try:
        texts = numbered(args.segments)
        omegat(url, ["Warm up."])
        batched = weblate(url, texts, args.batch)
        single = omegat(url, texts)
        print(f"{args.segments} segments en->de, default model, server defaults, OpenAI protocol")
        print(f"Weblate (batches of {args.batch} in one chat request): {batched:7.1f} s  "
              f"{args.segments / batched:6.2f} segments/s")
        print(f"OmegaT plugin (one chat request per segment):  {single:7.1f} s  {args.segments / single:6.2f} segments/s")
        print(f"ratio: {single / batched:.2f}x")
    finally:
        proc.terminate()
        proc.wait(60)


if __name__ == "__main__":
    main()
