"""The REST hook: every route with Flask's test client, then a real waitress process on a loopback port
driven by the LibreTranslate and DeepL client libraries."""

import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from lxml import etree

from bayling_cat.server import create_app
from tests.conftest import ROOT
from tests.fakes import FakeEngine

DE = ROOT / "glossaries" / "software-ui.en-de.tbx"
SAMPLE = ROOT / "examples" / "sample.xlf"


def echo(conv):
    """'[de] ' + the text of the request, placeholders and all."""
    return "[tr] " + conv[0].content.rsplit("\n\n", 1)[-1]


@pytest.fixture
def fake():
    return FakeEngine(echo)


@pytest.fixture
def client(fake):
    app = create_app(fake, window=0.05)
    return app.test_client()


def test_openapi_document_is_valid(client):
    from openapi_spec_validator import validate

    spec = client.get("/openapi.json").get_json()
    validate(spec)
    assert {"/v1/translate", "/v1/revise", "/v1/complete", "/v1/documents", "/v1/glossaries", "/v1/models",
            "/health"} <= set(spec["paths"])


def test_translate_keeps_inline_tags(client):
    r = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": [
        "Click <b>Save</b> to keep <x id=\"1\"/> changes.", {"id": "s2", "text": "  Plain text.  "}]})
    assert r.status_code == 200
    data = r.get_json()
    assert [t["id"] for t in data["translations"]] == ["0", "s2"]
    assert data["translations"][0]["text"] == '[tr] Click <b>Save</b> to keep <x id="1"/> changes.'
    assert data["translations"][1]["text"] == "  [tr] Plain text.  "


def test_translate_with_inline_terms_and_glossaries(client, fake):
    r = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": ["Save the file."],
                                           "terms": [{"source": "file", "target": "Datei"}], "max_revisions": 0})
    [t] = r.get_json()["translations"]
    assert t["terms"]["matched"] == ["file"] and t["terms"]["violated"] == ["'file' must be translated as 'Datei'"]
    assert "Use these glossary terms: file = Datei." in fake.conversations[-1][0].content
    created = client.post("/v1/glossaries", data={"file": (io.BytesIO(DE.read_bytes()), "ui.tbx"),
                                                  "source_lang": "en", "target_lang": "de", "name": "UI"})
    assert created.status_code == 201
    gid = created.get_json()["id"]
    assert client.get("/v1/glossaries").get_json()["glossaries"][0]["entry_count"] == 40
    r = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": ["Open the folder."],
                                           "glossaries": [gid], "max_revisions": 0})
    assert r.get_json()["translations"][0]["terms"]["matched"] == ["open", "folder"]
    assert client.delete(f"/v1/glossaries/{gid}").status_code == 204
    gone = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": ["x"],
                                              "glossaries": [gid]})
    assert gone.status_code == 404 and gone.get_json()["error"]["message"] == f"unknown glossary {gid!r}"


def test_revise_conversation(client, fake):
    r = client.post("/v1/revise", json={"source": "Save the file.", "translation": "Datei sichern.",
                                        "source_lang": "en", "target_lang": "de", "instruction": "More formal."})
    assert r.status_code == 200
    cid = r.get_json()["conversation_id"]
    r2 = client.post("/v1/revise", json={"conversation_id": cid, "instruction": "Use 'speichern'."})
    assert r2.get_json()["turns"] == 2
    last = fake.conversations[-1]
    assert [m.content for m in last[1:]] == ["Datei sichern.", "More formal.", r.get_json()["translation"],
                                            "Use 'speichern'."]
    assert client.post("/v1/revise", json={"conversation_id": "nope", "instruction": "x"}).status_code == 404


def test_complete(client):
    r = client.post("/v1/complete", json={"source": "Save the file.", "prefix": "Speichern", "source_lang": "en",
                                          "target_lang": "de", "alternatives": 3})
    assert r.get_json() == {"prefix": "Speichern", "continuation": " rest of Save the file.",
                            "alternatives": [" word0", " word1", " word2"]}


