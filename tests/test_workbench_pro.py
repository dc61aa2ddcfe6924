"""The workbench for a translator's whole day (issue 24) and its data-loss and status-code hardening (issue 25),
route by route with Flask's test client and a scripted engine: saving over a file changed on disk, the edit
journal after a full disk, the first .bak, failed edits that change nothing, 400s instead of 500s, refused
uploads, sessions in the data folder, the declared target language, confirmed text never changed unseen,
comments kept in the file, length limits, the fuzzy/machine split, multi-file XLIFF, codes-only rows,
concordance, and pre-translation counting what got nothing."""

import errno
import io
import json
import os
import shutil
import time

import pytest

from bayling_cat.connectors import open_document
from bayling_cat.engines.base import Generation
from bayling_cat.memory import open_memory
from bayling_cat.server import create_app
from bayling_cat.server.workbench import TOKEN_HEADER, Workbench
from tests.conftest import ROOT
from tests.fakes import FakeEngine
from tests.test_workbench import doc_of, seg_url
from tests.test_workbench import make as workbench_client

DATA = ROOT / "tests" / "data"
XLF = """<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
  <file original="{first}" source-language="en" target-language="{lang}" datatype="plaintext"><body>
      <trans-unit id="1" maxwidth="12" size-unit="char"><source>Save the file.</source></trans-unit>
      <trans-unit id="2"><source>Open <x id="1"/> now.</source></trans-unit>
      <trans-unit id="3"><source><x id="1"/><x id="2"/></source></trans-unit>
  </body></file>
  <file original="second.properties" source-language="en" target-language="{lang}" datatype="plaintext"><body>
      <trans-unit id="4"><source>Close it.</source>
        <target state="needs-review-translation" state-qualifier="leveraged-mt">Schließen.</target></trans-unit>
      <trans-unit id="5"><source>Keep it.</source><target state="needs-review-translation">Behalten.</target></trans-unit>
  </body></file>
</xliff>
"""


def answer(conversation):
    last = conversation[-1].content
    text = last.rsplit("\n\n", 1)[-1]
    return "" if "FAIL" in text else "[tr] " + text


class FailingEngine(FakeEngine):
    """The scripted engine, whose answer to a source holding FAIL is cut off at the length limit."""

    def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None):
        gens = super().generate(conversations, source_texts, suppress_sequences, progress, on_done)
        return [Generation(g.text, ["length-limit"]) if not g.text else g for g in gens]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BAYLING_CAT_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def make(doc, tmp_path, engine=None, glossaries=(), **kw):
    """test_workbench's client on this file's answering engine unless another is given."""
    return workbench_client(engine or FakeEngine(answer), doc, tmp_path, glossaries, **kw)


@pytest.fixture
def multi(tmp_path):
    path = tmp_path / "doc" / "multi.xlf"
    path.parent.mkdir(exist_ok=True)
    path.write_text(XLF.format(first="first.properties", lang="de"), "utf-8")
    return path


# -- issue 25: nothing lost -----------------------------------------------------------------------------------

def test_save_refuses_a_file_changed_on_disk_since_it_was_opened(xlf, tmp_path):
    client, _ = make(xlf, tmp_path)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "Entwurf <1>x</1><2/>", "version": 0})
    # someone adds a unit to the file while it is open in the workbench
    changed = xlf.read_bytes().replace(b"</body>", b'<trans-unit id="added"><source>New.</source></trans-unit></body>')
    xlf.write_bytes(changed)
    r = client.post(f"/workbench/api/documents/{doc_id}/save")
    assert r.status_code == 409 and "changed on disk" in r.get_json()["error"]["message"]
    assert xlf.read_bytes() == changed and not xlf.with_name(xlf.name + ".bak").exists()
    # the same bytes again (a touch, an editor that saved without changes): saving goes on
    xlf.write_bytes((DATA / "inline-1.2.xlf").read_bytes())
    assert client.post(f"/workbench/api/documents/{doc_id}/save").status_code == 200
    # after a save, the saved bytes are the ones on disk: a second save is not a conflict
    assert client.post(f"/workbench/api/documents/{doc_id}/save").status_code == 200


