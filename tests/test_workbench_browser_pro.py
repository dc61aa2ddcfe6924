"""The workbench a translator stays in all day, in a real browser (Debian's headless Chromium, selenium): right to
left, a phone and a tablet, a failed machine translation said in words, no false terminology alarm, the declared
language, concordance and find-and-replace across a reload, a live length counter, accessible names (Chromium's
accessibility tree), the active segment after a reload.

The server runs in this process on a scripted engine, so no step waits on a model: every wait is for a state
the page itself reports, with a generous bound, and holds on a machine as busy as it gets."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest

from bayling_cat.engines.base import Generation
from tests.conftest import ROOT
from tests.fakes import FakeEngine
from tests.test_workbench_browser import CHROMIUM, DRIVER, row, start_browser, wait

DATA = ROOT / "tests" / "data"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()),
                       reason="Debian's chromium and chromium-driver are not installed (apt-get install chromium "
                              "chromium-driver)"),
]

GERMAN = {"Save the file.": "Speichern Sie die Datei.", "Open the file.": "Öffnen Sie die Datei.",
          "Close the file.": "Schließen Sie die Datei."}


def answer(conversation):
    """A scripted model: German for the sentences it knows, '[tr] ...' otherwise, nothing for FAIL."""
    text = conversation[-1].content.rsplit("\n\n", 1)[-1].strip()
    if "FAIL" in text:
        return ""
    return GERMAN.get(text, "[tr] " + text)


class ScriptedEngine(FakeEngine):
    """Its empty answers are cut off at the length limit, as a real model's runaway output is."""

    def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None):
        gens = super().generate(conversations, source_texts, suppress_sequences, progress, on_done)
        return [Generation(g.text, ["length-limit"]) if not g.text else g for g in gens]

    def complete(self, source, prefix, source_lang, target_lang, alternatives=5):
        return "", []  # no prediction: these tests are about everything else


class InProcess:
    """The workbench app on a free loopback port, served by werkzeug in a thread of this process."""

    def __init__(self, doc: Path, tmp: Path, glossaries=(), memory: Path | None = None, **kw):
        from werkzeug.serving import make_server

        from bayling_cat.server import create_app
        from bayling_cat.server.workbench import Workbench

        self.bench = Workbench(review=doc, memory_path=memory, sessions=tmp / "sessions", **kw)
        self.app = create_app(ScriptedEngine(answer), list(glossaries), window=0.01, workbench=self.bench)
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()


@pytest.fixture
def browser(tmp_path):
    driver = start_browser(tmp_path / "profile")
    yield driver
    driver.quit()


def ready(d, timeout=60):
    from selenium.webdriver.common.by import By

    wait(d, lambda d: "ready" in d.find_element(By.TAG_NAME, "body").get_attribute("class"), timeout, "the grid")


def open_page(d, server):
    d.get(server.url)
    ready(d)


def type_into(d, index, text, clear=True):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    editor = row(d, index).find_element(By.CSS_SELECTOR, ".editor")
    editor.click()
    if clear:
        editor.send_keys(Keys.CONTROL, "a")
        editor.send_keys(Keys.BACKSPACE)
    editor.send_keys(text)
    return editor


def target_text(d, index):
    """The target as the page saves it (the page's own serialize: chips as placeholders, no prediction)."""
    return d.execute_script("return serialize(document.querySelector('#seg-' + arguments[0] + ' .editor'))", index)


def saved(d, index, text, timeout=30):
    """Wait until the server holds ``text`` for the segment (its answer updated the page's own record)."""
    wait(d, lambda d: d.execute_script("return state.segments[arguments[0]].target", index) == text, timeout,
         f"segment {index + 1} kept on the server")


def po(tmp_path, name, lang, entries):
    body = "".join(f'msgid "{s}"\nmsgstr "{t}"\n\n' for s, t in entries)
    path = tmp_path / name
    path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n'
                    f'"Language: {lang}\\n"\n"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n' + body, "utf-8")
    return path


def computed(d, selector, prop):
    return d.execute_script("return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]",
                            selector, prop)


# -- right to left ------------------------------------------------------------------------------------------

