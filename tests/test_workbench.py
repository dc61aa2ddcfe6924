"""The translator's workbench, route by route, with Flask's test client and a scripted engine: opening,
listing, editing, confirming (the format's human state and the memory), saving, session restore after a
restart, conflicts between two tabs, revision turns, take-back, pre-translation, uploads and security."""

import io
import shutil
import time
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.connectors import open_document
from bayling_cat.memory import open_memory
from bayling_cat.server import create_app
from bayling_cat.server.workbench import CSP, TOKEN_HEADER, Workbench
from tests.conftest import ROOT
from tests.fakes import FakeEngine

DATA = ROOT / "tests" / "data"
SHARED = ROOT.parent / "shared"
XLF_NS = {"x": "urn:oasis:names:tc:xliff:document:1.2"}


def answer(conversation):
    """'[tr] ' + the text to translate; a revision turn answers with its instruction, as a model would."""
    last = conversation[-1].content
    if len(conversation) > 1:
        return "REVISED " + last.split("'")[1] if "'" in last else "REVISED"
    return "[tr] " + last.rsplit("\n\n", 1)[-1]


@pytest.fixture
def fake():
    return FakeEngine(answer)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Review sessions live in the data folder: this test's own."""
    monkeypatch.setenv("BAYLING_CAT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def session_dir(doc):
    from bayling_cat.review import session_folder

    return session_folder(doc)


def make(fake, doc, tmp_path, glossaries=(), **kw):
    bench = Workbench(review=doc, memory_path=tmp_path / "memory.sqlite", **kw)
    app = create_app(fake, glossaries, window=0.01, workbench=bench)
    client = app.test_client()
    client.environ_base["HTTP_" + TOKEN_HEADER.upper().replace("-", "_")] = bench.token
    return client, bench


def doc_of(client):
    review = client.get("/workbench/api/documents").get_json()["review"]
    return review, client.get(f"/workbench/api/documents/{review}").get_json()


def seg_url(doc_id, i, action=""):
    return f"/workbench/api/documents/{doc_id}/segments/{i}" + (f"/{action}" if action else "")


def test_page_is_served_with_a_strict_policy_and_the_token(fake, xlf, tmp_path):
    client, bench = make(fake, xlf, tmp_path)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["Content-Security-Policy"] == CSP
    assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
    html = page.get_data(as_text=True)
    assert f'content="{bench.token}"' in html and "__WORKBENCH_TOKEN__" not in html
    assert "<script>" not in html  # no inline script: the policy would block it anyway
    for name in ("app.js", "app.css"):
        r = client.get(f"/workbench/static/{name}")
        assert r.status_code == 200 and r.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/workbench/static/../server/app.py").status_code == 404


def test_state_changing_requests_need_the_token_and_a_loopback_host(fake, xlf, tmp_path):
    client, bench = make(fake, xlf, tmp_path)
    doc_id, doc = doc_of(client)
    bare = client.application.test_client()
    r = bare.put(seg_url(doc_id, 0), json={"target": "x", "version": 0})
    assert r.status_code == 403 and TOKEN_HEADER in r.get_json()["error"]["message"]
    r = bare.put(seg_url(doc_id, 0), json={"target": "x", "version": 0}, headers={TOKEN_HEADER: "guess"})
    assert r.status_code == 403
    # a DNS-rebinding page reaches 127.0.0.1 under its own name: refused
    r = client.get("/", headers={"Host": "evil.example:5000"})
    assert r.status_code == 403
    assert client.get(f"/workbench/api/documents/{doc_id}").get_json()["segments"][0]["version"] == 0


def test_api_key_is_asked_by_the_api_not_by_the_page(fake, xlf, tmp_path):
    bench = Workbench(review=xlf)
    app = create_app(fake, api_key="s3cret", workbench=bench)
    client = app.test_client()
    assert client.get("/").status_code == 200
    assert client.get("/workbench/static/app.js").status_code == 200
    r = client.get("/workbench/api/documents", headers={TOKEN_HEADER: bench.token})
    assert r.status_code == 401
    r = client.get("/workbench/api/documents", headers={TOKEN_HEADER: bench.token, "X-API-Key": "s3cret"})
    assert r.status_code == 200 and r.get_json()["review"]


def test_open_lists_segments_in_the_formats_terms(fake, xlf, tmp_path):
    client, _ = make(fake, xlf, tmp_path)
    doc_id, doc = doc_of(client)
    assert doc["format"] == "xliff-1.2" and (doc["source_lang"], doc["target_lang"]) == ("en", "de")
    by_key = {s["key"]: s for s in doc["segments"]}
    bold = by_key["bold"]
    assert bold["source"] == "Click <1>Save</1> to keep your <2/>changes."
    assert bold["codes"] == {"1": {"paired": True, "label": "g 1", "literal": False},
                             "2": {"paired": False, "label": "x 2", "literal": False}}
    assert bold["status"] == "new" and bold["notes"] == ["Button label in bold."] and not bold["readonly"]
    locked = [s for s in doc["segments"] if s["readonly"]]
    assert locked and all(s["status"] == "locked" for s in locked)
    assert {s["reason"] for s in locked} >= {"translate=no", "approved"}
    assert doc["words"] == sum(s["words"] for s in doc["segments"])
    assert client.get("/workbench/api/documents/nope").status_code == 404


def test_edit_confirm_save_and_memory(fake, xlf, tmp_path):
    client, bench = make(fake, xlf, tmp_path)
    doc_id, _ = doc_of(client)
    r = client.put(seg_url(doc_id, 0), json={"target": "Klicken Sie auf <1>Speichern</1>, um <2/>", "version": 0})
    seg = r.get_json()
    assert r.status_code == 200 and seg["version"] == 1 and seg["status"] == "draft"
    assert seg["history"][-1]["kind"] == "edit"
    # the typed target lost no code: no code problem; a target without codes is marked
    assert seg["code_problems"] is None
    r = client.put(seg_url(doc_id, 0), json={"target": "Klicken Sie auf Speichern", "version": 1})
    assert r.get_json()["code_problems"]["missing"] == ["<1>", "</1>", "<2/>"]
    r = client.post(seg_url(doc_id, 0, "confirm"),
                    json={"target": "Klicken Sie auf <1>Speichern</1>, um Ihre <2/>Änderungen zu behalten.",
                          "version": 2})
    seg = r.get_json()
    assert seg["status"] == "confirmed" and seg["version"] == 3 and seg["history"][-1]["kind"] == "confirm"
    memory = open_memory(tmp_path / "memory.sqlite")
    hit = memory.exact("Click <1>Save</1> to keep your <2/>changes.", "en", "de")
    assert hit.origin == "human" and hit.target == "Klicken Sie auf <1>Speichern</1>, um Ihre <2/>Änderungen zu behalten."
    original = xlf.read_bytes()
    saved = client.post(f"/workbench/api/documents/{doc_id}/save").get_json()
    assert saved["output"] == str(xlf) and Path(saved["backup"]).read_bytes() == original
    root = etree.parse(str(xlf)).getroot()
    target = root.find(".//x:trans-unit[@id='bold']/x:target", XLF_NS)
    assert target.get("state") == "translated" and target.get("state-qualifier") is None
    assert ('<target state="translated">Klicken Sie auf <g id="1" ctype="bold">Speichern</g>, um Ihre '
            '<x id="2" ctype="lb"/>Änderungen zu behalten.</target>') in xlf.read_text("utf-8")
    # the connector reads back what was confirmed, codes in place
    [again] = [s for s in open_document(xlf).segments() if s.key == "bold"]
    assert again.target == "Klicken Sie auf <1>Speichern</1>, um Ihre <2/>Änderungen zu behalten."
    assert not any(xlf.parent.glob(".*.tmp"))


def test_a_stale_save_from_another_tab_is_refused(fake, xlf, tmp_path):
    client, _ = make(fake, xlf, tmp_path)
    doc_id, _ = doc_of(client)
    tab_a = client.put(seg_url(doc_id, 0), json={"target": "from tab A", "version": 0})
    assert tab_a.status_code == 200
    tab_b = client.put(seg_url(doc_id, 0), json={"target": "from tab B", "version": 0})
    assert tab_b.status_code == 409
    body = tab_b.get_json()
    assert "changed elsewhere" in body["error"]["message"]
    assert body["current"]["target"] == "from tab A" and body["current"]["version"] == 1
    assert client.post(seg_url(doc_id, 0, "confirm"), json={"version": 0}).status_code == 409
    doc = client.get(f"/workbench/api/documents/{doc_id}").get_json()
    assert doc["segments"][0]["target"] == "from tab A"
    # bad requests get one clear line, never a 500
    assert client.put(seg_url(doc_id, 0), json={"target": "x"}).status_code == 400
    assert client.put(seg_url(doc_id, 999), json={"target": "x", "version": 0}).status_code == 400
    assert client.put(seg_url(doc_id, 0), json={"target": 5, "version": 1}).status_code == 400
    locked = next(s for s in doc["segments"] if s["readonly"])
    r = client.put(seg_url(doc_id, locked["i"]), json={"target": "x", "version": 0})
    assert r.status_code == 400 and "cannot be changed" in r.get_json()["error"]["message"]


def test_session_survives_a_restart(fake, xlf, tmp_path):
    client, _ = make(fake, xlf, tmp_path)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "erste Fassung", "version": 0})
    client.put(seg_url(doc_id, 1), json={"target": "zweite", "version": 0})
    client.post(seg_url(doc_id, 1, "confirm"), json={"target": "zweite <1/><2/><3/><4/>", "version": 1})
    client.post(seg_url(doc_id, 0, "revise"), json={"instruction": "use 'Datei'", "version": 1})
    # a torn last line (the server killed mid-write) costs nothing before it
    log = session_dir(xlf) / "edits.jsonl"
    with open(log, "a") as fh:
        fh.write('{"i": 0, "key": "bold", "rec')
    restarted, _ = make(FakeEngine(answer), xlf, tmp_path)
    doc_id2, doc = doc_of(restarted)
    assert doc_id2 == doc_id
    first, second = doc["segments"][0], doc["segments"][1]
    # the model's answer lost the inline codes: they are put back (and the segment says so)
    # (and translate-toolkit's checks flag it, as every machine translation is checked through the core)
    assert first["target"] == "REVISED Datei<1></1><2/>" and first["flags"][0] == "codes-repaired"
    assert first["status"] == "draft" and first["version"] == 2
    assert [h["kind"] for h in first["history"]] == ["edit", "revise"]
    assert first["history"][1]["instruction"] == "use 'Datei'"
    assert second["status"] == "confirmed" and second["target"] == "zweite <1/><2/><3/><4/>"
    assert xlf.read_bytes() == (DATA / "inline-1.2.xlf").read_bytes()  # nothing written until saved


