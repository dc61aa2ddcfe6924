"""The workbench in a real browser (Debian's headless Chromium driven by selenium) on the real default model:
one long flow (open, pre-translate, term violation, revision turn, predictive typing, confirm, reload, save,
the file and the memory checked), and `serve --documents` with the malicious-notes XLIFF (no script runs)
opened in two tabs (the stale save is refused, visibly)."""

import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SHARED = ROOT.parent / "shared"
URL = re.compile(r"(http://127\.0\.0\.1:\d+/)")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()),
                       reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                              "chromium-driver)"),
]


def start_browser(profile: Path):
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1400,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(str(DRIVER)), options=options)


class Server:
    """`bayling-cat ARGS` in a child process, until it prints its address."""

    def __init__(self, args, home: Path):
        env = dict(os.environ, BAYLING_CAT_HOME=str(home), PYTHONPATH=str(ROOT))
        env.pop("BAYLING_CAT_MODEL", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", *args], stderr=subprocess.PIPE,
                                     stdout=subprocess.DEVNULL, text=True, env=env)
        self.lines: list[str] = []
        self.url = None
        found = threading.Event()

        def read():
            for line in self.proc.stderr:
                self.lines.append(line)
                m = URL.search(line)
                if m and self.url is None:
                    self.url = m.group(1)
                    found.set()
            found.set()

        threading.Thread(target=read, daemon=True).start()
        found.wait(600)  # the first use converts the default model (about a minute)
        if self.url is None:
            self.stop()
            pytest.fail("the server did not start:\n" + "".join(self.lines))

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()


@pytest.fixture
def browser(tmp_path):
    driver = start_browser(tmp_path / "profile")
    yield driver
    driver.quit()


def wait(driver, predicate, timeout=120, what="the page"):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: predicate(d), f"waiting for {what}")


def row(driver, key_index):
    return driver.find_element("id", f"seg-{key_index}")


def editor_text(driver, index):
    """The target as the page would save it (chips as placeholders, no prediction)."""
    return driver.execute_script(
        "const e = document.querySelector('#seg-' + arguments[0] + ' .editor');"
        "let s = ''; for (const n of e.childNodes) { if (n.nodeType === 3) s += n.nodeValue;"
        " else if (n.classList && n.classList.contains('ghost')) continue;"
        " else if (n.dataset && n.dataset.ph) s += n.dataset.ph; else s += n.textContent; } return s;", index)