def test_a_full_disk_mid_record_leaves_no_torn_line_and_changes_nothing(xlf, tmp_path, monkeypatch):
    import bayling_cat.journal as journal

    client, bench = make(xlf, tmp_path)
    doc_id, _ = doc_of(client)
    assert client.put(seg_url(doc_id, 0), json={"target": "erste", "version": 0}).status_code == 200
    log = bench.sessions[doc_id].journal.path
    before = log.read_bytes()
    real_write = os.write

    def half_then_full(fd, data):
        real_write(fd, bytes(data[:len(data) // 2]))
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal.os, "write", half_then_full)
    r = client.put(seg_url(doc_id, 0), json={"target": "zweite", "version": 1})
    assert r.status_code == 400 and "No space left" in r.get_json()["error"]["message"]
    monkeypatch.setattr(journal.os, "write", real_write)
    assert log.read_bytes() == before  # the half record was cut off again
    seg = client.get(f"/workbench/api/documents/{doc_id}").get_json()["segments"][0]
    assert seg["target"] == "erste" and seg["version"] == 1  # the refused edit changed nothing
    assert client.put(seg_url(doc_id, 0), json={"target": "dritte", "version": 1}).status_code == 200
    # a tail torn where the file could not be cut (a crash): the next record still starts on its own line
    with open(log, "ab") as fh:
        fh.write(b'{"i": 1, "key": "codes", "rec')
    assert client.put(seg_url(doc_id, 2), json={"target": "vierte", "version": 0}).status_code == 200
    restarted, _ = make(xlf, tmp_path)
    _, doc = doc_of(restarted)
    assert doc["segments"][0]["target"] == "dritte" and doc["segments"][2]["target"] == "vierte"
    assert all(line.endswith(b"}") for line in log.read_bytes().split(b"\n")[:-1])


def test_a_torn_tail_is_dropped_on_restart_and_only_it(xlf, tmp_path):
    client, bench = make(xlf, tmp_path)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "eins", "version": 0})
    client.put(seg_url(doc_id, 2), json={"target": "zwei", "version": 0})
    log = bench.sessions[doc_id].journal.path
    with open(log, "ab") as fh:
        fh.write(b'{"i": 3, "key": "space", "record": {"tar')
    restarted, bench2 = make(xlf, tmp_path)
    doc_id2, doc = doc_of(restarted)
    assert [doc["segments"][i]["target"] for i in (0, 2)] == ["eins", "zwei"]
    assert log.read_bytes().endswith(b"\n")  # the torn tail is gone from the file too
    assert restarted.put(seg_url(doc_id2, 3), json={"target": "drei", "version": 0}).status_code == 200
    third, _ = make(xlf, tmp_path)
    assert doc_of(third)[1]["segments"][3]["target"] == "drei"


def test_a_failed_first_backup_leaves_no_truncated_bak_and_saves_nothing(xlf, tmp_path, monkeypatch):
    import shutil as shutil_module

    client, _ = make(xlf, tmp_path)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "Entwurf <1>x</1><2/>", "version": 0})
    bak = xlf.with_name(xlf.name + ".bak")
    bak.write_bytes(b"an older backup")
    original = xlf.read_bytes()

    def full(src, dst, *a, **k):
        with open(dst, "wb") as fh:
            fh.write(b"<?xml ver")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(shutil_module, "copyfile", full)
    r = client.post(f"/workbench/api/documents/{doc_id}/save")
    assert r.status_code == 400 and "disk full" in r.get_json()["error"]["message"]
    assert "not saved" in r.get_json()["error"]["message"]
    assert bak.read_bytes() == b"an older backup" and xlf.read_bytes() == original
    assert not list(xlf.parent.glob(".*.tmp"))


