"""Take docs/workbench.png: `bayling-cat review examples/sample.xlf` with the shipped glossary on the default model,
pre-translated, one segment being typed with its prediction and a memory match showing, in Debian's headless
Chromium. With --narrow-rtl: docs/workbench-narrow.png (the sample on a 390 px phone) and docs/workbench-rtl.png
(an Arabic PO file), on the tests' scripted engine (no model needed).

    python docs/screenshot.py
    python docs/screenshot.py --narrow-rtl
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_workbench_browser import Server, editor_text, start_browser, wait  # noqa: E402


def main():
    import os

    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from bayling_cat.models import home

    work = Path(tempfile.mkdtemp(prefix="workbench-shot-"))
    doc = work / "sample.xlf"
    shutil.copy(ROOT / "examples" / "sample.xlf", doc)
    from bayling_cat.memory import open_memory

    with open_memory(work / "memory.sqlite") as memory:  # a translator's earlier work: a fuzzy match of segment 2
        memory.add([{"source": "You have unsaved changes. Do you want to save them before quitting?",
                     "target": "Sie haben ungespeicherte Änderungen. Möchten Sie sie vor dem Beenden speichern?",
                     "source_lang": "en", "target_lang": "de", "origin": "human"}])
    server = Server(["review", str(doc), "-g", str(ROOT / "glossaries" / "software-ui.en-de.tbx"), "--no-browser",
                     "--memory", str(work / "memory.sqlite")], Path(os.environ.get("BAYLING_CAT_HOME") or home()))
    driver = start_browser(work / "profile")
    try:
        driver.set_window_size(1280, 800)
        driver.get(server.url)
        wait(driver, lambda d: "ready" in d.find_element(By.TAG_NAME, "body").get_attribute("class"))
        driver.find_element(By.ID, "btn-pretranslate").click()
        wait(driver, lambda d: "pre-translated" in d.find_element(By.ID, "job-text").text, 600)
        time.sleep(2)
        editor = driver.find_element(By.CSS_SELECTOR, "#seg-1 .editor")
        editor.click()
        editor.send_keys(Keys.CONTROL, "a")
        editor.send_keys(Keys.BACKSPACE)
        editor.send_keys("Sie haben")
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#seg-1 .ghost"), 60)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-alternatives .alt"), 10)
        wait(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#p-matches li.match"), 10)
        assert editor_text(driver, 1) == "Sie haben"
        driver.save_screenshot(str(ROOT / "docs" / "workbench.png"))
        print(f"docs/workbench.png: {(ROOT / 'docs' / 'workbench.png').stat().st_size} bytes")
    finally:
        driver.quit()
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


ARABIC = [("Delete %s files?", "حذف %s ملفات؟"), ("Open the clock settings", "افتح إعدادات الساعة"),
          ("World clocks", "ساعات العالم"), ("Add a new alarm at %s", ""), ("Stopwatch", "ساعة الإيقاف"),
          ("Timer finished", "")]


def narrow_and_rtl():
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    from tests.test_workbench_browser_pro import InProcess, po, ready

    work = Path(tempfile.mkdtemp(prefix="workbench-shot-"))
    driver = start_browser(work / "profile")
    try:
        doc = work / "sample.xlf"
        shutil.copy(ROOT / "examples" / "sample.xlf", doc)
        server = InProcess(doc, work, glossaries=[ROOT / "glossaries" / "software-ui.en-de.tbx"])
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True})
        driver.get(server.url)
        ready(driver)
        editor = driver.find_element(By.CSS_SELECTOR, "#seg-1 .editor")
        editor.click()
        editor.send_keys("Sie haben ungespeicherte Änderungen.")
        editor.send_keys(Keys.CONTROL, Keys.ENTER)
        wait(driver, lambda d: "status-confirmed" in d.find_element(By.ID, "seg-1").get_attribute("class"), 30)
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.5)
        driver.save_screenshot(str(ROOT / "docs" / "workbench-narrow.png"))
        server.stop()

        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.set_window_size(1200, 620)
        (work / "ar").mkdir()
        path = po(work / "ar", "gnome-clocks.ar.po", "ar", ARABIC)
        server = InProcess(path, work / "ar")
        driver.get(server.url)
        ready(driver)
        editor = driver.find_element(By.CSS_SELECTOR, "#seg-3 .editor")
        editor.click()
        editor.send_keys("أضف منبهًا جديدًا عند ")
        driver.find_element(By.CSS_SELECTOR, "#seg-3 .source .chip").click()
        time.sleep(1)
        driver.save_screenshot(str(ROOT / "docs" / "workbench-rtl.png"))
        server.stop()
        for name in ("workbench-narrow.png", "workbench-rtl.png"):
            print(f"docs/{name}: {(ROOT / 'docs' / name).stat().st_size} bytes")
    finally:
        driver.quit()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    narrow_and_rtl() if "--narrow-rtl" in sys.argv else main()