def test_a_document_changed_outside_keeps_the_old_session_aside(fake, xlf, tmp_path):
    client, _ = make(fake, xlf, tmp_path)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "mine", "version": 0})
    xlf.write_bytes(xlf.read_bytes().replace(b"Click", b"Press"))
    again, _ = make(fake, xlf, tmp_path)
    _, doc = doc_of(again)
    assert "changed outside the workbench" in doc["notice"] and doc["segments"][0]["target"] is None
    [aside] = session_dir(xlf).parent.glob(f"{session_dir(xlf).name}.stale-*")
    assert "mine" in (aside / "edits.jsonl").read_text()


def test_revision_turns_and_take_back(fake, xlf, tmp_path):
    client, _ = make(fake, xlf, tmp_path)
    doc_id, _ = doc_of(client)
    seg = client.post(seg_url(doc_id, 3, "translate"), json={"version": 0}).get_json()
    assert seg["status"] == "review" and seg["origin"] == "mt" and seg["target"] == "  [tr] Leading and trailing spaces  "
    machine = seg["target"]
    seg = client.post(seg_url(doc_id, 3, "revise"), json={"instruction": "use 'Ordner' for folder",
                                                          "version": seg["version"]}).get_json()
    assert seg["target"] == "  REVISED Ordner  " and seg["history"][-1]["instruction"] == "use 'Ordner' for folder"
    # the second instruction is the next turn of the same conversation
    seg = client.post(seg_url(doc_id, 3, "revise"), json={"instruction": "say 'kurz'",
                                                          "version": seg["version"]}).get_json()
    conversation = fake.conversations[-1]
    assert [m.role for m in conversation] == ["user", "assistant", "user", "assistant", "user"]
    assert conversation[1].content == machine.strip() and conversation[3].content.strip() == "REVISED Ordner"
    entry = [h["kind"] for h in seg["history"]].index("mt")
    seg = client.post(seg_url(doc_id, 3, "takeback"), json={"entry": entry, "version": seg["version"]}).get_json()
    assert seg["target"] == machine and seg["status"] == "draft" and seg["history"][-1]["kind"] == "takeback"
    assert client.post(seg_url(doc_id, 3, "takeback"), json={"entry": 99, "version": seg["version"]}).status_code == 400
    assert client.post(seg_url(doc_id, 3, "revise"), json={"instruction": " ", "version": seg["version"]}).status_code == 400