def test_arabic_targets_are_laid_out_right_to_left(browser, tmp_path):
    path = po(tmp_path, "ar.po", "ar", [("Delete %s files?", ""), ("Open", "")])
    server = InProcess(path, tmp_path)
    try:
        d = browser
        open_page(d, server)
        editor = type_into(d, 0, "حذف")
        # a placeholder chip between the Arabic words stays where it was typed, the text flows right to left
        d.find_element("css selector", "#seg-0 .source .chip").click()
        editor.send_keys(" ملفات؟")
        wait(d, lambda d: target_text(d, 0) == "حذف<1/> ملفات؟", 10, "the typed target")
        assert computed(d, "#seg-0 .editor", "direction") == "rtl"
        assert computed(d, "#seg-1 .editor", "direction") == "rtl"  # empty: the language decides
        assert computed(d, "#seg-0 .source", "direction") == "ltr"
        attrs = d.execute_script("const e = document.querySelector('#seg-0 .editor'), s = document.querySelector("
                                 "'#seg-0 .source'); return [e.lang, e.dir, s.lang, s.dir, "
                                 "e.querySelector('.chip').dir];")
        assert attrs == ["ar", "rtl", "en", "auto", "ltr"]
        # the chip sits visually between the two words: right of the first word's left edge, left of it in RTL
        first, chip_x = d.execute_script(
            "const e = document.querySelector('#seg-0 .editor'); const r = document.createRange();"
            "r.setStart(e.firstChild, 0); r.setEnd(e.firstChild, 3);"
            "return [r.getBoundingClientRect().left, e.querySelector('.chip').getBoundingClientRect().right];")
        assert chip_x <= first + 1  # right to left: the chip comes after (left of) the first word
    finally:
        server.stop()


