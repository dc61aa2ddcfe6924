"""What several benchmark scripts share: a real `bayling-cat serve` process, numbered segments, the JSON report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from bench.segments import SEGMENTS


def start_server(args=(), what: str = "the server", **popen) -> tuple[subprocess.Popen, str]:
    """`bayling-cat serve --port 0 ARGS` in a child process and the address it announces (a free loopback port);
    the caller terminates the process. Exits with one line when it does not start."""
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", "0", *args],
                            stderr=subprocess.PIPE, text=True, **popen)
    while True:
        line = proc.stderr.readline()
        if not line:
            proc.wait(60)
            sys.exit(f"{what} did not start")
        m = re.search(r"serving on (http://\S+/)", line)
        if m:
            return proc, m.group(1)


def numbered(n: int) -> list[str]:
    """``n`` benchmark segments: the 60 of segments.py, then again with a number, so that none repeats."""
    return [SEGMENTS[i % len(SEGMENTS)] + ("" if i < len(SEGMENTS) else f" ({i})") for i in range(n)]


def report(figures: dict, path: Path | None) -> None:
    """The figures on standard output, and in ``path`` (--json) too when given."""
    print(json.dumps(figures, indent=2))
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n")