def test_pretranslate_uses_human_memory_first_then_the_model(fake, xlf, tmp_path):
    open_memory(tmp_path / "memory.sqlite").add([{"source": "Click <1>Save</1> to keep your <2/>changes.",
                                            "target": "Menschlich <1>gespeichert</1><2/>.", "source_lang": "en",
                                            "target_lang": "de", "origin": "human"}])
    client, _ = make(fake, xlf, tmp_path)
    doc_id, doc = doc_of(client)
    untranslated = [s["i"] for s in doc["segments"] if s["status"] == "new" and not s["readonly"] and s["source"].strip()]
    job = client.post(f"/workbench/api/documents/{doc_id}/pretranslate").get_json()
    assert job["total"] == len(untranslated)
    deadline = time.time() + 30
    while job["status"] == "running" and time.time() < deadline:
        time.sleep(0.05)
        job = client.get(f"/workbench/api/jobs/{job['id']}").get_json()
    assert job["status"] == "done" and job["done"] == job["total"]
    segs = client.get(f"/workbench/api/documents/{doc_id}").get_json()["segments"]
    assert segs[0]["target"] == "Menschlich <1>gespeichert</1><2/>." and segs[0]["origin"] == "tm"
    assert all(segs[i]["status"] == "review" for i in untranslated)
    assert all(segs[i]["target"].strip().startswith("[tr] ") for i in untranslated[1:] if segs[i]["origin"] == "mt")
    assert sum(segs[i]["origin"] == "mt" for i in untranslated) >= 8
    # the model saw each distinct source once, never the one the memory answered
    asked = [c[0].content for c in fake.conversations]
    assert not any("Click <1>Save</1>" in a for a in asked)
    # the page fills its rows from what changed since it loaded the document
    changed = client.get(f"/workbench/api/documents/{doc_id}/changes?since={doc['changes']}").get_json()
    assert sorted(s["i"] for s in changed["segments"]) == untranslated
    assert changed["segments"][0]["target"] == segs[changed["segments"][0]["i"]]["target"]
    later = client.get(f"/workbench/api/documents/{doc_id}/changes?since={changed['changes']}").get_json()
    assert later == {"changes": changed["changes"], "segments": []}
    assert client.get(f"/workbench/api/documents/{doc_id}/changes?since=x").status_code == 400
    assert client.get("/workbench/api/jobs/nope").status_code == 404


