"""Memory and time a DOCX ZIP bomb costs: a Word document with one bzip2 entry of zeros (a few KB that expand
to --size MiB), translated by the pipeline in a child process with a scripted translator.

    python bench/zip_bomb.py [--size 2048] [--json bench/out/zip_bomb.json]

Reports the package's size, the child's peak resident memory (ru_maxrss), its wall time and the one line it
printed. Before the ZIP limits (issue 10, item 8) the 2 GiB bomb took 4.2 GB and died under a memory limit.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import report  # noqa: E402

CHILD = """
import resource, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from bayling_cat.pipeline import Options, Pipeline
from tests.fakes import ScriptedTranslator
said = []
result = Pipeline(ScriptedTranslator(), Options(output=Path({out!r}), target_lang="de", checks=False),
                  say=said.append).run([{path!r}])[0]
print(result.error or "translated")
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def build_bomb(folder: Path, size_mib: int) -> Path:
    from tests.docx_fixture import build

    base = build(folder / "base.docx")
    path = folder / "bomb.docx"
    zeros = b"\0" * (1 << 20)
    with zipfile.ZipFile(base) as zin, zipfile.ZipFile(path, "w") as zout:
        for info in zin.infolist():
            zout.writestr(info, zin.read(info.filename))
        info = zipfile.ZipInfo("word/media/zeros.bin")
        info.compress_type = zipfile.ZIP_BZIP2
        with zout.open(info, "w", force_zip64=size_mib >= 2048) as fh:
            for _ in range(size_mib):
                fh.write(zeros)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="MiB the bomb expands to")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.monotonic()
        path = build_bomb(folder, args.size)
        built = time.monotonic() - started
        started = time.monotonic()
        child = subprocess.run([sys.executable, "-c", CHILD.format(root=str(ROOT), out=str(folder / "out.docx"),
                                                                   path=str(path))],
                               capture_output=True, text=True)
        seconds = time.monotonic() - started
        lines = child.stdout.strip().splitlines()
        figures = {"expands_to_mib": args.size, "package_bytes": path.stat().st_size,
                   "build_seconds": round(built, 1), "seconds": round(seconds, 2),
                   "peak_rss_mib": round(int(lines[-1]) / 1024, 1) if lines else None,
                   "outcome": lines[0] if lines else child.stderr.strip().splitlines()[-1:]}
    report(figures, args.json)


if __name__ == "__main__":
    main()