def test_review_flow_in_the_browser(default_home, browser, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from bayling_cat.connectors import open_document
    from bayling_cat.memory import open_memory

    doc = tmp_path / "sample.xlf"
    shutil.copy(ROOT / "examples" / "sample.xlf", doc)
    memory = tmp_path / "memory.sqlite"
    near = {2: ("The file <1>report.txt</1> could not be opened.",
                "Die Datei <1>report.txt</1> konnte nicht geöffnet werden."),
            3: ("Press <1/> to save all your work.", "Drücken Sie <1/>, um Ihre gesamte Arbeit zu speichern.")}
    with open_memory(memory) as mem:  # a translator's earlier work: fuzzy matches of segments 2 and 3
        mem.add([{"source": s, "target": t, "source_lang": "en", "target_lang": "de", "origin": "human"}
                 for s, t in near.values()])
    server = Server(["review", str(doc), "-g", str(ROOT / "glossaries" / "software-ui.en-de.tbx"),
                     "--no-browser", "--memory", str(memory)], default_home)
    try:
        d = browser
        d.get(server.url)
        wait(d, lambda d: "ready" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), what="the grid")
        assert "sample.xlf" in d.find_element(By.ID, "doc-title").text
        keys = [r.get_attribute("id") for r in d.find_elements(By.CSS_SELECTOR, "tr.seg")]
        assert len(keys) == 7 and "seg-4" not in keys  # "1,024": no words, hidden until asked for
        d.find_element(By.ID, "show-tags").click()
        keys = [r.get_attribute("id") for r in d.find_elements(By.CSS_SELECTOR, "tr.seg")]
        assert len(keys) == 8
        assert "readonly" in row(d, 5).get_attribute("class")  # translate="no"
        assert row(d, 5).find_element(By.CSS_SELECTOR, ".editor").get_attribute("contenteditable") != "true"
        # inline codes are chips in the source
        assert [c.text for c in row(d, 2).find_elements(By.CSS_SELECTOR, ".source .chip")] == ["<1>", "</1>"]

        # pre-translate everything untranslated, with a progress bar, through the server and the memory
        d.find_element(By.ID, "btn-pretranslate").click()
        # waits on what the page reports, never on how fast the machine is: the job's own line (its
        # textContent: the line is hidden 1.5 s after the job ends, and a hidden element has no .text for
        # Selenium, so a busy machine polling late would miss it), then the rows, each with a generous bound
        wait(d, lambda d: "pre-translated" in d.find_element(By.ID, "job-text").get_attribute("textContent"), 600,
             "pre-translation")
        wait(d, lambda d: not d.find_elements(By.CSS_SELECTOR, "tr.status-new:not(.readonly)"), 300,
             "every segment translated")
        # a glossary term the small model did not use is highlighted, in the source and the state
        problems = d.find_elements(By.CSS_SELECTOR, "tr.term-problem")
        assert problems, "the default model got every glossary term right: no violation to show"
        bad = problems[0]
        assert bad.find_elements(By.CSS_SELECTOR, "mark.term-missing, mark.term-bad")
        assert "term problem" in bad.find_element(By.CSS_SELECTOR, ".st").text
        bad_index = int(bad.get_attribute("data-i"))

        # a revision turn with an instruction: the history shows it
        bad.find_element(By.CSS_SELECTOR, ".editor").click()
        wait(d, lambda d: d.find_element(By.ID, "p-key").text.startswith(f"{bad_index + 1} "), 10, "the panel")
        assert d.find_elements(By.CSS_SELECTOR, "#p-violations li")
        d.find_element(By.ID, "instruction").send_keys("Use 'Datei' for file.")
        d.find_element(By.ID, "btn-revise").click()
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-history li.h-revise"), 120, "the revision")
        assert "Use 'Datei' for file." in d.find_element(By.CSS_SELECTOR, "#p-history li.h-revise").text
        revised = editor_text(d, bad_index)

        # predictive typing: type the start of a target, accept the model's next word with Tab
        typing = next(i for i in (1, 7, 0) if i != bad_index)  # segments without inline codes
        target = row(d, typing).find_element(By.CSS_SELECTOR, ".editor")
        target.click()
        target.send_keys(Keys.CONTROL, "a")
        target.send_keys(Keys.BACKSPACE)
        target.send_keys("Sie haben ")  # a word starts: the next word's alternatives are asked for too
        ghost = wait(d, lambda d: [g for g in d.find_elements(By.CSS_SELECTOR, f"#seg-{typing} .ghost")
                                   if g.text.strip()], 60, "a prediction")[0].get_attribute("textContent")
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-alternatives .alt"), 10, "the alternatives")
        target.send_keys(Keys.TAB)
        word = re.match(r"\s*\S+", ghost).group(0)
        wait(d, lambda d: editor_text(d, typing) == "Sie haben " + word, 10, "the accepted word")
        typed = editor_text(d, typing)

        # confirm with Ctrl+Enter: the segment is confirmed, the next unconfirmed one is active
        target.send_keys(Keys.CONTROL, Keys.ENTER)
        wait(d, lambda d: "status-confirmed" in row(d, typing).get_attribute("class"), 30, "the confirmation")
        [active] = d.find_elements(By.CSS_SELECTOR, "tr.active")
        assert active.get_attribute("id") != f"seg-{typing}" and "status-confirmed" not in active.get_attribute("class")

        # memory matches: the panel lists the near-duplicate with what differs; Ctrl+Shift+1 puts it in
        matched = next(i for i in (3, 2) if i not in (bad_index, typing))
        editor = row(d, matched).find_element(By.CSS_SELECTOR, ".editor")
        editor.click()
        item = wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-matches li.match"), 30, "the memory matches")[0]
        assert re.fullmatch(r"[789]\d%", item.find_element(By.CSS_SELECTOR, ".pct").text)
        assert item.find_elements(By.CSS_SELECTOR, ".m-source del")
        assert item.find_element(By.CSS_SELECTOR, ".m-target").text.startswith(near[matched][1].split("<")[0])
        editor.send_keys(Keys.CONTROL, Keys.SHIFT, "1")
        wait(d, lambda d: editor_text(d, matched) == near[matched][1], 30, "the match in the target")
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-history li.h-memory"), 10, "the match in the history")
        assert "fuzzy-match" in d.find_element(By.ID, "p-checks").text

        # reload: everything is still there
        d.refresh()
        wait(d, lambda d: "ready" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), 30, "the reload")
        assert editor_text(d, typing) == typed and "status-confirmed" in row(d, typing).get_attribute("class")
        assert editor_text(d, bad_index) == revised
        assert editor_text(d, matched) == near[matched][1]
        row(d, bad_index).find_element(By.CSS_SELECTOR, ".editor").click()
        wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-history li.h-revise"), 10, "the history after reload")

        # save: the file holds the confirmed segment in XLIFF's human state, the memory the human entry
        d.find_element(By.ID, "btn-save").click()
        wait(d, lambda d: any("Saved" in t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast")), 30, "saving")
        assert Path(str(doc) + ".bak").read_bytes() == (ROOT / "examples" / "sample.xlf").read_bytes()
        segs = open_document(doc).segments()
        confirmed = segs[typing]
        assert confirmed.target == typed
        unit = doc.read_text("utf-8").split(f'id="{confirmed.key}"')[1].split("</trans-unit>")[0]
        assert '<target state="translated">' in unit
        hit = open_memory(memory).exact(confirmed.source, "en", "de")
        assert hit is not None and hit.origin == "human" and hit.target == typed
        errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
    finally:
        server.stop()


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="the shared corpus is absent")
def test_serve_page_script_in_notes_never_runs_and_two_tabs_conflict(default_home, browser, tmp_path):
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.common.by import By

    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(SHARED / "corpus" / "xliff12" / "matecat_notes_malicious_code.xliff", folder / "notes.xliff")
    server = Server(["serve", "--port", "0", "--documents", str(folder), "--no-memory"], default_home)
    try:
        d = browser
        d.get(server.url)
        # serve: the page lists the folder's documents; open the one with script in its notes
        button = wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#docs-list button"), 30, "the document list")[0]
        assert button.text == "notes.xliff (folder)"
        button.click()
        wait(d, lambda d: "ready" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), 30, "the grid")
        row(d, 0).find_element(By.CSS_SELECTOR, ".editor").click()
        notes = wait(d, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-notes li"), 10, "the notes")
        assert notes[0].text == "alert('This is malicious code');"
        assert not d.find_elements(By.CSS_SELECTOR, "#panel script, #grid script")
        time.sleep(0.5)
        with pytest.raises(NoAlertPresentException):
            d.switch_to.alert.text
        csp = [e for e in d.get_log("browser") if "Content Security Policy" in e["message"]]
        assert not csp, csp  # nothing even tried to run: the text was never HTML

        # two tabs on the same segment: the later save based on an old version is refused, visibly
        first_tab = d.current_window_handle
        edit(d, 1, "Tab A")
        wait(d, lambda d: "status-draft" in row(d, 1).get_attribute("class"), 30, "tab A's save")
        d.switch_to.new_window("tab")
        d.get(server.url)
        wait(d, lambda d: "ready" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), 30, "tab B")
        assert editor_text(d, 1) == "Tab A"
        edit(d, 1, "Tab B")
        wait(d, lambda d: d.execute_script("return document.querySelector('#seg-1 .editor') !== null") and
             "status-draft" in row(d, 1).get_attribute("class"), 30, "tab B's save")
        time.sleep(1.5)  # tab B's save is on the server
        d.switch_to.window(first_tab)
        edit(d, 1, "Tab A again")
        wait(d, lambda d: "conflict" in row(d, 1).get_attribute("class"), 30, "the conflict")
        assert d.find_element(By.ID, "p-conflict").is_displayed()
        assert any("changed elsewhere" in t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast"))
        d.find_element(By.ID, "btn-theirs").click()
        wait(d, lambda d: editor_text(d, 1) == "Tab B", 10, "the saved version")
    finally:
        server.stop()


def edit(driver, index, text):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    editor = row(driver, index).find_element(By.CSS_SELECTOR, ".editor")
    editor.click()
    editor.send_keys(Keys.CONTROL, "a")
    editor.send_keys(Keys.BACKSPACE)
    editor.send_keys(text)