def test_memory_matches_are_listed_with_differences_and_used(fake, xlf, tmp_path):
    open_memory(tmp_path / "memory.sqlite").add([
        {"source": "Click <1>Save</1> to keep all your <2/>changes.", "target": "Klicken Sie auf <1>Speichern</1>, "
         "um alle <2/>Änderungen zu behalten.", "source_lang": "en", "target_lang": "de", "origin": "human"},
        {"source": "Click <1>Save</1> to keep your <2/>changes.", "target": "Maschine.", "source_lang": "en",
         "target_lang": "de", "origin": "mt", "model": "m"},  # machine output is not a memory match
        {"source": "Copied into the target by a tool.", "target": "Von einem Werkzeug kopiert.",
         "source_lang": "en", "target_lang": "de", "origin": "human"},
        {"source": "Something else entirely, about cats.", "target": "Katzen.", "source_lang": "en",
         "target_lang": "de", "origin": "human"}])
    client, _ = make(fake, xlf, tmp_path)
    doc_id, doc = doc_of(client)
    found = client.get(seg_url(doc_id, 0, "matches")).get_json()
    assert found["memory"] is True and found["threshold"] == 75
    [match] = found["matches"]
    assert match["percent"] == 91 and match["target"].startswith("Klicken Sie auf <1>Speichern</1>")
    assert match["differences"] == [["=", "Click <1>Save</1> to keep "], ["-", "all "], ["=", "your <2/>changes."]]
    exact = client.get(seg_url(doc_id, 7, "matches")).get_json()["matches"]
    assert [(m["percent"], m["target"]) for m in exact] == [(100, "Von einem Werkzeug kopiert.")]
    assert client.get(seg_url(doc_id, 2, "matches")).get_json()["matches"] == []
    assert client.get(seg_url(doc_id, 999, "matches")).status_code == 400
    # using a fuzzy match: the target to adapt, marked as such, with the percentage in its history
    used = client.post(seg_url(doc_id, 0, "use-match"), json={"target": match["target"], "percent": 91,
                                                              "version": 0}).get_json()
    assert used["target"] == match["target"] and used["origin"] == "tm" and used["status"] == "review"
    assert used["flags"] == ["fuzzy-match"] and used["history"][-1]["kind"] == "memory"
    assert used["history"][-1]["percent"] == 91
    # codes the segment does not have are repaired as for machine output
    fixed = client.post(seg_url(doc_id, 0, "use-match"), json={"target": "Nur <7/>Text.", "percent": 80,
                                                               "version": used["version"]}).get_json()
    assert "<7/>" not in fixed["target"] and "codes-repaired" in fixed["flags"]
    stale = client.post(seg_url(doc_id, 0, "use-match"), json={"target": "x", "percent": 80, "version": 0})
    assert stale.status_code == 409
    for bad in ({"target": "x", "percent": 101, "version": fixed["version"]},
                {"target": "", "percent": 80, "version": fixed["version"]},
                {"target": 5, "percent": 80, "version": fixed["version"]},
                {"target": "x", "version": fixed["version"]}):
        assert client.post(seg_url(doc_id, 0, "use-match"), json=bad).status_code == 400, bad
    locked = client.post(seg_url(doc_id, 4, "use-match"), json={"target": "x", "percent": 100, "version": 0})
    assert locked.status_code == 400
    # machine translation of a segment with a fuzzy match: the match is shown to the model first
    client.post(seg_url(doc_id, 0, "translate"), json={"version": fixed["version"]})
    assert fake.examples[-1] == [[("Click <1>Save</1> to keep all your <2/>changes.", match["target"])]]
    client.post(seg_url(doc_id, 1, "translate"), json={"version": 0})
    assert fake.examples[-1] is None