def test_a_refused_edit_changes_nothing(xlf, tmp_path):
    client, _ = make(xlf, tmp_path)
    doc_id, _ = doc_of(client)
    for bad in ("lone \ud800 surrogate", "bell \x07", "nul \x00", "non-character \uffff"):
        r = client.put(seg_url(doc_id, 0), json={"target": bad, "version": 0})
        assert r.status_code == 400 and "nothing was changed" in r.get_json()["error"]["message"], bad
        r = client.post(seg_url(doc_id, 0, "confirm"), json={"target": bad, "version": 0})
        assert r.status_code == 400, bad
    r = client.post(seg_url(doc_id, 0, "revise"), json={"instruction": "x \udfff", "version": 0})
    assert r.status_code == 400
    r = client.get(f"/workbench/api/documents/{doc_id}")
    assert r.status_code == 200 and r.get_json()["segments"][0]["version"] == 0
    assert r.get_json()["segments"][0]["target"] is None


def test_bad_tokens_names_and_refs_are_400s_not_500s(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    shutil.copy(DATA / "memoq.mqxliff", folder / "ok.mqxliff")
    odd = os.fsencode(str(folder)) + b"/caf\xe9.po"  # a Latin-1 file name: not UTF-8
    with open(odd, "wb") as fh:
        fh.write((DATA / "de-latin1.po").read_bytes())
    bench = Workbench(documents=folder, uploads=tmp_path / "uploads")
    client = create_app(FakeEngine(answer), workbench=bench).test_client()
    bare = create_app(FakeEngine(answer), workbench=bench).test_client()
    r = bare.get("/workbench/api/documents", headers={TOKEN_HEADER: "t\u00f6k\u00e9n"})
    assert r.status_code == 403
    client.environ_base["HTTP_X_WORKBENCH_TOKEN"] = bench.token
    listing = client.get("/workbench/api/documents")
    assert listing.status_code == 200
    names = {d["name"]: d for d in listing.get_json()["available"]}
    assert set(names) == {"ok.mqxliff", "caf\ufffd.po"}
    opened = client.post("/workbench/api/documents", json={"kind": "folder", "ref": names["caf\ufffd.po"]["ref"]})
    assert opened.status_code == 201, opened.get_json()
    for ref in ("a\x00b", "x" * 5000, ""):
        r = client.post("/workbench/api/documents", json={"kind": "folder", "ref": ref})
        assert r.status_code == 400, ref
    pot = (DATA / "app.pot").read_bytes()
    for name in ("a\x00b.pot", "n" * 300 + ".pot", "line\nbreak.pot"):
        r = client.post("/workbench/api/documents", data={"file": (io.BytesIO(pot), name), "target_lang": "fr"},
                        content_type="multipart/form-data")
        assert r.status_code == 400, name
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_a_refused_upload_is_not_kept(tmp_path):
    bench = Workbench(uploads=tmp_path / "uploads")
    client = create_app(FakeEngine(answer), workbench=bench).test_client()
    client.environ_base["HTTP_X_WORKBENCH_TOKEN"] = bench.token
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b'<xliff version="1.2"><file><body>&e;</body></file></xliff>')
    for name, data in (("x.xlf", b"garbage"), ("xxe.xlf", xxe), ("notes.txt.po", b"\xff\xfe\x00")):
        r = client.post("/workbench/api/documents", data={"file": (io.BytesIO(data), name)},
                        content_type="multipart/form-data")
        assert r.status_code == 400, name
    assert list((tmp_path / "uploads").iterdir()) == []
    good = client.post("/workbench/api/documents", data={"file": (io.BytesIO((DATA / "app.pot").read_bytes()), "app.pot"),
                                                         "target_lang": "fr"}, content_type="multipart/form-data")
    assert good.status_code == 201 and len(list((tmp_path / "uploads").iterdir())) == 1


