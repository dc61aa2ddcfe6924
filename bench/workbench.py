"""The workbench's figures on the default model:

1. the time from `bayling-cat review FILE` to an interactive page (the grid rendered in headless Chromium),
   for the sample file and for a generated document of --segments segments;
2. the latency of a predictive completion (/v1/complete, 5 alternatives), median and 95th percentile over 50
   keystroke-style requests: the prefixes a translator types, word by word, into the targets of real segments.

    python bench/workbench.py [--segments 3000] [--runs 3]

Uses the converted default model of $BAYLING_CAT_HOME (converted on first use) and the shipped en-de glossary;
the browser is started before the clock, as a translator's browser is already open. Prints the machine's load
average too: on a shared machine the model's share of the cores decides the completion latency.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_workbench_browser import CHROMIUM, DRIVER, start_browser  # noqa: E402

URL = re.compile(r"(http://127\.0\.0\.1:\d+/)")
# (source, the translation a translator types) pairs: 50 prefixes are cut from these, word by word
TYPED = [
    ("You have unsaved changes. Do you want to save them before closing?",
     "Sie haben ungespeicherte Änderungen. Möchten Sie sie vor dem Schließen speichern?"),
    ("The file could not be saved because the disk is full.",
     "Die Datei konnte nicht gespeichert werden, weil der Datenträger voll ist."),
    ("Click the button to open a new window.", "Klicken Sie auf die Schaltfläche, um ein neues Fenster zu öffnen."),
    ("Open the settings and choose a language for the user interface.",
     "Öffnen Sie die Einstellungen und wählen Sie eine Sprache für die Benutzeroberfläche."),
    ("Your password must contain at least eight characters.",
     "Ihr Kennwort muss mindestens acht Zeichen enthalten."),
    ("Do you really want to delete the selected folder and all files in it?",
     "Möchten Sie den ausgewählten Ordner und alle darin enthaltenen Dateien wirklich löschen?"),
]


def big_document(path: Path, count: int) -> None:
    units = []
    for i in range(count):
        source, _ = TYPED[i % len(TYPED)]
        source = source.replace("file", '<g id="1">file</g>')
        units.append(f'<trans-unit id="u{i}"><source>{source} ({i})</source></trans-unit>')
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" '
                    'xmlns="urn:oasis:names:tc:xliff:document:1.2"><file original="big" source-language="en" '
                    'target-language="de" datatype="plaintext"><body>' + "".join(units) + "</body></file></xliff>",
                    "utf-8")


class Review:
    def __init__(self, document: Path):
        self.started = time.perf_counter()
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        # with the shipped glossary: its terms are matched in every source before the page can show them
        self.proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "review", str(document), "--no-browser",
                                      "--no-memory", "-g", str(ROOT / "glossaries" / "software-ui.en-de.tbx")], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                     env=env)
        self.url = None
        for line in self.proc.stderr:
            m = URL.search(line)
            if m:
                self.url = m.group(1)
                break
        if self.url is None:
            raise SystemExit("bayling-cat review did not start")
        self.serving = time.perf_counter() - self.started
        threading.Thread(target=lambda: [None for _ in self.proc.stderr], daemon=True).start()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)


def time_to_page(driver, document: Path) -> tuple[float, float]:
    from selenium.webdriver.support.ui import WebDriverWait

    review = Review(document)
    try:
        driver.get(review.url)
        WebDriverWait(driver, 300, poll_frequency=0.02).until(
            lambda d: "ready" in d.find_element("tag name", "body").get_attribute("class"))
        return review.serving, time.perf_counter() - review.started
    finally:
        review.stop()


def completion_latencies(url: str, count: int = 50) -> list[float]:
    prefixes = []
    for source, typed in TYPED:
        words = typed.split(" ")
        prefixes += [(source, " ".join(words[:k])) for k in range(1, len(words))]
    prefixes = prefixes[:count]
    out = []
    for source, prefix in prefixes:
        body = json.dumps({"source": source, "prefix": prefix, "source_lang": "en", "target_lang": "de",
                           "alternatives": 5}).encode()
        req = urllib.request.Request(url + "v1/complete", data=body, headers={"Content-Type": "application/json"})
        started = time.perf_counter()
        with urllib.request.urlopen(req, timeout=120) as r:
            json.loads(r.read())
        out.append(time.perf_counter() - started)
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--segments", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not (CHROMIUM.exists() and DRIVER.exists()):
        raise SystemExit("needs Debian's chromium and chromium-driver")
    work = Path(tempfile.mkdtemp(prefix="bench-workbench-"))
    driver = start_browser(work / "profile")
    try:
        for name, make in (("sample.xlf (8 segments)", lambda p: shutil.copy(ROOT / "examples" / "sample.xlf", p)),
                           (f"generated ({args.segments} segments)", lambda p: big_document(p, args.segments))):
            times = []
            for run in range(args.runs):
                doc = work / f"run{run}" / "doc.xlf"
                doc.parent.mkdir(parents=True, exist_ok=True)
                make(doc)
                times.append(time_to_page(driver, doc))
            serving = statistics.median(t[0] for t in times)
            page = statistics.median(t[1] for t in times)
            print(f"review {name}: server ready {serving:.2f} s, interactive page {page:.2f} s "
                  f"(median of {args.runs})")
        doc = work / "complete" / "doc.xlf"
        doc.parent.mkdir()
        shutil.copy(ROOT / "examples" / "sample.xlf", doc)
        review = Review(doc)
        try:
            completion_latencies(review.url, 3)  # warm-up
            lat = sorted(completion_latencies(review.url, 50))
        finally:
            review.stop()
        p95 = lat[min(len(lat) - 1, int(round(0.95 * len(lat))) - 1)]
        print(f"predictive completion (/v1/complete, 5 alternatives), {len(lat)} requests: "
              f"median {statistics.median(lat) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms")
        print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    finally:
        driver.quit()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