def test_without_a_memory_no_matches_are_offered(fake, xlf, tmp_path):
    bench = Workbench(review=xlf, memory_path=None)
    client = create_app(fake, (), window=0.01, workbench=bench).test_client()
    client.environ_base["HTTP_" + TOKEN_HEADER.upper().replace("-", "_")] = bench.token
    doc_id, doc = doc_of(client)
    assert doc["memory"] is None
    assert client.get(seg_url(doc_id, 0, "matches")).get_json() == {"memory": False, "threshold": 75,
                                                                   "matches": []}


def test_live_terminology_feedback_uses_the_glossary(fake, tmp_path):
    path = tmp_path / "terms.xlf"
    path.write_text('<?xml version="1.0"?>\n<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">'
                    '<file source-language="en" target-language="de" datatype="plaintext" original="x"><body>'
                    '<trans-unit id="1"><source>Open the file.</source></trans-unit></body></file></xliff>')
    glossary = tmp_path / "g.csv"
    glossary.write_text("en,de,status\nfile,Datei,preferred\nfile,Akte,forbidden\n")
    client, _ = make(fake, path, tmp_path, glossaries=[glossary])
    doc_id, doc = doc_of(client)
    seg = doc["segments"][0]
    assert [(t["source"], t["targets"], t["start"], t["end"]) for t in seg["terms"]] == [("file", ["Datei"], 9, 13)]
    seg = client.put(seg_url(doc_id, 0), json={"target": "Öffnen Sie die Akte.", "version": 0}).get_json()
    assert seg["violations"] == ["'file' must be translated as 'Datei'", "do not use 'Akte' (use 'Datei')"]
    assert seg["forbidden"] == [{"form": "Akte", "spans": [[15, 19]]}] and seg["missing"] == ["file"]
    seg = client.put(seg_url(doc_id, 0), json={"target": "Öffnen Sie die Datei.", "version": 1}).get_json()
    assert seg["violations"] == [] and seg["missing"] == [] and seg["checks"] == {}
    # translate-toolkit's quality checks too, on what was changed here
    seg = client.put(seg_url(doc_id, 0), json={"target": "Öffnen Sie die Datei 2", "version": 2}).get_json()
    assert set(seg["checks"]) == {"endpunc"}