def test_sessions_live_in_the_data_folder_not_beside_the_document(xlf, tmp_path, home):
    out = tmp_path / "out" / "result.xlf"
    beside = sorted(p.name for p in xlf.parent.iterdir())
    client, bench = make(xlf, tmp_path, output=out)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "Entwurf <1>x</1><2/>", "version": 0})
    assert client.post(f"/workbench/api/documents/{doc_id}/save").status_code == 200
    assert sorted(p.name for p in xlf.parent.iterdir()) == beside  # nothing beside FILE: a read-only folder works
    folder = bench.sessions[doc_id].folder
    assert folder.parent == home / "workbench" / "sessions" and (folder / "edits.jsonl").is_file()
    # a session an earlier release kept beside the document is carried over
    other = tmp_path / "old" / "inline.xlf"
    other.parent.mkdir()
    shutil.copy(DATA / "inline-1.2.xlf", other)
    first, _ = make(other, tmp_path / "first")
    doc2, _ = doc_of(first)
    first.put(seg_url(doc2, 0), json={"target": "alt", "version": 0})
    legacy = other.with_name(f".{other.name}.review")
    shutil.copytree(first.application.extensions["bayling_cat_workbench"].sessions[doc2].folder, legacy)
    shutil.rmtree(home / "workbench" / "sessions" / doc2)
    again, _ = make(other, tmp_path / "again")
    assert doc_of(again)[1]["segments"][0]["target"] == "alt"


def test_review_with_t_declares_the_target_language_it_writes(tmp_path):
    from tests.conftest import run_cli

    path = tmp_path / "en.xlf"
    path.write_text(XLF.format(first="a", lang="en").replace(
        '<target state="needs-review-translation" state-qualifier="leveraged-mt">Schließen.</target>', "").replace(
        '<target state="needs-review-translation">Behalten.</target>', ""), "utf-8")
    client, _ = make(path, tmp_path, target_lang="zh")
    doc_id, doc = doc_of(client)
    assert doc["target_lang"] == "zh"
    client.post(seg_url(doc_id, 0, "confirm"), json={"target": "保存文件。", "version": 0})
    assert client.post(f"/workbench/api/documents/{doc_id}/save").status_code == 200
    text = path.read_text("utf-8")
    assert 'target-language="zh"' in text and 'target-language="en"' not in text
    glossary = tmp_path / "g.csv"
    glossary.write_text("en,zh\nfile,文件\n", "utf-8")
    result = run_cli(["check", str(path), "-g", str(glossary)], env_extra={"BAYLING_CAT_HOME": str(tmp_path / "h")})
    assert result.returncode == 0, result.stderr
    assert "term success rate 100.0% (1 of 1)" in result.stdout


def test_a_confirmed_target_is_never_changed_unseen(tmp_path):
    path = tmp_path / "app.po"
    path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: de\\n"\n\n'
                    '#, c-format\nmsgid "Delete %s?"\nmsgstr ""\n', "utf-8")
    client, _ = make(path, tmp_path)
    doc_id, _ = doc_of(client)
    r = client.post(seg_url(doc_id, 0, "confirm"), json={"target": "Löschen?", "version": 0})
    assert r.status_code == 422 and r.get_json()["repaired"] == "Löschen?<1/>"  # <1/>: the %s chip
    assert "would read: Löschen?%s" in r.get_json()["error"]["message"]
    seg = client.get(f"/workbench/api/documents/{doc_id}").get_json()["segments"][0]
    assert seg["status"] == "new" and seg["version"] == 0  # nothing confirmed behind the translator's back
    r = client.post(seg_url(doc_id, 0, "confirm"), json={"target": "Löschen?", "version": 0, "accept_repair": True})
    assert r.status_code == 200 and r.get_json()["target"] == "Löschen?<1/>"
    client.post(f"/workbench/api/documents/{doc_id}/save")
    [entry] = open_document(path).segments()
    assert entry.current == "Löschen?<1/>" and 'msgstr "Löschen?%s"' in path.read_text("utf-8")
    assert client.post(seg_url(doc_id, 0, "confirm"), json={"target": "x", "version": 1,
                                                            "accept_repair": "yes"}).status_code == 400


