"""Translation memory, resumable runs, quality checks and retries of degenerate output."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from multiprocessing import Process
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.engines.base import Generation
from bayling_cat.memory import HUMAN, MACHINE, open_memory, MemoryError_, export_tmx, import_files
from bayling_cat.pipeline import Options, Pipeline, report
from tests.conftest import ROOT, run_cli
from tests.fakes import ScriptedTranslator

DATA = ROOT / "tests" / "data"
NS = {"x": "urn:oasis:names:tc:xliff:document:1.2"}

XLF = """<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2"><file original="x" source-language="en"
 target-language="de" datatype="plaintext"><body>
{units}
</body></file></xliff>"""


def xliff(path: Path, sources, targets=None, approved=()):
    units = []
    for i, s in enumerate(sources):
        t = (targets or {}).get(s)
        attrs = ' approved="yes"' if s in approved else ""
        units.append(f'<trans-unit id="u{i}"{attrs}><source>{s}</source>' + (f"<target>{t}</target>" if t else "")
                     + "</trans-unit>")
    path.write_text(XLF.format(units="\n".join(units)), encoding="utf-8")
    return path


def test_memory_exact_matches_prefer_human_work(tmp_path):
    mem = open_memory(tmp_path / "m.sqlite")
    row = {"source": "Save the file.", "source_lang": "en", "target_lang": "de"}
    mem.add([{**row, "target": "MT eins", "model": "m1"}])
    assert mem.exact("Save the file.", "en", "de", model="m1").target == "MT eins"
    assert mem.exact("Save the file.", "en", "de", model="m2") is None  # another model's output is not reused
    mem.add([{**row, "target": "Speichern Sie die Datei.", "origin": HUMAN}])
    hit = mem.exact("Save the file.", "en", "de", model="m2")
    assert (hit.target, hit.origin) == ("Speichern Sie die Datei.", HUMAN)
    assert mem.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    similar = mem.similar("Save the files.", "en", "de")
    assert [(h.source, h.origin) for h in similar] == [("Save the file.", HUMAN)] and similar[0].score > 0.9


def test_foreign_and_corrupt_databases_are_refused(tmp_path):
    foreign = tmp_path / "other.sqlite"
    db = sqlite3.connect(foreign)
    db.execute("CREATE TABLE invoices (id INTEGER)")
    db.commit()
    db.close()
    with pytest.raises(MemoryError_, match="a SQLite database, but not a bayling-cat memory"):
        open_memory(foreign)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(MemoryError_, match="not a usable memory database"):
        open_memory(junk)


def _writer(path, n, tag):
    mem = open_memory(path)
    for i in range(n):
        mem.add([{"source": f"{tag} {i}", "target": f"t {i}", "source_lang": "en", "target_lang": "de"}])


def test_concurrent_writers_never_corrupt_the_memory(tmp_path):
    path = tmp_path / "shared.sqlite"
    # closed before the fork: Python's sqlite3 connection sits in a reference cycle (its statement cache), so an
    # unclosed one lives on until the garbage collector runs, and a connection carried across fork() breaks
    # SQLite's locks in the children
    open_memory(path).close()
    procs = [Process(target=_writer, args=(path, 100, f"w{k}")) for k in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    assert open_memory(path).stats()["units"] == 300
    assert sqlite3.connect(path).execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_second_run_comes_from_memory(tmp_path):
    src = xliff(tmp_path / "a.xlf", ["Save the file.", "Open the folder.", "Save the file."])
    options = dict(memory=tmp_path / "m.sqlite", model_id="m1", checks=False)
    first = ScriptedTranslator()
    Pipeline(first, Options(output=tmp_path / "1.xlf", **options)).run([str(src)])
    assert len(first.calls[0][0]) == 2
    second = ScriptedTranslator()
    results = Pipeline(second, Options(output=tmp_path / "2.xlf", **options)).run([str(src)])
    assert second.calls == []  # no model call at all
    assert (tmp_path / "1.xlf").read_bytes() == (tmp_path / "2.xlf").read_bytes()
    data = report(results, 0.1, "m1")
    assert data["totals"]["from_memory"] == 3
    assert {s["memory"] for s in data["files"][0]["segments"]} == {MACHINE}


def test_human_translations_win_are_marked_and_teach_the_model(tmp_path):
    done = xliff(tmp_path / "done.xlf", ["Save the file.", "Delete the folder."],
                 {"Save the file.": "Speichern Sie die Datei.", "Delete the folder.": "Löschen Sie den Ordner."},
                 approved=["Save the file.", "Delete the folder."])
    mem = open_memory(tmp_path / "m.sqlite")
    assert import_files(mem, [done]) == 2
    src = xliff(tmp_path / "new.xlf", ["Save the file.", "Delete the folders now."])
    translator = ScriptedTranslator()
    results = Pipeline(translator, Options(output=tmp_path / "o.xlf", memory=mem.path, model_id="m",
                                           checks=False)).run([str(src)])
    assert translator.calls[0][0] == ["Delete the folders now."]
    assert translator.examples == [[("Delete the folder.", "Löschen Sie den Ordner.")]]  # few-shot from memory
    root = etree.parse(str(tmp_path / "o.xlf")).getroot()
    first = root.find(".//x:trans-unit[@id='u0']/x:target", NS)
    assert (first.text, first.get("state-qualifier")) == ("Speichern Sie die Datei.", "leveraged-tm")
    segs = report(results, 0.1, "m")["files"][0]["segments"]
    assert segs[0]["memory"] == HUMAN and segs[1]["examples"] == ["Delete the folder."]


def test_import_tmx_and_po_and_export(tmp_path):
    tmx = tmp_path / "in.tmx"
    tmx.write_text('<?xml version="1.0" encoding="UTF-8"?><tmx version="1.4"><header srclang="en" adminlang="en" '
                   'creationtool="t" creationtoolversion="1" segtype="sentence" o-tmf="x" datatype="plaintext"/>'
                   '<body><tu><tuv xml:lang="en"><seg>Print</seg></tuv><tuv xml:lang="de"><seg>Drucken</seg></tuv>'
                   '</tu></body></tmx>', encoding="utf-8")
    mem = open_memory(tmp_path / "m.sqlite")
    assert import_files(mem, [tmx], target_lang="de") == 1
    assert import_files(mem, [DATA / "de-latin1.po"]) == 1  # "Save"; the fuzzy entry is not human work
    assert mem.exact("Save", "en", "de").target == "Speichern"
    out = tmp_path / "out.tmx"
    assert export_tmx(mem, out) == 2
    from translate.storage import tmx as tmxstore

    units = {str(u.source): str(u.target) for u in tmxstore.tmxfile.parsefile(str(out)).units}
    assert units == {"Print": "Drucken", "Save": "Speichern"}


def test_memory_commands(tmp_path):
    mem = tmp_path / "m.sqlite"
    r = run_cli(["memory", "import", str(DATA / "de-latin1.po"), "--memory", str(mem)])
    assert r.returncode == 0 and "imported 1 translation units" in r.stdout
    r = run_cli(["memory", "stats", "--memory", str(mem)])
    assert "1 units" in r.stdout and "en -> de  human  1" in r.stdout
    r = run_cli(["memory", "export", "--tmx", str(tmp_path / "x.tmx"), "--memory", str(mem)])
    assert r.returncode == 0 and (tmp_path / "x.tmx").is_file()
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"garbage" * 500)
    r = run_cli(["memory", "stats", "--memory", str(bad)])
    assert r.returncode == 1 and "not a usable memory database" in r.stderr and "Traceback" not in r.stderr


def test_quality_checks_flag_what_a_reviewer_would(tmp_path):
    src = xliff(tmp_path / "a.xlf", ["Upload 3 files to https://example.com now."])
    script = {"Upload 3 files to https://example.com now.": "Laden Sie 4 Dateien nach https://example.org hoch"}
    results = Pipeline(ScriptedTranslator(script), Options(output=tmp_path / "o.xlf")).run([str(src)])
    [seg] = results[0].segments
    assert seg.action == "flagged" and set(seg.qa) == {"numbers", "urls", "endpunc"}
    note = etree.parse(str(tmp_path / "o.xlf")).getroot().find(".//x:note", NS).text
    assert note.startswith("machine translation to review: quality checks: numbers: ")
    assert report(results, 0.1, "m")["totals"]["check_failures"] == 1


class Retrying(ScriptedTranslator):
    """Loops first; the retry (other decoding) gives a proper answer."""

    def __init__(self):
        super().__init__({"Save the file now please.": "jetzt jetzt jetzt"},
                         {"Save the file now please.": ["repetition"]})
        self.decoding = None

    def with_decoding(self, **changes):
        other = ScriptedTranslator({"Save the file now please.": "Bitte speichern Sie die Datei jetzt."})
        other.changes = changes
        self.retry = other
        return other


def test_degenerate_output_is_retried_once(tmp_path):
    src = xliff(tmp_path / "a.xlf", ["Save the file now please."])
    translator = Retrying()
    results = Pipeline(translator, Options(output=tmp_path / "o.xlf", checks=False)).run([str(src)])
    [seg] = results[0].segments
    assert seg.translation == "Bitte speichern Sie die Datei jetzt." and seg.flags == ["retried"]
    assert translator.retry.changes == {"repetition_penalty": 1.3, "no_repeat_ngram_size": 3}


def test_a_killed_run_resumes_where_it_stopped(tmp_path, tiny_model):
    """Kill a run mid-way; the second run translates only what the first had not stored."""
    sources = [f"Sentence {i} about {w} files." for i in range(40) for w in ("big",)]
    src = xliff(tmp_path / "big.xlf", sources)
    mem = tmp_path / "m.sqlite"
    env = dict(os.environ, BAYLING_CAT_HOME=str(tmp_path / "home"), BAYLING_CAT_MODEL=str(tiny_model))
    cmd = [sys.executable, "-m", "bayling_cat", "translate", str(src), "-o", str(tmp_path / "out.xlf"),
           "--memory", str(mem), "--batch-size", "4", "--max-new-tokens", "40"]
    proc = subprocess.Popen(cmd + ["--threads", "1"], env=env, stderr=subprocess.DEVNULL)
    stored = 0
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        try:
            stored = open_memory(mem).stats()["units"]
        except Exception:  # noqa: BLE001 - the file may be created right now
            stored = 0
        if stored:
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.wait(30)
    assert stored > 0
    assert not (tmp_path / "out.xlf").exists()  # a killed run leaves no half-written file
    done_before = open_memory(mem).stats()["units"]
    second = run_cli(["translate", str(src), "-o", str(tmp_path / "out.xlf"), "--memory", str(mem),
                      "--report", str(tmp_path / "r.json")], env_extra={k: env[k] for k in
                                                                      ("BAYLING_CAT_HOME", "BAYLING_CAT_MODEL")})
    assert second.returncode == 0, second.stderr
    import json

    data = json.loads((tmp_path / "r.json").read_text())
    assert data["totals"]["from_memory"] >= done_before
    assert len(etree.parse(str(tmp_path / "out.xlf")).getroot().findall(".//x:trans-unit", NS)) == 40


XLF2 = """<?xml version="1.0" encoding="UTF-8"?>
<xliff xmlns="urn:oasis:names:tc:xliff:document:2.0" version="2.0" srcLang="en" trgLang="de"><file id="f">
<unit id="u1"><segment><source>Delete the <pc id="1">folders</pc> now.</source></segment></unit>
</file></xliff>"""


def test_fuzzy_matches_in_the_report_and_as_tm_suggestions(tmp_path):
    """translate --report lists the best fuzzy match with its percentage; --mode suggest offers it as a TM
    match (alt-trans / mtc:match with its quality) beside the machine suggestion."""
    mem = open_memory(tmp_path / "m.sqlite")
    mem.add([{"source": "Delete the <1>folder</1>.", "target": "Löschen Sie den <1>Ordner</1>.", "source_lang": "en",
              "target_lang": "de", "origin": HUMAN},
             {"source": "Delete the folder.", "target": "Löschen Sie den Ordner.", "source_lang": "en",
              "target_lang": "de", "origin": HUMAN}])
    src = xliff(tmp_path / "a.xlf", ["Delete the folders now.", "Print everything twice."])
    results = Pipeline(ScriptedTranslator(), Options(output=tmp_path / "o.xlf", memory=mem.path, model_id="m",
                                                     checks=False, mode="suggest")).run([str(src)])
    segs = report(results, 0.1, "m")["files"][0]["segments"]
    assert segs[0]["fuzzy"] == {"percent": 78, "source": "Delete the folder.", "target": "Löschen Sie den Ordner.",
                                "origin": HUMAN}
    assert "fuzzy" not in segs[1]
    unit = etree.parse(str(tmp_path / "o.xlf")).getroot().find(".//x:trans-unit[@id='u0']", NS)
    alts = unit.findall("x:alt-trans", NS)
    assert [(a.get("origin"), a.get("match-quality")) for a in alts] == [("bayling-cat", None),
                                                                         ("bayling-cat memory", "78")]
    assert alts[1].find("x:source", NS).text == "Delete the folder."
    assert alts[1].find("x:target", NS).text == "Löschen Sie den Ordner."
    assert unit.find("x:target", NS) is None  # suggest mode leaves the target alone
    # XLIFF 2: an mtc:match of type tm, inline codes kept where the segment has them
    src2 = tmp_path / "b.xlf"
    src2.write_text(XLF2, encoding="utf-8")
    Pipeline(ScriptedTranslator(), Options(output=tmp_path / "o2.xlf", memory=mem.path, model_id="m", checks=False,
                                           mode="suggest")).run([str(src2)])
    ns2 = {"x": "urn:oasis:names:tc:xliff:document:2.0", "mtc": "urn:oasis:names:tc:xliff:matches:2.0"}
    matches = etree.parse(str(tmp_path / "o2.xlf")).getroot().findall(".//mtc:match", ns2)
    assert [(m.get("type"), m.get("similarity"), m.get("matchQuality")) for m in matches] == [
        ("mt", None, None), ("tm", "83", "83")]
    target = matches[1].find("x:target", ns2)
    assert etree.tostring(target, encoding="unicode", with_tail=False).endswith(
        '>Löschen Sie den <pc id="1">Ordner</pc>.</target>')
    # a higher threshold: no fuzzy match shown, none given to the model
    translator = ScriptedTranslator()
    results = Pipeline(translator, Options(output=tmp_path / "o3.xlf", memory=mem.path, model_id="m2", checks=False,
                                           fuzzy_threshold=90)).run([str(src)])
    assert translator.examples is None and "fuzzy" not in report(results, 0.1, "m")["files"][0]["segments"][0]


def test_cli_fuzzy_threshold_option(tmp_path):
    r = run_cli(["translate", str(DATA / "de-latin1.po"), "--fuzzy-threshold", "101", "-t", "de"])
    assert r.returncode == 2 and "--fuzzy-threshold" in r.stderr


def test_the_rest_hook_returns_memory_matches(tmp_path):
    from bayling_cat.server import create_app
    from tests.fakes import FakeEngine

    mem = open_memory(tmp_path / "m.sqlite")
    mem.add([{"source": "Save the file before closing.", "target": "Speichern Sie die Datei vor dem Schließen.",
              "source_lang": "en", "target_lang": "de", "origin": HUMAN},
             {"source": "Save the files before closing.", "target": "MT", "source_lang": "en", "target_lang": "de"}])
    engine = FakeEngine(lambda conv: "[tr]")
    client = create_app(engine, memory=mem, fuzzy_threshold=80).test_client()
    r = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": [
        "Save the files before closing.", "Save the file before closing.", "Something else entirely."]})
    assert r.status_code == 200
    # through the translation core, as translate does: the exact human match is reused without the model, the
    # fuzzy one shown to the model first as an earlier turn (an exact match is no example of itself)
    asked = {c[-1].content: [m.content for m in c[:-1]] for c in engine.conversations}
    assert "Save the file before closing." not in " ".join(asked)
    [shown] = [turns for request, turns in asked.items() if request.endswith("Save the files before closing.")]
    assert shown[1] == "Speichern Sie die Datei vor dem Schließen." and shown[0].endswith("Save the file before closing.")
    assert [turns for request, turns in asked.items() if request.endswith("Something else entirely.")] == [[]]
    texts = [t["text"] for t in r.get_json()["translations"]]
    assert texts[1] == "Speichern Sie die Datei vor dem Schließen." and texts[0] == texts[2] == "[tr]"
    got = [t["matches"] for t in r.get_json()["translations"]]
    assert got == [[{"percent": 96, "source": "Save the file before closing.",
                     "target": "Speichern Sie die Datei vor dem Schließen."}],
                   [{"percent": 100, "source": "Save the file before closing.",
                     "target": "Speichern Sie die Datei vor dem Schließen."}], []]
    plain = create_app(FakeEngine(lambda conv: "[tr]")).test_client()  # no memory: no matches field
    r = plain.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": ["Save."]})
    assert "matches" not in r.get_json()["translations"][0]


def test_import_a_utf16_tmx_with_a_doctype(tmp_path):
    """Trados and memoQ export UTF-16 TMX with a DOCTYPE naming tmx14.dtd (never fetched)."""
    tmx = tmp_path / "trados.tmx"
    text = ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n<tmx version="1.4">'
            '<header creationtool="SDL" creationtoolversion="1" segtype="sentence" o-tmf="x" adminlang="en-US" '
            'srclang="en-US" datatype="xml"/><body>\n'
            '<tu creationdate="20240102T030405Z"><tuv xml:lang="en-US"><seg>Save the file.</seg></tuv>'
            '<tuv xml:lang="ja-JP"><seg>ファイルを保存します。</seg></tuv></tu>\n</body></tmx>')
    tmx.write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    mem = open_memory(tmp_path / "m.sqlite")
    assert import_files(mem, [tmx]) == 1
    assert mem.exact("Save the file.", "en-US", "ja-JP").target == "ファイルを保存します。"
    [unit] = mem.units()
    assert unit["created"] == 1704164645.0  # the unit's own date is kept


def test_tmx_text_that_looks_like_a_placeholder_stays_text(tmp_path):
    tmx = tmp_path / "lit.tmx"
    tmx.write_text('<?xml version="1.0" encoding="UTF-8"?><tmx version="1.4"><header srclang="en" adminlang="en" '
                   'creationtool="t" creationtoolversion="1" segtype="sentence" o-tmf="x" datatype="plaintext"/>'
                   '<body><tu><tuv xml:lang="en"><seg>Press &lt;1&gt; to <ph x="1">&lt;br/&gt;</ph>go</seg></tuv>'
                   '<tuv xml:lang="de"><seg>&lt;1&gt; drücken, um <ph x="1">&lt;br/&gt;</ph>zu gehen</seg></tuv>'
                   '</tu></body></tmx>', encoding="utf-8")
    mem = open_memory(tmp_path / "m.sqlite")
    assert import_files(mem, [tmx]) == 1
    assert mem.exact("Press <1/> to <2/>go", "en", "de").target == "<1/> drücken, um <2/>zu gehen"
    out = tmp_path / "out.tmx"
    export_tmx(mem, out)
    data = out.read_text(encoding="utf-8")
    assert '<seg>Press &lt;1&gt; to <ph x="2">&lt;br/&gt;</ph>go</seg>' in data
    assert '<seg>&lt;1&gt; drücken, um <ph x="2">&lt;br/&gt;</ph>zu gehen</seg>' in data


# -- large XLIFF and PO files are read in pieces ----------------------------------------------------------------

SHARED_CORPUS = ROOT.parent / "shared" / "corpus"


def _bilingual_files():
    files = sorted(p for p in DATA.iterdir() if p.suffix in (".xlf", ".xliff", ".sdlxliff", ".mqxliff", ".po"))
    if SHARED_CORPUS.is_dir():
        files += sorted(p for folder in ("xliff12", "xliff2", "sdlxliff", "mqxliff", "po")
                        for p in (SHARED_CORPUS / folder).iterdir() if p.is_file())
    return files


def _rows(path, pieces):
    from bayling_cat.connectors.xmlio import DocumentError
    from bayling_cat.memory import importer

    head = path.read_bytes()[:4096]
    original = importer._pieces
    importer._pieces = pieces
    try:
        return list(importer._document_rows(path, None, None, head))
    except (MemoryError_, DocumentError) as exc:
        return type(exc).__name__ + ": " + str(exc).split(": ", 1)[-1].split(" (")[0]
    finally:
        importer._pieces = original


def _segments(path, documents):
    from bayling_cat.connectors import open_document
    from bayling_cat.document import align_target
    from bayling_cat.memory.tmx import stored_codes

    def codes(seg):  # the pieces are parsed as XML parsers do: line breaks inside attribute values become spaces
        text = json.dumps(stored_codes(seg.codes), ensure_ascii=False, sort_keys=True)
        return re.sub(r"\\[nrt]|&#(10|13|9);", " ", text)

    out = []
    for data in documents:
        connector = open_document(path, data)
        out += [(seg.source, seg.target, seg.skip, seg.hint, codes(seg), align_target(seg),
                 connector.source_lang, connector.target_lang, connector.format) for seg in connector.segments()]
    return out


@pytest.mark.parametrize("path", _bilingual_files(), ids=lambda p: p.name)
def test_files_read_in_pieces_give_the_units_of_the_whole_file(path, monkeypatch):
    """Every segment a connector reads from the whole file comes out of the pieces, with the same source,
    target, state, codes and languages, also when the pieces are three units small (many boundaries); and
    the import finds the same human units (or refuses the file the same way)."""
    from bayling_cat.connectors.xmlio import DocumentError
    from bayling_cat.memory import chunks, importer

    try:
        whole = _segments(path, [path.read_bytes()])
    except DocumentError:
        whole = None
    monkeypatch.setattr(chunks, "SIZE", 3)
    if whole is not None:
        assert _segments(path, importer._pieces(path, path.read_bytes()[:4096])) == whole
    imported_whole = _rows(path, lambda p, head, progress=None: iter([p.read_bytes()]))
    imported = _rows(path, importer._pieces)
    if isinstance(imported_whole, str):  # a file refused whole is refused in pieces too
        assert isinstance(imported, str), imported
    else:
        assert imported == imported_whole


def test_a_big_xliff_and_po_import_in_pieces_with_bounded_memory(tmp_path, monkeypatch):
    from bayling_cat.memory import chunks

    read = []
    original = chunks._document

    def counting(piece):
        read.append(len(piece))
        return original(piece)

    monkeypatch.setattr(chunks, "_document", counting)
    monkeypatch.setattr(chunks, "SIZE", 100)
    sources = [f"Sentence number {i} of the big file." for i in range(1050)]
    xlf = xliff(tmp_path / "big.xlf", sources, {s: f"Satz {i}." for i, s in enumerate(sources)}, approved=sources)
    class Bar:  # what the CLI's progress bar is given
        def __init__(self, total):
            self.total, self.done = total, 0
            bars.append(self)

        def update(self, n):
            self.done += n

        def close(self):
            pass

    bars = []
    with open_memory(tmp_path / "m.sqlite") as mem:
        assert import_files(mem, [xlf], progress=Bar) == 1050
        assert read == [100] * 10 + [50]
        assert [(b.total, b.done) for b in bars] == [(xlf.stat().st_size, xlf.stat().st_size)]
        assert mem.exact("Sentence number 1049 of the big file.", "en", "de").target == "Satz 1049."
    po = tmp_path / "big.de.po"
    po.write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
                  + "".join(f'#: f.c:{i}\nmsgid "{s}"\nmsgstr "Satz {i}."\n\n' for i, s in enumerate(sources))
                  + '#, fuzzy\nmsgid "Not yet."\nmsgstr "Noch nicht."\n', encoding="utf-8")
    with open_memory(tmp_path / "p.sqlite") as mem:
        assert import_files(mem, [po], source_lang="en", progress=Bar) == 1050  # the fuzzy entry is no human work
        assert (bars[-1].total, bars[-1].done) == (po.stat().st_size, po.stat().st_size)
    # a UTF-8 byte order mark before the header, and a Latin-1 charset that every piece must carry
    latin = tmp_path / "big.fr.po"
    latin.write_bytes(b"\xef\xbb\xbf" + po.read_text("utf-8").replace("Language: de", "Language: fr").encode())
    latin1 = tmp_path / "latin1.po"
    latin1.write_bytes(po.read_text("utf-8").replace("charset=UTF-8", "charset=ISO-8859-1")
                       .replace("Satz 1049.", "Sätze 1049.").encode("latin-1"))
    pieces = list(chunks.po_chunks(latin, 100))
    assert len(pieces) == 11 and all(p.startswith(b'msgid ""\nmsgstr ""\n"Language: fr') for p in pieces)
    with open_memory(tmp_path / "q.sqlite") as mem:
        assert import_files(mem, [latin], source_lang="en") == 1050
        assert mem.exact("Sentence number 1049 of the big file.", "en", "fr").target == "Satz 1049."
        assert import_files(mem, [latin1], source_lang="en") == 1050
        assert mem.exact("Sentence number 1049 of the big file.", "en", "de").target == "Sätze 1049."
        assert mem.exact("Sentence number 7 of the big file.", "en", "de").target == "Satz 7."


def test_a_broken_xliff_is_named_by_line_and_non_xliff_xml_is_refused(tmp_path):
    broken = tmp_path / "broken.xlf"
    text = xliff(tmp_path / "ok.xlf", ["One.", "Two."], {"One.": "Eins.", "Two.": "Zwei."}).read_text()
    broken.write_text(text.replace("<source>Two.</source>", "<source>Two.</sourc>"), encoding="utf-8")
    with open_memory(tmp_path / "m.sqlite") as mem:
        with pytest.raises(MemoryError_, match=r"broken\.xlf: line \d+: not well-formed XML"):
            import_files(mem, [broken])
        other = tmp_path / "other.xml"
        other.write_text("<html><body>x</body></html>", encoding="utf-8")
        with pytest.raises(MemoryError_, match=r"other\.xml: not an XLIFF file \(the root element is <html>\)"):
            import_files(mem, [other])
        bomb = tmp_path / "bomb.xlf"
        bomb.write_text('<?xml version="1.0"?><!DOCTYPE xliff [<!ENTITY a "aaaaaaaaaa">]>' + text.split("?>", 1)[1]
                        .replace("One.", "&a;"), encoding="utf-8")
        with pytest.raises(MemoryError_, match="entity declarations are refused"):
            import_files(mem, [bomb])


_TMX_HEAD = ('<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4">\n<header srclang="en" adminlang="en" '
             'creationtool="t" creationtoolversion="1" segtype="sentence" o-tmf="x" datatype="plaintext"/>\n<body>\n')


def _small_tmx(path, n=6, broken_at=3):
    lines = [f'<tu><tuv xml:lang="en"><seg>Broken <b>{i}</seg></tuv></tu>' if i == broken_at else
             f'<tu><tuv xml:lang="en"><seg>One {i}.</seg></tuv><tuv xml:lang="de"><seg>Eins {i}.</seg></tuv></tu>'
             for i in range(n)]
    path.write_text(_TMX_HEAD + "\n".join(lines) + "\n</body></tmx>\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("events_before_error", [0, 1, 3, None])
def test_a_broken_tmx_unit_whatever_the_parser_reports_and_where(tmp_path, monkeypatch, events_before_error):
    """libxml2 2.14 notices a broken unit before it hands out the events of the good units read in the same
    chunk, and words its messages its own way: every good unit is still read, the broken one named by its
    line, whichever number of events came first and whatever the parser's message says."""
    from bayling_cat.memory import tmx as tmx_module

    real = etree.iterparse

    def parser(source, **kw):
        if events_before_error is None:  # the installed lxml as it is
            yield from real(source, **kw)
            return
        for count, event in enumerate(real(source, **kw)):
            if count == events_before_error:
                break
            yield event
        raise etree.XMLSyntaxError("some future wording", None, 99, 1)

    monkeypatch.setattr(tmx_module.etree, "iterparse", parser)
    units = list(tmx_module.read_tmx(_small_tmx(tmp_path / "b.tmx")))
    assert [(u.line, u.source) for u in units if not u.error] == [(5, "One 0."), (6, "One 1."), (7, "One 2."),
                                                                   (9, "One 4."), (10, "One 5.")]
    assert [(u.line, u.error.split(" (")[0]) for u in units if u.error] == [(8, "not well-formed XML")]