@pytest.mark.parametrize("name, check", [
    ("inline-2.0.xlf", lambda data: b'<segment id="s1" state="translated">' in data
     and b"subState" not in data.split(b'id="s1"')[1].split(b"</segment>")[0]),
    ("trados.sdlxliff", lambda data: b'<sdl:seg id="1" conf="Translated" origin="interactive"/>' in data),
    ("memoq.mqxliff", lambda data: b'<trans-unit id="1" mq:status="ManuallyConfirmed"' in data),
    ("de-latin1.po", lambda data: b'#: a.c:3\nmsgid "Quit"\nmsgstr "Beenden"' in data),
])
def test_confirmed_segments_get_each_formats_human_state(fake, tmp_path, name, check):
    path = tmp_path / name
    shutil.copy(DATA / name, path)
    client, _ = make(fake, path, tmp_path)
    doc_id, doc = doc_of(client)
    first = next(s for s in doc["segments"] if s["status"] == "new" and not s["readonly"])
    text = "Beenden" if name.endswith(".po") else "Bestätigt " + "".join(
        f"<{n}></{n}>" if c["paired"] else f"<{n}/>" for n, c in first["codes"].items())
    r = client.post(seg_url(doc_id, first["i"], "confirm"), json={"target": text, "version": 0})
    assert r.status_code == 200, r.get_json()
    client.post(f"/workbench/api/documents/{doc_id}/save")
    data = path.read_bytes()
    assert check(data), data.decode("utf-8", "replace")
    reread = next(s for s in open_document(path).segments() if s.key == first["key"])
    assert reread.current.startswith(text.split(" ")[0])