def test_an_undo_to_empty_keeps_the_typed_text_in_the_history(xlf, tmp_path):
    client, _ = make(xlf, tmp_path)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 2), json={"target": "Ver", "version": 0})
    client.put(seg_url(doc_id, 2), json={"target": "Verwenden Sie", "version": 1})
    seg = client.put(seg_url(doc_id, 2), json={"target": "", "version": 2}).get_json()
    assert [(h["kind"], h["text"]) for h in seg["history"]] == [("edit", "Verwenden Sie"), ("edit", "")]
    seg = client.post(seg_url(doc_id, 2, "takeback"), json={"entry": 0, "version": 3}).get_json()
    assert seg["target"] == "Verwenden Sie"


@pytest.mark.parametrize("name, where", [
    ("inline-1.2.xlf", b'<note from="translator">Check the button name with the UI team.</note>'),
    ("inline-2.0.xlf", b'<note category="translator">Check the button name with the UI team.</note>'),
    ("de-latin1.po", "# Check the button name with the UI team.".encode("latin-1")),
])
def test_comments_are_kept_in_the_file(tmp_path, name, where):
    path = tmp_path / name
    shutil.copy(DATA / name, path)
    client, _ = make(path, tmp_path)
    doc_id, doc = doc_of(client)
    assert doc["comments"] is True
    i = next(s["i"] for s in doc["segments"] if not s["readonly"])
    r = client.put(seg_url(doc_id, i, "comment"), json={"comment": "Check the button name with the UI team.", "version": 0})
    assert r.status_code == 200 and r.get_json()["comment"] == "Check the button name with the UI team."
    assert r.get_json()["version"] == 1 and r.get_json()["status"] == doc["segments"][i]["status"]
    client.post(f"/workbench/api/documents/{doc_id}/save")
    assert where in path.read_bytes()
    # reopened (a new session on the saved file), the comment is the segment's comment, not a note
    shutil.rmtree(tmp_path / "home")
    again, _ = make(path, tmp_path / "again")
    seg = doc_of(again)[1]["segments"][i]
    assert seg["comment"] == "Check the button name with the UI team."
    assert "Check the button name with the UI team." not in seg["notes"]
    # an empty comment removes it
    doc2 = doc_of(again)[0]
    again.put(seg_url(doc2, i, "comment"), json={"comment": "", "version": 0})
    again.post(f"/workbench/api/documents/{doc2}/save")
    assert b"Check the button name" not in path.read_bytes()
    assert open_document(path).segments()  # still a valid document


def test_a_docx_has_no_place_for_comments(tmp_path):
    pytest.importorskip("docx")
    from tests.docx_fixture import build

    path = build(tmp_path / "feature.docx")
    client, _ = make(path, tmp_path, target_lang="de")
    doc_id, doc = doc_of(client)
    assert doc["comments"] is False
    r = client.put(seg_url(doc_id, 0, "comment"), json={"comment": "x", "version": 0})
    assert r.status_code == 400 and "no place for comments" in r.get_json()["error"]["message"]
    assert client.put(seg_url(doc_id, 0, "comment"), json={"comment": 5, "version": 0}).status_code == 400


def test_lengths_files_fuzzy_machine_and_codes_only_rows(multi, tmp_path):
    client, _ = make(multi, tmp_path)
    doc_id, doc = doc_of(client)
    assert doc["files"] == 2
    segs = doc["segments"]
    assert [s["file"] for s in segs] == ["first.properties"] * 3 + ["second.properties"] * 2
    assert segs[0]["max_length"] == 12 and segs[0]["length"] == 0
    assert segs[3]["max_length"] is None
    assert segs[1]["max_length"] is None and "length" not in segs[1]
    assert segs[2]["tag_only"] is True and segs[0]["tag_only"] is False
    # a target the file marks as machine output, and one that is only waiting for review (fuzzy)
    assert (segs[3]["status"], segs[3]["machine"]) == ("review", True)
    assert (segs[4]["status"], segs[4]["machine"]) == ("review", False)
    seg = client.put(seg_url(doc_id, 0), json={"target": "Datei sichern.", "version": 0}).get_json()
    assert seg["length"] == 14 and seg["max_length"] == 12
    # a literal code counts as its text, a markup code as nothing
    seg = client.put(seg_url(doc_id, 1), json={"target": "Öffnen <1/> jetzt.", "version": 0}).get_json()
    assert "length" not in seg
    # a segment changed here no longer shows the file's old state word
    assert seg["state"] is None and seg["file_state"] is None
    seg = client.post(seg_url(doc_id, 4, "confirm"), json={"target": "Behalten Sie es.", "version": 0}).get_json()
    assert seg["state"] is None and seg["file_state"] == "needs-review-translation"


