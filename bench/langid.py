"""Which language-identification library for LibreTranslate /detect, source "auto", DeepL without source_lang
and files that name no source language: py3langid against lingua-language-detector, on short UI strings.

The strings are the real ones of the corpus (../shared/corpus): every source and every non-empty target of
the XLIFF, SDLXLIFF, MQXLIFF and PO files whose language the file declares, read with bayling-cat's own
connectors, 2 to 80 characters long (short UI strings: buttons, menu items, messages), placeholders and tags
taken out. A guess is right when its base language equals the file's. Load time and the peak memory of a
fresh process that loads the library and answers once are measured in a subprocess per library.

    pip install lingua-language-detector   # the candidate not kept: not a dependency of bayling-cat
    python bench/langid.py [--json out.json]

Measured figures and the choice: docs/server.md, "Language identification".
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = next((p / "shared" / "corpus" for p in (ROOT.parent, ROOT.parent.parent)
               if (p / "shared" / "corpus").is_dir()), ROOT.parent / "shared" / "corpus")
LIBRARIES = ("py3langid", "lingua-low", "lingua-high")
MARKUP = re.compile(r"<[^>]*>|\{[^}]*\}|%\d*\$?[sdif@]|&\w+;|\[X\d+X\]|@@PH\d+@@")


def samples() -> list[tuple[str, str]]:
    """(language, text) pairs from the corpus's bilingual files."""
    sys.path.insert(0, str(ROOT))
    from bayling_cat.connectors import open_document

    out = []
    for folder in ("xliff12", "xliff2", "sdlxliff", "mqxliff", "po"):
        for path in sorted((CORPUS / folder).glob("*")):
            if "MALFORMED" in path.name or "INVALID" in path.name:
                continue
            try:
                doc = open_document(path)
                segments = doc.segments()
            except Exception:  # noqa: BLE001 - a file the connectors refuse is not a sample
                continue
            src = doc.source_lang or doc.default_source_lang
            tgt = doc.target_lang
            for seg in segments:
                for lang, text in ((src, seg.source), (tgt, seg.current)):
                    text = " ".join(MARKUP.sub(" ", text or "").split())
                    if lang and 2 <= len(text) <= 80 and re.search(r"[^\W\d_]{2}", text):
                        out.append((lang.split("-")[0].split("_")[0].lower(), text))
    return sorted(set(out))


def detector(name: str):
    if name == "py3langid":
        import py3langid

        return lambda text: py3langid.classify(text)[0]
    from lingua import LanguageDetectorBuilder

    builder = LanguageDetectorBuilder.from_all_languages()
    built = (builder.with_low_accuracy_mode() if name == "lingua-low" else builder).build()

    def detect(text):
        found = built.detect_language_of(text)
        return found.iso_code_639_1.name.lower() if found else None

    return detect


def measure(name: str) -> dict:
    """Run in a fresh process: load time, peak memory, accuracy on every sample."""
    started = time.perf_counter()
    detect = detector(name)
    detect("Open the file")
    load = time.perf_counter() - started
    data = samples()
    started = time.perf_counter()
    right = sum(1 for lang, text in data if detect(text) == lang)
    per = (time.perf_counter() - started) / max(1, len(data))
    languages = sorted({lang for lang, _ in data})
    return {"library": name, "samples": len(data), "languages": languages, "correct": right,
            "accuracy": round(100 * right / max(1, len(data)), 1), "load_s": round(load, 2),
            "ms_per_string": round(1000 * per, 3),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", choices=LIBRARIES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    rows = []
    for name in LIBRARIES:
        done = subprocess.run([sys.executable, __file__, "--one", name], capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"{rows[0]['samples']} short strings in {len(rows[0]['languages'])} languages "
          f"({', '.join(rows[0]['languages'])})\n")
    print("| library | correct | load time | peak RSS | per string |")
    print("| --- | --- | --- | --- | --- |")
    for r in rows:
        print(f"| {r['library']} | {r['correct']} / {r['samples']} ({r['accuracy']} %) | {r['load_s']} s | "
              f"{r['peak_rss_mb']} MB | {r['ms_per_string']} ms |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