def test_documents_sync_and_async(client):
    r = client.post("/v1/documents", data={"file": (io.BytesIO(SAMPLE.read_bytes()), "sample.xlf"),
                                           "target_lang": "de"})
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    root = etree.fromstring(r.data)
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    assert root.xpath("//x:trans-unit[@id='dialog.unsaved']/x:target", namespaces=ns)[0].text.startswith("[tr] ")
    r = client.post("/v1/documents?async=1", data={"file": (io.BytesIO(SAMPLE.read_bytes()), "s.xlf"),
                                                   "target_lang": "de"})
    assert r.status_code == 202
    job = r.get_json()["id"]
    for _ in range(100):
        status = client.get(f"/v1/documents/{job}").get_json()
        if status["status"] == "done":
            break
        time.sleep(0.05)
    assert status["result_url"] == f"/v1/documents/{job}/result"
    assert client.get(status["result_url"]).status_code == 200
    bad = client.post("/v1/documents", data={"file": (io.BytesIO(b"<html/>"), "page.xlf"), "target_lang": "de"})
    assert bad.status_code == 422 and "not an XLIFF file" in bad.get_json()["error"]["message"]
    assert "/tmp" not in bad.get_json()["error"]["message"]  # no server paths in answers


def test_models_and_health(client):
    assert client.get("/v1/models").get_json()["models"][0]["name"] == "fake-engine"
    assert client.get("/health").get_json()["status"] == "ok"


@pytest.mark.parametrize("method,path,kwargs,status", [
    ("post", "/v1/translate", {"data": "{not json", "content_type": "application/json"}, 400),
    ("post", "/v1/translate", {"json": ["a list"]}, 400),
    ("post", "/v1/translate", {"json": {"source_lang": "en", "target_lang": "de", "segments": "text"}}, 400),
    ("post", "/v1/translate", {"json": {"source_lang": "en", "target_lang": "de", "segments": [1, 2]}}, 400),
    ("post", "/v1/translate", {"json": {"source_lang": "english", "target_lang": "de", "segments": ["x"]}}, 400),
    ("post", "/v1/translate", {"json": {"source_lang": "en", "target_lang": "de", "segments": ["x"] * 1001}}, 413),
    ("post", "/v1/translate", {"json": {"source_lang": "en", "target_lang": "de", "segments": ["x"],
                                        "max_revisions": "many"}}, 400),
    ("post", "/v1/translate", {"json": {"source_lang": "en", "target_lang": "de", "segments": ["x"],
                                        "glossaries": ["missing"]}}, 404),
    ("post", "/v1/glossaries", {"json": {"source_lang": "en", "target_lang": "de", "entries": [{"target": "x"}]}}, 400),
    ("post", "/v1/glossaries", {"data": {"file": (io.BytesIO(b"<martif><oops"), "g.tbx"), "source_lang": "en",
                                         "target_lang": "de"}}, 400),
    ("post", "/v1/documents", {"data": {"target_lang": "de"}}, 400),
    ("get", "/v1/documents/nope", {}, 404),
    ("get", "/v1/nothing-here", {}, 404),
    ("put", "/v1/translate", {}, 405),
    ("post", "/translate", {"data": {"source": "en", "target": "de"}}, 400),
    ("post", "/translate", {"data": {"q": "x", "source": "xx-YY", "target": "de"}}, 400),  # "auto" is served now
    ("post", "/translate", {"data": {"q": "x", "source": "en", "target": "xx-YY-ZZ"}}, 400),
    ("post", "/v2/translate", {"json": {"text": ["x"]}}, 400),
    ("post", "/v2/translate", {"json": {"text": ["x"], "target_lang": "KLINGON"}}, 400),
    ("post", "/v2/translate", {"json": {"text": ["x"], "target_lang": "DE", "tag_handling": "json"}}, 400),
    ("post", "/v2/document/nope", {"json": {"document_key": "k"}}, 404),
])
def test_bad_requests_never_give_a_500(client, method, path, kwargs, status):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.data
    assert r.is_json and "Traceback" not in r.get_data(as_text=True)


def test_huge_body_is_413(fake):
    app = create_app(fake)
    app.config["MAX_CONTENT_LENGTH"] = 1000
    r = app.test_client().post("/v1/translate", json={"source_lang": "en", "target_lang": "de",
                                                      "segments": ["x" * 5000]})
    assert r.status_code == 413 and r.is_json