def test_memoq_length_restrictions(tmp_path):
    path = tmp_path / "memoq.mqxliff"
    data = (DATA / "memoq.mqxliff").read_bytes()
    first = data.index(b"<trans-unit ") + len(b"<trans-unit ")
    path.write_bytes(data[:first] + b'mq:maxlengthchars="8" ' + data[first:])
    client, _ = make(path, tmp_path)
    doc_id, doc = doc_of(client)
    seg = doc["segments"][0]
    assert seg["max_length"] == 8 and doc["segments"][1]["max_length"] is None
    seg = client.put(seg_url(doc_id, 0), json={"target": "Zu lang für acht", "version": 0}).get_json()
    assert seg["length"] == 16 and seg["max_length"] == 8


def test_concordance_searches_the_memory_and_the_glossary(xlf, tmp_path):
    open_memory(tmp_path / "memory.sqlite").add([
        {"source": "Save the report as PDF.", "target": "Speichern Sie den Bericht als PDF.", "source_lang": "en",
         "target_lang": "de", "origin": "human"},
        {"source": "The REPORT is ready.", "target": "Der Bericht ist fertig.", "source_lang": "en",
         "target_lang": "de", "origin": "human"},
        {"source": "A report in French.", "target": "Un rapport.", "source_lang": "en", "target_lang": "fr",
         "origin": "human"},
        {"source": "Machine report.", "target": "Maschinenbericht.", "source_lang": "en", "target_lang": "de",
         "origin": "mt", "model": "m"}])
    glossary = tmp_path / "g.csv"
    glossary.write_text("en,de,status\nreport,Bericht,preferred\nreport,Report,forbidden\nfile,Datei,\n", "utf-8")
    client, _ = make(xlf, tmp_path, glossaries=[glossary])
    doc_id, _ = doc_of(client)
    found = client.get(f"/workbench/api/documents/{doc_id}/concordance?q=report").get_json()
    assert sorted(u["source"] for u in found["memory"]) == ["Save the report as PDF.", "The REPORT is ready."]
    assert [t["source"] for t in found["terms"]] == ["report"] and found["terms"][0]["forbidden"] == ["Report"]
    by_target = client.get(f"/workbench/api/documents/{doc_id}/concordance?q=Bericht ist").get_json()
    assert [u["target"] for u in by_target["memory"]] == ["Der Bericht ist fertig."]
    assert client.get(f"/workbench/api/documents/{doc_id}/concordance?q=50%25").get_json()["memory"] == []
    for bad in ("", "%20", "x" * 501, "a%00b"):
        assert client.get(f"/workbench/api/documents/{doc_id}/concordance?q={bad}").status_code == 400, bad


def test_pretranslation_counts_what_got_nothing(tmp_path):
    path = tmp_path / "fail.po"
    path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: de\\n"\n\n'
                    'msgid "One"\nmsgstr ""\n\nmsgid "FAIL two"\nmsgstr ""\n\nmsgid "Three"\nmsgstr ""\n', "utf-8")
    client, _ = make(path, tmp_path, engine=FailingEngine(answer))
    doc_id, _ = doc_of(client)
    seg = client.post(seg_url(doc_id, 1, "translate"), json={"version": 0}).get_json()
    assert seg["target"] is None and "length-limit" in seg["flags"]
    job = client.post(f"/workbench/api/documents/{doc_id}/pretranslate").get_json()
    deadline = time.time() + 30
    while job["status"] == "running" and time.time() < deadline:
        time.sleep(0.05)
        job = client.get(f"/workbench/api/jobs/{job['id']}").get_json()
    assert job["status"] == "done" and job["total"] == 3 and job["failed"] == [1]