def test_save_to_output_leaves_the_input_alone(fake, xlf, tmp_path):
    out = tmp_path / "out" / "result.xlf"
    client, _ = make(fake, xlf, tmp_path, output=out)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "Entwurf <1>x</1><2/>", "version": 0})
    before = xlf.read_bytes()
    saved = client.post(f"/workbench/api/documents/{doc_id}/save").get_json()
    assert saved == {"output": str(out), "backup": None, "bytes": len(out.read_bytes())}
    assert xlf.read_bytes() == before and not xlf.with_name(xlf.name + ".bak").exists()
    target = etree.parse(str(out)).getroot().find(".//x:trans-unit[@id='bold']/x:target", XLF_NS)
    assert target.get("state") == "needs-review-translation"  # a draft, not confirmed
    download = client.get(f"/workbench/api/documents/{doc_id}/download")
    assert download.status_code == 200 and download.data == out.read_bytes()


def test_serve_mode_upload_and_documents_folder(fake, tmp_path):
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    shutil.copy(DATA / "memoq.mqxliff", folder / "sub" / "notes.mqxliff")
    (folder / "readme.txt").write_text("not a document")
    bench = Workbench(documents=folder, uploads=tmp_path / "uploads")
    client = create_app(fake, workbench=bench).test_client()
    client.environ_base["HTTP_X_WORKBENCH_TOKEN"] = bench.token
    listing = client.get("/workbench/api/documents").get_json()
    assert listing["review"] is None and listing["can_upload"]
    assert [d["name"] for d in listing["available"]] == ["sub/notes.mqxliff"]
    opened = client.post("/workbench/api/documents", json={"kind": "folder", "ref": "sub/notes.mqxliff"})
    assert opened.status_code == 201 and opened.get_json()["format"] == "mqxliff"
    for ref in ("../uploads", "/etc/passwd", "../../x"):
        assert client.post("/workbench/api/documents", json={"kind": "folder", "ref": ref}).status_code == 404
    up = client.post("/workbench/api/documents", data={"file": (io.BytesIO((DATA / "app.pot").read_bytes()), "app.pot"),
                                                       "target_lang": "fr"}, content_type="multipart/form-data")
    assert up.status_code == 201, up.get_json()
    info = up.get_json()
    assert info["format"] == "po" and info["target_lang"] == "fr"
    bad = client.post("/workbench/api/documents", data={"file": (io.BytesIO(b"garbage"), "x.xlf")},
                      content_type="multipart/form-data")
    assert bad.status_code == 400 and "x.xlf" in bad.get_json()["error"]["message"]
    listing = client.get("/workbench/api/documents").get_json()
    assert {d["name"] for d in listing["open"]} == {"notes.mqxliff", "app.pot"}


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="the shared corpus is absent")
def test_malicious_notes_come_back_as_plain_text(fake, tmp_path):
    path = tmp_path / "notes.xliff"
    shutil.copy(SHARED / "corpus" / "xliff12" / "matecat_notes_malicious_code.xliff", path)
    client, _ = make(fake, path, tmp_path)
    _, doc = doc_of(client)
    assert doc["segments"][0]["notes"] == ["alert('This is malicious code');"]
    page = client.get("/").get_data(as_text=True)
    assert "malicious" not in page  # document text never travels inside the HTML


def test_review_refuses_a_bad_file_in_one_line_before_loading_a_model(tmp_path):
    from tests.conftest import run_cli

    bad = tmp_path / "broken.xlf"
    bad.write_text("<xliff version='1.2'><file>")
    for path, words in ((bad, "broken.xlf"), (tmp_path / "missing.xlf", "no such file")):
        result = run_cli(["review", str(path), "--no-browser", "--model", str(tmp_path / "no-model")],
                         env_extra={"BAYLING_CAT_HOME": str(tmp_path / "home")}, timeout=120)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        [line] = result.stderr.strip().splitlines()
        assert line.startswith("bayling-cat: error: ") and words in line