def test_api_key_on_every_route(fake):
    client = create_app(fake, api_key="s3cret").test_client()
    body = {"source_lang": "en", "target_lang": "de", "segments": ["x"]}
    assert client.post("/v1/translate", json=body).status_code == 401
    assert client.post("/v1/translate", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/v1/translate", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.post("/v1/translate", json=body, headers={"Authorization": "Bearer s3cret"}).status_code == 200
    assert client.post("/translate", data={"q": "x", "source": "en", "target": "de"}).status_code == 403
    assert client.post("/translate", data={"q": "x", "source": "en", "target": "de",
                                           "api_key": "s3cret"}).status_code == 200
    assert client.post("/v2/translate", json={"text": ["x"], "target_lang": "DE"},
                       headers={"Authorization": "DeepL-Auth-Key s3cret"}).status_code == 200
    assert client.get("/v2/usage").status_code == 403
    assert client.get("/health").status_code == 200  # liveness stays open


def test_concurrent_requests_share_batches_and_keep_their_answers(fake):
    fake.delay = 0.05
    client_app = create_app(fake, window=0.2, max_batch=64)
    results = {}

    def one(i):
        c = client_app.test_client()
        r = c.post("/v1/translate", json={"source_lang": "en", "target_lang": "de",
                                          "segments": [f"Request {i} segment {k}." for k in range(3)]})
        results[i] = r.get_json()["translations"]

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        assert [t["text"] for t in results[i]] == [f"[tr] Request {i} segment {k}." for k in range(3)]
    assert len(fake.batch_sizes) < 8 and max(fake.batch_sizes) > 3  # requests were translated together


def test_a_full_queue_answers_503_with_retry_after(fake):
    fake.delay = 0.5
    app = create_app(fake, window=0.01, max_batch=1, max_pending=2)
    statuses = []

    def one():
        r = app.test_client().post("/v1/translate", json={"source_lang": "en", "target_lang": "de",
                                                          "segments": ["a", "b"]})
        statuses.append((r.status_code, r.headers.get("Retry-After")))

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
        time.sleep(0.02)
    for t in threads:
        t.join()
    assert (503, "2") in statuses and (200, None) in statuses


def test_libretranslate_form_and_json(client):
    # the fake's "[tr] " fails translate-toolkit's brackets check: flagged "qa", as translate flags it in a file
    r = client.post("/translate", data={"q": "Hello", "source": "en", "target": "de"})
    assert r.get_json() == {"translatedText": "[tr] Hello", "flags": ["qa"]}
    r = client.post("/translate", json={"q": ["One", "Two"], "source": "en", "target": "zh-Hans"})
    assert r.get_json() == {"translatedText": ["[tr] One", "[tr] Two"], "flags": [["qa"], ["qa"]]}
    r = client.post("/translate", json={"q": "<b>Hi</b>", "source": "en", "target": "de", "format": "html"})
    assert r.get_json()["translatedText"] == "[tr] <b>Hi</b>"
    langs = client.get("/languages").get_json()
    assert {"code": "de", "name": "German"}.items() <= langs[2].items() and "en" in langs[2]["targets"]


def test_deepl_weblate_style_placeables(client):
    r = client.post("/v2/translate", json={"text": ['Hello <x id="7"></x> world'], "target_lang": "DE",
                                           "source_lang": "EN", "tag_handling": "xml", "ignore_tags": ["x"]})
    assert r.get_json()["translations"] == [{"detected_source_language": "EN", "text": '[tr] Hello <x id="7"></x> world',
                                             "billed_characters": 26, "flags": ["qa"]}]  # "[tr]": brackets added


# -- a real server process ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tiny_model, tmp_path_factory):
    env = dict(os.environ, BAYLING_CAT_HOME=str(tmp_path_factory.mktemp("home")), BAYLING_CAT_MODEL=str(tiny_model))
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", "0", "--api-key", "k3y",
                             "--glossary", str(DE)], stderr=subprocess.PIPE, text=True, env=env)
    url = None
    deadline = time.time() + 60
    while time.time() < deadline and url is None:
        line = proc.stderr.readline()
        m = re.search(r"serving on (http://\S+/)", line)
        if m:
            url = m.group(1)
    assert url, "the server did not start"
    yield url, proc
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)