def test_journal_records_are_json_lines(xlf, tmp_path):
    client, bench = make(xlf, tmp_path)
    doc_id, _ = doc_of(client)
    client.put(seg_url(doc_id, 0), json={"target": "ä\u2028b", "version": 0})
    lines = bench.sessions[doc_id].journal.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and json.loads(lines[0])["record"]["target"] == "ä\u2028b"


# -- concordance in both memory backends ----------------------------------------------------------------------

from tests.test_memory_backends import location, pg_cluster  # noqa: E402,F401 - the backends' fixtures


def test_concordance_in_both_memory_backends(location):
    def unit(source, target, tgt="de", origin="human", **extra):
        return {"source": source, "target": target, "source_lang": "en", "target_lang": tgt, "origin": origin,
                **extra}

    with open_memory(location) as memory:
        memory.add([unit("Save the Report.", "Bericht speichern."), unit("Resize the window", "Größe ändern"),
                    unit("A report in French.", "Un rapport.", tgt="fr"),
                    unit("Machine report.", "Maschinenbericht.", origin="mt", model="m"),
                    unit("100% done_now", "100 % erledigt")])
        for _ in range(2):
            time.sleep(0.01)
            memory.add([unit("The report is late.", "Der Bericht kommt spät.")])
        found = memory.concordance("REPORT", "en", "de", 10)
        assert [h.source for h in found] == ["The report is late.", "Save the Report."]  # newest first
        assert all(h.origin == "human" for h in found)
        assert [h.target for h in memory.concordance("größe", "en", "de", 10)] == ["Größe ändern"]
        assert [h.source for h in memory.concordance("Bericht kommt", "en", "de", 10)] == ["The report is late."]
        assert [h.source for h in memory.concordance("% done_", "en", "de", 10)] == ["100% done_now"]
        assert memory.concordance("0% d", "en", "de", 10)[0].source == "100% done_now"
        assert memory.concordance("x_y", "en", "de", 10) == [] and memory.concordance("  ", "en", "de", 10) == []
        assert len(memory.concordance("e", "en", "de", 2)) == 2


# -- one term matcher for the workbench and `bayling-cat check` ------------------------------------------------

def test_forbidden_terms_match_inflections_not_other_words(tmp_path):
    from bayling_cat.glossary import find
    from tests.conftest import run_cli

    # Snowball stems all of these to "sich": only the inflections of "sichern" are the forbidden verb
    for word, hit in (("sich", False), ("Sich", False), ("Sicherheits", False), ("Sicherheitseinstellungen", False),
                      ("sichern", True), ("sichere", True), ("Sichern", True)):
        assert bool(find(f"Bitte {word} jetzt.", "sichern", "de")) is hit, word
    assert find("Die Dateien öffnen", "Datei", "de") == [(4, 11)] and find("open files", "file", "en") == [(5, 10)]
    glossary = tmp_path / "g.csv"
    glossary.write_text("en,de,status\nsave,speichern,preferred\nsave,sichern,forbidden\n", "utf-8")
    path = tmp_path / "de.po"
    path.write_text('msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n"Language: de\\n"\n\n'
                    'msgid "Save your settings."\nmsgstr "Speichern Sie sich Ihre Sicherheitseinstellungen."\n\n'
                    'msgid "Save the file."\nmsgstr "Sichere die Datei."\n', "utf-8")
    result = run_cli(["check", str(path), "-g", str(glossary)], env_extra={"BAYLING_CAT_HOME": str(tmp_path / "h")})
    assert result.returncode == 0, result.stderr
    assert "forbidden terms 1" in result.stdout
    problems = [line for line in result.stdout.splitlines() if "do not use" in line]
    assert len(problems) == 1 and "Save the file." in problems[0]
    # the workbench's live check answers the same
    client, _ = make(path, tmp_path, glossaries=[glossary])
    doc_id, doc = doc_of(client)
    assert doc["segments"][0]["violations"] == [] and doc["segments"][1]["forbidden"][0]["form"] == "sichern"