# -- narrow screens -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("width, least", [(390, 280), (768, 230)])
def test_a_phone_and_a_tablet_can_review(browser, tmp_path, width, least):
    doc = tmp_path / "sample.xlf"
    shutil.copy(ROOT / "examples" / "sample.xlf", doc)
    server = InProcess(doc, tmp_path)
    try:
        d = browser
        d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                          {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        open_page(d, server)
        page, view = d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")
        assert view == width and page <= width, (page, view)
        editor_width = d.execute_script("return document.querySelector('#seg-0 .editor').getBoundingClientRect().width")
        assert editor_width >= least, editor_width
        # the panel is under the grid, as wide as the page
        grid, panel = d.execute_script("return [document.getElementById('grid').getBoundingClientRect(),"
                                       " document.getElementById('panel').getBoundingClientRect()]")
        assert panel["top"] >= grid["bottom"] - 1 and panel["width"] >= width - 2
        type_into(d, 0, "Hallo")
        wait(d, lambda d: "status-draft" in row(d, 0).get_attribute("class"), 30, "the edit")
        assert d.execute_script("return document.documentElement.scrollWidth") <= width
    finally:
        server.stop()


# -- machine translation that fails -------------------------------------------------------------------------

def test_a_failed_machine_translation_is_said_in_words(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    path = po(tmp_path, "fail.po", "de", [("Save the file.", ""), ("FAIL this one", ""), ("Open the file.", "")])
    server = InProcess(path, tmp_path)
    try:
        d = browser
        open_page(d, server)
        editor = row(d, 1).find_element("css selector", ".editor")
        editor.click()
        editor.send_keys(Keys.CONTROL, "m")
        failed = wait(d, lambda d: d.find_elements("css selector", "#seg-1 .mt-failed"), 30, "the failure")[0]
        assert "machine translation failed" in failed.text and "length limit" in failed.text
        assert any("machine translation failed" in t.text for t in d.find_elements("css selector", ".toast"))
        assert d.find_element("id", "p-failed").is_displayed()
        assert target_text(d, 1) == ""
        d.find_element("id", "btn-pretranslate").click()
        line = wait(d, lambda d: "pre-translated" in d.find_element("id", "job-text").text and
                    d.find_element("id", "job-text").text, 60, "pre-translation")
        assert line.startswith("pre-translated 2 of 3 segments; 1 got nothing"), line
        assert target_text(d, 0) == "Speichern Sie die Datei."
        # Ctrl+Z right after a machine translation undoes it (nothing typed since): the target is empty again
        editor = row(d, 2).find_element("css selector", ".editor")
        editor.click()
        editor.send_keys(Keys.CONTROL, "z")
        wait(d, lambda d: target_text(d, 2) == "" and d.execute_script("return state.segments[2].target") == "",
             30, "the undone machine translation")
        assert [h.text.split("\n")[0] for h in d.find_elements("css selector", "#p-history li .h-head")] == \
            ["mt", "edit"]
    finally:
        server.stop()


def test_an_incomplete_target_is_shown_repaired_before_it_is_confirmed(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    path = tmp_path / "app.po"
    path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: de\\n"\n\n'
                    '#, c-format\nmsgid "Delete %s?"\nmsgstr ""\n', "utf-8")
    server = InProcess(path, tmp_path)
    try:
        d = browser
        open_page(d, server)
        editor = type_into(d, 0, "Löschen?")
        editor.send_keys(Keys.CONTROL, Keys.ENTER)
        dialog = wait(d, lambda d: d.find_element("id", "repair-dialog").is_displayed() and
                      d.find_element("id", "repair-dialog"), 30, "the repair dialog")
        assert d.find_element("id", "repair-fixed").text == "Löschen?%s"
        assert "status-confirmed" not in row(d, 0).get_attribute("class")
        d.find_element("id", "repair-yes").click()
        wait(d, lambda d: "status-confirmed" in row(d, 0).get_attribute("class"), 30, "the confirmation")
        assert not dialog.is_displayed() and target_text(d, 0) == "Löschen?<1/>"
    finally:
        server.stop()


def test_filters_counts_files_codes_only_rows_and_search_hits(browser, tmp_path):
    from selenium.webdriver.support.ui import Select

    from tests.test_workbench_pro import XLF

    path = tmp_path / "multi.xlf"
    path.write_text(XLF.format(first="first.properties", lang="de"), "utf-8")
    server = InProcess(path, tmp_path)
    try:
        d = browser
        open_page(d, server)
        assert [th.text for th in d.find_elements("css selector", "tr.file-row th")] == \
            ["File: first.properties", "File: second.properties"]
        assert not d.find_elements("id", "seg-2")  # codes only: hidden by default
        assert d.find_element("id", "count").text == "4 of 5 segments"
        assert d.find_element("id", "counts").text.split("\n") == [
            "new 2", "machine 1", "fuzzy / needs review 1", "edited 0", "confirmed 0", "locked 0"]
        d.find_element("id", "show-tags").click()
        wait(d, lambda d: d.find_elements("id", "seg-2"), 10, "the codes-only row")
        select = Select(d.find_element("id", "filter"))
        assert [o.text for o in select.options][:4] == ["all (5)", "untranslated (3)", "machine-translated (1)",
                                                        "fuzzy / needs review (1)"]
        select.select_by_value("fuzzy")
        wait(d, lambda d: [r.get_attribute("id") for r in d.find_elements("css selector", "tr.seg")] == ["seg-4"],
             10, "the fuzzy filter")
        select.select_by_value("all")
        d.find_element("id", "search").send_keys("the")
        wait(d, lambda d: d.find_element("id", "count").text == "1 of 5 segments", 10, "the search")
        assert [m.text for m in d.find_elements("css selector", "#seg-0 .source mark.hit")] == ["the"]
    finally:
        server.stop()


# -- terminology --------------------------------------------------------------------------------------------

def test_no_false_alarm_on_sich_and_a_forbidden_term_underlined_as_typed(browser, tmp_path):
    glossary = tmp_path / "g.csv"
    glossary.write_text("en,de,status\nsave,speichern,preferred\nsave,sichern,forbidden\n", "utf-8")
    path = po(tmp_path, "save.po", "de", [("Save your settings.", "")])
    server = InProcess(path, tmp_path, glossaries=[glossary])
    try:
        d = browser
        open_page(d, server)
        type_into(d, 0, "Speichern Sie sich Ihre Einstellungen. Sicherheits")
        saved(d, 0, "Speichern Sie sich Ihre Einstellungen. Sicherheits")
        assert not d.find_elements("css selector", "#p-violations li")
        assert d.execute_script("return CSS.highlights.has('term-bad') ? CSS.highlights.get('term-bad').size : 0") == 0
        # the forbidden verb itself, still being typed in: underlined without a reload, the caret kept
        editor = row(d, 0).find_element("css selector", ".editor")
        editor.send_keys(" sichern")
        wait(d, lambda d: d.execute_script(
            "return CSS.highlights.has('term-bad') && CSS.highlights.get('term-bad').size > 0"), 30, "the underline")
        assert [li.text for li in d.find_elements("css selector", "#p-violations li")] == \
            ["do not use 'sichern' (use 'speichern')"]
        marked = d.execute_script("return [...CSS.highlights.get('term-bad')].map(r => r.toString())")
        assert marked == ["sichern"]
        editor.send_keys("!")
        wait(d, lambda d: target_text(d, 0).endswith("sichern!"), 10, "typing on at the caret")
    finally:
        server.stop()


def test_the_saved_file_declares_the_language_review_ran_with(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    path = tmp_path / "en.xlf"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" '
                    'xmlns="urn:oasis:names:tc:xliff:document:1.2"><file original="a" source-language="en" '
                    'target-language="en" datatype="plaintext"><body><trans-unit id="1"><source>Save the file.'
                    '</source></trans-unit></body></file></xliff>\n', "utf-8")
    server = InProcess(path, tmp_path, target_lang="zh")
    try:
        d = browser
        open_page(d, server)
        assert "en → zh" in d.find_element("id", "doc-title").text
        editor = type_into(d, 0, "保存文件。")
        editor.send_keys(Keys.CONTROL, Keys.ENTER)
        wait(d, lambda d: "status-confirmed" in row(d, 0).get_attribute("class"), 30, "the confirmation")
        editor.send_keys(Keys.CONTROL, "s")
        wait(d, lambda d: any("Saved" in t.text for t in d.find_elements("css selector", ".toast")), 30, "saving")
        text = path.read_text("utf-8")
        assert 'target-language="zh"' in text and "保存文件。" in text
    finally:
        server.stop()


# -- concordance, find and replace ---------------------------------------------------------------------------

def test_concordance_and_replace_across_a_reload(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    from bayling_cat.memory import open_memory

    memory = tmp_path / "memory.sqlite"
    with open_memory(memory) as mem:
        mem.add([{"source": "Print the file.", "target": "Drucken Sie die Datei.", "source_lang": "en",
                  "target_lang": "de", "origin": "human"}])
    path = po(tmp_path, "files.po", "de", [("Save the file.", "Speichern Sie die Datei."),
                                           ("Open the file.", "Öffnen Sie die Datei."),
                                           ("Close the file.", "Schließen Sie die Datei.")])
    server = InProcess(path, tmp_path, memory=memory)
    try:
        d = browser
        open_page(d, server)
        row(d, 0).find_element("css selector", ".editor").click()
        # Ctrl+K: the memory searched for a word
        d.switch_to.active_element.send_keys(Keys.CONTROL, "k")
        box = d.switch_to.active_element
        assert box.get_attribute("id") == "conc-q"
        box.send_keys("Drucken", Keys.ENTER)
        wait(d, lambda d: d.find_elements("css selector", "#conc-results li.conc-unit"), 30, "the concordance")
        assert d.find_element("css selector", "#conc-results .c-target mark.hit").text == "Drucken"
        # Ctrl+H: replace 'Datei' by 'Akte' in targets, one occurrence at a time: replace, skip, replace
        d.switch_to.active_element.send_keys(Keys.CONTROL, "h")
        d.find_element("id", "find-text").send_keys("Datei")
        d.find_element("id", "replace-text").send_keys("Akte")
        d.find_element("id", "find-text").send_keys(Keys.ENTER)
        wait(d, lambda d: "segment 1" in d.find_element("id", "replace-status").text, 10, "the first hit")
        d.find_element("id", "btn-replace").click()
        wait(d, lambda d: "segment 2" in d.find_element("id", "replace-status").text, 30, "the second hit")
        d.find_element("id", "btn-skip").click()
        wait(d, lambda d: "segment 3" in d.find_element("id", "replace-status").text, 10, "the third hit")
        d.find_element("id", "btn-replace").click()
        wait(d, lambda d: target_text(d, 2) == "Schließen Sie die Akte.", 30, "the second replacement")
        d.execute_script("document.activeElement && document.activeElement.blur()")
        row(d, 2).find_element("css selector", ".editor").send_keys(Keys.CONTROL, Keys.ENTER)
        wait(d, lambda d: "status-confirmed" in row(d, 2).get_attribute("class"), 30, "the confirmation")
        d.refresh()
        ready(d)
        assert [target_text(d, i) for i in range(3)] == ["Speichern Sie die Akte.", "Öffnen Sie die Datei.",
                                                         "Schließen Sie die Akte."]
        # the confirmed replacement is in the memory now: the concordance finds it after the reload
        d.find_element("id", "conc-q").send_keys("Akte", Keys.ENTER)
        found = wait(d, lambda d: d.find_elements("css selector", "#conc-results li.conc-unit"), 30, "the concordance")
        assert [f.find_element("css selector", ".c-target").text for f in found] == ["Schließen Sie die Akte."]
    finally:
        server.stop()


# -- length limits ------------------------------------------------------------------------------------------

def test_a_live_length_counter_on_a_maxwidth_unit(browser, tmp_path):
    path = tmp_path / "limit.xlf"
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" '
                    'xmlns="urn:oasis:names:tc:xliff:document:1.2"><file original="a" source-language="en" '
                    'target-language="de" datatype="plaintext"><body><trans-unit id="ok" maxwidth="12" '
                    'size-unit="char"><source>Save</source></trans-unit><trans-unit id="free"><source>Open'
                    '</source></trans-unit></body></file></xliff>\n', "utf-8")
    server = InProcess(path, tmp_path)
    try:
        d = browser
        open_page(d, server)
        counter = row(d, 0).find_element("css selector", ".counter")
        assert counter.text == "0 / 12"
        assert not row(d, 1).find_elements("css selector", ".counter")
        editor = type_into(d, 0, "Speichern")
        wait(d, lambda d: counter.text == "9 / 12", 10, "the counter while typing")
        assert "over" not in counter.get_attribute("class")
        editor.send_keys(" Sie")
        wait(d, lambda d: counter.text == "13 / 12" and "over" in counter.get_attribute("class"), 10, "over the limit")
        wait(d, lambda d: "too long" in row(d, 0).find_element("css selector", ".st").text, 30, "the row flagged")
    finally:
        server.stop()


# -- accessibility ------------------------------------------------------------------------------------------

def ax_nodes(d):
    d.execute_cdp_cmd("Accessibility.enable", {})
    return d.execute_cdp_cmd("Accessibility.getFullAXTree", {})["nodes"]


def named(nodes, role):
    return [n.get("name", {}).get("value", "") for n in nodes
            if n.get("role", {}).get("value") == role and not n.get("ignored")]


def test_accessible_names_in_chromiums_accessibility_tree(browser, tmp_path):
    doc = tmp_path / "sample.xlf"
    shutil.copy(ROOT / "examples" / "sample.xlf", doc)
    server = InProcess(doc, tmp_path)
    try:
        d = browser
        open_page(d, server)
        nodes = ax_nodes(d)
        boxes = named(nodes, "textbox")
        assert "Translation of segment 1" in boxes and "Translation of segment 8" in boxes
        assert not [b for b in boxes if not b.strip()], boxes  # every text box has a name
        buttons = named(nodes, "button")
        assert {"Previous page", "Next page", "Save", "Pre-translate all"} <= set(buttons)
        assert not [b for b in buttons if not b.strip() or b in ("‹", "›")], buttons
        assert "Show" in named(nodes, "combobox")
        assert "Search source and target" in named(nodes, "searchbox")
        # the active row is announced
        row(d, 2).find_element("css selector", ".editor").click()
        wait(d, lambda d: d.find_element("id", "announce").get_attribute("textContent").startswith("Segment 3 of 8"),
             10, "the announcement")
        live = [n for n in ax_nodes(d) if any(p.get("name") == "live" and p["value"]["value"] == "polite"
                                              for p in n.get("properties", []))]
        assert live
        assert row(d, 2).get_attribute("aria-current") == "true"
    finally:
        server.stop()


# -- a reload -----------------------------------------------------------------------------------------------

def test_a_reload_keeps_the_page_and_the_active_segment(browser, tmp_path):
    from selenium.webdriver.common.keys import Keys

    path = po(tmp_path, "many.po", "de", [(f"Sentence number {n}.", "") for n in range(1, 71)])
    server = InProcess(path, tmp_path)
    try:
        d = browser
        open_page(d, server)
        d.find_element("id", "next-page").click()
        wait(d, lambda d: d.find_element("id", "page-text").text == "page 2 / 2", 10, "page 2")
        editor = type_into(d, 61, "Satz 62")
        wait(d, lambda d: "status-draft" in row(d, 61).get_attribute("class"), 30, "the edit")
        # a comment on it (Alt+C), kept with the segment
        editor.send_keys(Keys.ALT, "c")
        assert d.switch_to.active_element.get_attribute("id") == "comment"
        d.switch_to.active_element.send_keys("Ask the author.", Keys.ESCAPE)
        wait(d, lambda d: d.execute_script("return state.segments[61].comment") == "Ask the author.", 30, "the comment")
        d.refresh()
        ready(d)
        assert d.find_element("id", "page-text").text == "page 2 / 2"
        assert row(d, 61).get_attribute("class").split().count("active") == 1
        assert d.execute_script("return document.activeElement.closest('tr').id") == "seg-61"
        assert d.find_element("id", "p-key").text == "62 of 70"
        assert d.find_element("id", "comment").get_attribute("value") == "Ask the author."
        assert "comment" in row(d, 61).find_element("css selector", ".st").text
    finally:
        server.stop()


def axe_source() -> str | None:
    """axe-core's script, where one is installed (AXE_CORE_JS, or `npm install axe-core` in the checkout)."""
    import os

    for candidate in (os.environ.get("AXE_CORE_JS"), ROOT / "node_modules" / "axe-core" / "axe.min.js"):
        if candidate and Path(candidate).is_file():
            return Path(candidate).read_text("utf-8")
    return None


@pytest.mark.skipif(axe_source() is None, reason="axe-core is not installed (npm install axe-core in the checkout, or "
                                                 "AXE_CORE_JS=path/to/axe.min.js)")
@pytest.mark.parametrize("width", [1400, 390])
def test_axe_core_finds_no_wcag_21_aa_violation_on_the_main_flow(browser, tmp_path, width):
    from selenium.webdriver.common.keys import Keys

    doc = tmp_path / "sample.xlf"
    shutil.copy(ROOT / "examples" / "sample.xlf", doc)
    server = InProcess(doc, tmp_path, glossaries=[ROOT / "glossaries" / "software-ui.en-de.tbx"])
    try:
        d = browser
        if width < 1000:
            d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                              {"width": width, "height": 844, "deviceScaleFactor": 1, "mobile": True})
        open_page(d, server)
        editor = type_into(d, 1, "Sie haben ungespeicherte Änderungen.")
        editor.send_keys(Keys.CONTROL, Keys.ENTER)  # confirmed: the next segment is active
        wait(d, lambda d: "status-confirmed" in row(d, 1).get_attribute("class"), 30, "the confirmation")
        type_into(d, 2, "Die Akte")  # a term problem and a forbidden form
        saved(d, 2, "Die Akte")
        d.execute_script(axe_source() + "\n;return true;")
        d.set_script_timeout(120)
        violations = d.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})"
            ".then(r => done(r.violations.map(v => [v.id, v.nodes.map(n => n.target.join(' '))])))"
            ".catch(e => done([['axe failed', [String(e)]]]));")
        assert violations == []
    finally:
        server.stop()