def test_a_file_without_units_is_not_a_tmx_whatever_the_parser_says(tmp_path):
    other = tmp_path / "other.tmx"
    other.write_text("<tmx version=\"1.4\"><body><p>x</b></body></tmx>\n", encoding="utf-8")
    with open_memory(tmp_path / "m.sqlite") as mem:
        with pytest.raises(MemoryError_, match=r"other\.tmx: not a readable TMX file \(line 1: "):
            import_files(mem, [other])


def test_tmx_entities_are_refused_never_dropped(tmp_path):
    """``&co2;`` declared in the internal subset used to be imported as nothing, exit 0."""
    tmx = tmp_path / "ent.tmx"
    tmx.write_text('<?xml version="1.0"?>\n<!DOCTYPE tmx [<!ENTITY co2 "CO&#8322;">]>\n' + _TMX_HEAD.split("\n", 1)[1]
                   + '<tu><tuv xml:lang="en"><seg>Less &co2;.</seg></tuv><tuv xml:lang="de"><seg>Weniger &co2;.</seg>'
                   '</tuv></tu>\n</body></tmx>\n', encoding="utf-8")
    r = run_cli(["memory", "import", str(tmx), "--memory", str(tmp_path / "m.sqlite")])
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip().splitlines()[-1].endswith(
        "ent.tmx: its DOCTYPE declares the entity co2; entity declarations are refused (they can expand without "
        "bound or read other files); nothing was imported")
    # a reference without a declaration (which only an external DTD could give) is a unit that cannot be read
    undeclared = tmp_path / "undeclared.tmx"
    undeclared.write_text(tmx.read_text().replace('<!DOCTYPE tmx [<!ENTITY co2 "CO&#8322;">]>', ""), encoding="utf-8")
    warnings = []
    with open_memory(tmp_path / "n.sqlite") as mem:
        assert import_files(mem, [undeclared], warn=warnings.append) == 0
    assert len(warnings) == 1 and "line 6: unit skipped: " in warnings[0] and "co2" in warnings[0]