def test_libretranslatepy_client(server):
    from libretranslatepy import LibreTranslateAPI

    url, _ = server
    lt = LibreTranslateAPI(url, api_key="k3y")
    text = lt.translate("Save the file.", "en", "de")
    assert isinstance(text, str) and text.strip()
    assert any(lang["code"] == "de" for lang in lt.languages())
    with pytest.raises(Exception):
        LibreTranslateAPI(url, api_key="wrong").translate("x", "en", "de")


def test_deepl_sdk(server, tmp_path):
    import deepl

    url, _ = server
    translator = deepl.Translator("k3y", server_url=url.rstrip("/"))
    results = translator.translate_text(["Open the folder.", "Save the file."], source_lang="EN", target_lang="DE")
    assert len(results) == 2 and all(r.text.strip() for r in results)
    assert results[0].detected_source_lang == "EN"
    tagged = translator.translate_text('Hi <x id="1"></x>!', source_lang="EN", target_lang="DE",
                                       tag_handling="xml", ignore_tags="x")
    assert '<x id="1"></x>' in tagged.text
    assert translator.get_usage().character.count > 0
    assert any(lang.code == "EN-GB" for lang in translator.get_target_languages())
    glossary = translator.create_glossary("ui", "EN", "DE", {"file": "Datei", "folder": "Ordner"})
    assert glossary.entry_count == 2 and glossary.ready
    entries = translator.get_glossary_entries(glossary)
    assert getattr(entries, "dictionary", entries) == {"file": "Datei", "folder": "Ordner"}
    translator.translate_text("Save the file.", source_lang="EN", target_lang="DE", glossary=glossary)
    # the --glossary given at start is listed too, read-only
    startup = ["startup-1-en-de", "startup-1-de-en"]
    assert [g.glossary_id for g in translator.list_glossaries()] == startup + [glossary.glossary_id]
    translator.delete_glossary(glossary)
    assert [g.glossary_id for g in translator.list_glossaries()] == startup
    with pytest.raises(deepl.DeepLException, match="read-only"):
        translator.delete_glossary("startup-1-en-de")
    out = tmp_path / "sample.de.xlf"
    translator.translate_document_from_filepath(str(SAMPLE), str(out), target_lang="DE")
    assert b'state-qualifier="x-bayling-cat-copy">1,024</target>' in out.read_bytes()
    with pytest.raises(deepl.DeepLException):
        deepl.Translator("wrong", server_url=url.rstrip("/")).translate_text("x", target_lang="DE")


def test_native_api_over_http(server):
    url, _ = server
    req = urllib.request.Request(url + "v1/translate", method="POST", headers={
        "Content-Type": "application/json", "X-API-Key": "k3y"}, data=json.dumps({
            "source_lang": "en", "target_lang": "de", "segments": ["Save the <b>file</b>."], "max_revisions": 0,
        }).encode())
    with urllib.request.urlopen(req, timeout=60) as r:
        [t] = json.loads(r.read())["translations"]
    assert t["terms"]["matched"] == ["save", "file"]  # the --glossary given at start applies
    assert "<b>" in t["text"] and "</b>" in t["text"]


def test_sigterm_lets_requests_in_flight_finish(tiny_model, tmp_path):
    env = dict(os.environ, BAYLING_CAT_HOME=str(tmp_path), BAYLING_CAT_MODEL=str(tiny_model))
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", "0", "--max-batch", "2"],
                            stderr=subprocess.PIPE, text=True, env=env)
    url = None
    while url is None:
        m = re.search(r"serving on (http://\S+/)", proc.stderr.readline())
        url = m.group(1) if m else None
    answer = {}

    def slow_request():
        body = {"source_lang": "en", "target_lang": "de",
                "segments": [f"Sentence number {i} about files and folders." for i in range(60)]}
        req = urllib.request.Request(url + "v1/translate", method="POST", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=120) as r:
            answer["status"] = r.status
            answer["count"] = len(json.loads(r.read())["translations"])

    thread = threading.Thread(target=slow_request)
    thread.start()
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    thread.join(120)
    assert proc.wait(60) == 0
    assert answer == {"status": 200, "count": 60}
    assert "finishing the requests in flight" in proc.stderr.read()


def test_non_loopback_needs_an_api_key():
    from tests.conftest import run_cli

    result = run_cli(["serve", "--host", "0.0.0.0", "--port", "0"])
    assert result.returncode == 1 and "set --api-key" in result.stderr
