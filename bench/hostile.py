"""The hostile family against a real `bayling-cat serve`: every wrong value of every field of every route, malformed
bodies in every content type, hostile uploads and paths, and what the third hardening round found (issue 25:
20 KB chat requests of newlines, a PO declaring nplurals=50000000, a glossary flood, query-string keys, a
non-ASCII workbench token, deep JSON), sent over HTTP one after the other (or from --clients threads).

    python bench/hostile.py [--model PATH] [--clients 1] [--quick] [--json bench/out/hostile.json]

Prints the counts: requests, answers by class (2xx, 4xx, 5xx, no answer), the server's peak resident memory
(VmHWM) and the slowest answer with its request. A 5xx other than a 503 with Retry-After, or no answer at all,
is a finding: the exit code is then 1. The server runs with a short generation limit (--max-new-tokens 4), so
that the requests that are valid cost little model time.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import report, start_server  # noqa: E402
from tests.test_server import ROUTES, encode, every_wrong_value  # noqa: E402  (the tests' generator)

MALFORMED = [b"[" * 100_000, b'{"a":' * 50_000, b"\xff\xfe\x00garbage", b"\xc3\x28 not utf-8", b"NaN", b"1e400",
             b'"just a string"', b"", b"\x00" * 100, b'{"a": 1} trailing',
             '{"q": "\\ud800", "text": "\\udfff", "segments": ["\\ud800"]}'.encode()]
CONTENT_TYPES = ["application/json", "application/x-www-form-urlencoded", "text/plain", "multipart/form-data"]


def multipart(fields: dict, name: str, payload: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    out = io.BytesIO()
    for key, value in fields.items():
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{key}\"\r\n\r\n{value}\r\n".encode())
    out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n"
              "Content-Type: application/octet-stream\r\n\r\n".encode("utf-8", "surrogatepass") + payload + b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def round_three() -> list[tuple]:
    """(method, path, body, content type, headers) for what issue 25 found."""
    nplurals = (b'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
                b'"Plural-Forms: nplurals=50000000; plural=n;\\n"\n\nmsgid "One"\nmsgid_plural "Many"\n'
                b'msgstr[0] ""\n')
    chat = lambda content: json.dumps({"model": "m", "messages": [{"role": "user", "content": content}]}).encode()
    out = [
        ("POST", "/v1/chat/completions", chat("Translate to German:\n" + "\n" * 20_000 + "x"), "application/json", {},
         "(20 KB of newlines)"),
        ("POST", "/v1/chat/completions", chat("[" * 100_000), "application/json", {}, "(100,000 '[')"),
        ("POST", "/v1/chat/completions", b'{"model": "m", "messages": [{"role": "user", "content": "\\ud800"}]}',
         "application/json", {}, "(a lone surrogate)"),
        ("GET", "/translate?langpair=en|de&q=" + "%07%00" * 10, None, None, {}),
        ("GET", "/workbench/api/documents", None, None, {"X-Workbench-Token": "t\u00e9st"}, "(a non-ASCII token)"),
    ]
    for name in ("nplurals.po", "x.po"):
        for path, fields in (("/v1/documents", {"target_lang": "de"}), ("/v2/document", {"target_lang": "DE"}),
                             ("/translate_file", {"source": "en", "target": "de"})):
            body, ctype = multipart(fields, name, nplurals)
            out.append(("POST", path, body, ctype, {}))
    entries = "\n".join(f"term {i}\tBegriff {i}" for i in range(10_000))
    for i in range(40):  # a glossary flood: capped by the server, never its memory
        out.append(("POST", "/v2/glossaries", json.dumps({"name": f"g{i}", "source_lang": "EN", "target_lang": "DE",
                                                         "entries": entries, "entries_format": "tsv"}).encode(),
                    "application/json", {}))
    return out


def family(quick: bool) -> list[tuple]:
    requests = []
    for n, (path, _, _, body) in enumerate(every_wrong_value(ROUTES)):
        if not quick or n % 10 == 0:
            requests.append(("POST", path, encode(body).encode("utf-8", "surrogatepass"), "application/json", {}))
    for path, _ in ROUTES:
        for raw in MALFORMED:
            for ctype in CONTENT_TYPES[:2] if quick else CONTENT_TYPES:
                requests.append(("POST", path, raw, ctype, {}))
    for path in ("/v1/documents", "/v2/document", "/translate_file", "/v1/glossaries"):
        for payload in (b"", b"PK\x03\x04 not a zip", b"<?xml version='1.0'?><xliff", b"\x00\x01"):
            for name in ("x.xlf", "x.docx", "x.po", "a" * 255, "\u00e9.xlf"):
                body, ctype = multipart({"target_lang": "de", "source_lang": "en", "target": "de", "source": "en"},
                                        name, payload)
                requests.append(("POST", path, body, ctype, {}))
    for path in ("/v1/documents/..", "/v1/documents/%00", "/v1/documents/" + "a" * 5000, "/v1/glossaries/%ff",
                 "/download_file/x/..", "/v2/glossaries/%00/entries", "/v2/languages?type=%ff%fe",
                 "/languages?x=" + "%00" * 100, "/health?" + "a=1&" * 1000):
        requests.append(("GET", path, None, None, {}))
    return requests + round_three()


def send(address: str, request: tuple) -> tuple[int | None, float, str]:
    method, path, body, ctype, headers = request[:5]
    label = request[5] if len(request) > 5 else ""
    url = urlsplit(address)
    started = time.monotonic()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=600)
    try:
        hdrs = {**({"Content-Type": ctype} if ctype else {}), **headers}
        conn.putrequest(method, path, skip_accept_encoding=True)
        for k, v in hdrs.items():
            conn.putheader(k, v.encode("utf-8") if isinstance(v, str) else v)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body)
        response = conn.getresponse()
        response.read()
        status = response.status
        if status == 503 and not response.getheader("Retry-After"):
            status = 599  # a 503 without Retry-After counts as a fault
    except (OSError, http.client.HTTPException):
        status = None
    finally:
        conn.close()
    return status, time.monotonic() - started, f"{method} {path[:60]} {label}".rstrip()


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="the server's model (default: the embedded one)")
    parser.add_argument("--clients", type=int, default=1, help="requests sent at once")
    parser.add_argument("--quick", action="store_true", help="a tenth of the wrong-value family")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    server_args = ["--max-new-tokens", "4", "--threads", "1"] + (["--model", args.model] if args.model else [])
    proc, address = start_server(server_args, "bayling-cat serve")
    threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()  # drain its log
    requests = family(args.quick)
    counts = {"requests": 0, "2xx": 0, "4xx": 0, "5xx": 0, "503 with Retry-After": 0, "no answer": 0}
    slowest = (0.0, "")
    findings = []
    started = time.monotonic()
    try:
        with ThreadPoolExecutor(args.clients) as pool:
            for status, seconds, what in pool.map(lambda r: send(address, r), requests):
                counts["requests"] += 1
                if status is None:
                    counts["no answer"] += 1
                    findings.append(f"no answer: {what}")
                elif status == 503:
                    counts["503 with Retry-After"] += 1
                elif status >= 500:
                    counts["5xx"] += 1
                    findings.append(f"{status}: {what}")
                else:
                    counts[f"{status // 100}xx"] = counts.get(f"{status // 100}xx", 0) + 1
                slowest = max(slowest, (seconds, what))
        rss = peak_rss(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
    figures = {**counts, "server peak RSS MB": round(rss / 1e6, 1), "slowest answer s": round(slowest[0], 2),
               "slowest request": slowest[1], "wall s": round(time.monotonic() - started, 1),
               "findings": findings[:50]}
    report(figures, args.json)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