@pytest.mark.skipif(not (SHARED / "corpus").is_dir(), reason="the shared corpus is absent")
def test_every_corpus_document_opens_confirms_and_saves(tmp_path):
    """The class of input: every real XLIFF, SDLXLIFF, MQXLIFF and PO file of the corpus either opens (and a
    confirmed segment comes back from the saved file) or is refused in one line; nothing crashes."""
    from bayling_cat.errors import UserError
    from bayling_cat.review import ReviewSession

    opened = 0
    for f in sorted((SHARED / "corpus").rglob("*")):
        if not f.is_file() or f.suffix in (".md", ".tbx", ".docx"):
            continue
        path = tmp_path / f.parent.name / f.name
        path.parent.mkdir(exist_ok=True)
        shutil.copy(f, path)
        try:
            session = ReviewSession(path, "x", target_lang=None)
        except UserError as exc:
            assert "\n" not in str(exc) and path.name in str(exc)
            continue
        opened += 1
        segments = [session.segment_json(i) for i in range(len(session.segments))]
        editable = [s for s in segments if not s["readonly"] and s["source"].strip()]
        if not editable:
            continue
        first = editable[0]
        text = "Confirmed " + (first["target"] or first["source"])
        session.confirm(first["i"], text, first["version"], accept_repair=True)
        out = tmp_path / "out" / f.name
        session.save(output=out)
        reread = open_document(out).segments()[first["i"]]
        assert reread.key == first["key"]
        assert (reread.current or "").startswith("Confirmed"), f.name
        assert reread.skip is None or not reread.skip.startswith(("translate", "locked")), f.name
    assert opened >= 40


def test_confirming_a_finished_xliff2_translation_is_a_review(fake, tmp_path):
    path = tmp_path / "inline-2.0.xlf"
    shutil.copy(DATA / "inline-2.0.xlf", path)
    client, _ = make(fake, path, tmp_path)
    doc_id, doc = doc_of(client)
    done = next(s for s in doc["segments"] if s["source"] == "Done.")
    assert done["status"] == "confirmed" and done["state"] == "translated" and not done["readonly"]
    fresh = next(s for s in doc["segments"] if s["source"] == "But this.")
    client.post(seg_url(doc_id, done["i"], "confirm"), json={"target": "Terminé.", "version": 0})
    client.post(seg_url(doc_id, fresh["i"], "confirm"), json={"target": "Mais ceci.", "version": 0})
    client.post(f"/workbench/api/documents/{doc_id}/save")
    text = path.read_text("utf-8")
    assert '<segment state="reviewed"><source>Done.</source><target>Terminé.</target></segment>' in text
    assert '<segment state="translated"><source>But this.</source>' in text


def test_docx_review_writes_the_confirmed_paragraph(fake, tmp_path):
    docx = pytest.importorskip("docx")
    from tests.docx_fixture import build

    path = build(tmp_path / "feature.docx")
    bench = Workbench(review=path, target_lang="de")
    client = create_app(fake, workbench=bench).test_client()
    client.environ_base["HTTP_X_WORKBENCH_TOKEN"] = bench.token
    doc_id, doc = doc_of(client)
    assert doc["format"] == "docx" and doc["target_lang"] == "de"
    first = next(s for s in doc["segments"] if not s["readonly"] and s["source"].strip() and not s["codes"])
    r = client.post(seg_url(doc_id, first["i"], "confirm"), json={"target": "Bestätigter Absatz.", "version": 0})
    assert r.status_code == 200
    out = tmp_path / "out.docx"
    bench.sessions[doc_id].save(output=out)
    texts = [p.text for p in docx.Document(str(out)).paragraphs]
    assert "Bestätigter Absatz." in texts and first["source"] not in texts
    assert docx.Document(str(path)).paragraphs  # the input is untouched and still a document
