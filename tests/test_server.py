"""The REST hook: every route with Flask's test client, then a real waitress process on a loopback port
driven by the LibreTranslate and DeepL client libraries.

The REST hook under attack: bad requests of every shape on every route of every protocol get the
protocol's own 4xx (never a 500), one bad request never fails the others batched with it, document jobs
expire and are deleted, start-up errors are one line, and the HTTP layer's own errors are JSON."""

import io
import json
import os
import re
import signal
import socket
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


# what a hostile week found on the server (issues 10 and 25): every field validated, never a 500 -------------------


@pytest.fixture(scope="module")
def tiny_engine(tiny_model):
    """The real engine on the tiny model, generation cut short: real tokenizer, real CTranslate2, fast."""
    from bayling_cat.engines.base import DecodingOptions
    from bayling_cat.engines.ctranslate2 import Engine

    return Engine(tiny_model, device="cpu", threads=1, decoding=DecodingOptions(max_new_tokens=3))


@pytest.fixture(scope="module")
def hostile_app(tiny_engine):
    return create_app(tiny_engine, window=0.0)


def shape_ok(path: str, data) -> bool:
    """The protocol's own error shape: native {"error": {"code", "message"}}, LibreTranslate {"error": msg},
    DeepL {"message": msg}."""
    if not isinstance(data, dict):
        return False
    if path.startswith("/v2/"):
        return isinstance(data.get("message"), str) and data["message"]
    if path.startswith(("/translate", "/languages", "/translate_file", "/download_file")):
        return isinstance(data.get("error"), str) and data["error"]
    error = data.get("error")
    return isinstance(error, dict) and isinstance(error.get("code"), int) and isinstance(error.get("message"), str)


def check(response, path: str):
    assert response.status_code < 500, (path, response.status_code, response.data[:300])
    if response.status_code >= 400:
        assert response.is_json and shape_ok(path, response.get_json()), (path, response.data[:300])


def _translate_at_once(app, requests):
    """Each list of segments as its own /v1/translate request, all sent at the same moment (so that the server
    batches them together); the responses in the same order."""
    answers = {}

    def one(i, segments):
        body = json.dumps({"source_lang": "en", "target_lang": "de", "segments": segments})
        answers[i] = app.test_client().post("/v1/translate", data=body, content_type="application/json")

    threads = [threading.Thread(target=one, args=(i, segments)) for i, segments in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [answers[i] for i in range(len(requests))]


def test_a_segment_with_a_lone_surrogate_fails_alone(tiny_engine):
    app = create_app(tiny_engine, window=0.3, max_batch=64)
    texts = [f"Save file {i}." for i in range(6)] + ["x\ud800y"]
    answers = _translate_at_once(app, [[t] for t in texts])
    assert [answers[i].status_code for i in range(6)] == [200] * 6
    bad = answers[6]
    assert bad.status_code == 400
    assert bad.get_json()["error"]["message"] == "segment 0 holds a lone surrogate (U+D800) at character 2"


def test_an_engine_failure_in_one_request_spares_the_requests_batched_with_it():
    def answer(conversation):
        text = conversation[0].content
        if "Explode" in text:
            raise RuntimeError("the engine failed on this segment")
        return "[tr] " + text.rsplit("\n\n", 1)[-1]

    fake = FakeEngine(answer)
    app = create_app(fake, window=0.3, max_batch=64)
    texts = [f"Request {i}." for i in range(5)] + ["Explode now."]
    answers = _translate_at_once(app, [[t, f"Second {i}."] for i, t in enumerate(texts)])
    assert max(fake.batch_sizes) == 12  # all six were batched together, and that batch failed
    for i in range(5):
        assert answers[i].status_code == 200
        assert [t["text"] for t in answers[i].get_json()["translations"]] == [f"[tr] Request {i}.",
                                                                            f"[tr] Second {i}."]
    assert answers[5].status_code == 500 and answers[5].get_json()["error"]["code"] == 500


T = {"source_lang": "en", "target_lang": "de", "segments": ["Save the file."]}


@pytest.mark.parametrize("path,raw,status", [
    ("/v1/translate", json.dumps({**T, "terms": [{"source": "file", "target": 5}]}), 400),
    ("/v1/translate", json.dumps({**T, "terms": [{"source": "file", "target": 5, "kind": "dnt"}]}), 400),
    ("/v1/translate", json.dumps({**T, "max_revisions": "X"}).replace('"X"', "Infinity"), 400),
    ("/v1/translate", json.dumps({**T, "max_revisions": "X"}).replace('"X"', "1e400"), 400),
    ("/v1/complete", json.dumps({"source": "Save.", "source_lang": "en", "target_lang": "de",
                                 "alternatives": "X"}).replace('"X"', "1e400"), 400),
    ("/v1/translate", "[" * 100_000, 400),
    ("/v1/revise", json.dumps({"conversation_id": {"a": 1}, "instruction": "Shorter."}), 400),
    ("/v1/revise", json.dumps({"conversation_id": ["a"], "instruction": "Shorter."}), 400),
    ("/v2/translate", json.dumps({"text": ["Hi"], "target_lang": "DE", "tag_handling": "xml", "ignore_tags": 5}), 400),
    ("/v2/translate", json.dumps({"text": ["Hi"], "target_lang": "DE", "source_lang": "EN", "glossary_id": ["x"]}),
     400),
    ("/v1/complete", json.dumps({"source": "Save the file.", "prefix": "Speichern " * 100_000, "source_lang": "en",
                                 "target_lang": "de"}), 413),
])
def test_issue_examples_get_a_4xx(hostile_app, path, raw, status):
    r = hostile_app.test_client().post(path, data=raw, content_type="application/json")
    assert r.status_code == status, r.data[:300]
    check(r, path)


@pytest.mark.parametrize("name", ["..", ".", "a" * 300 + ".xlf", "bad\x00name.xlf", "tab\tname.xlf"])
@pytest.mark.parametrize("path,fields", [
    ("/v1/documents", {"target_lang": "de"}), ("/v2/document", {"target_lang": "DE"}),
    ("/translate_file", {"source": "en", "target": "de"}),
    ("/v1/glossaries", {"source_lang": "en", "target_lang": "de"})])
def test_unusable_upload_names_get_a_400(path, fields, name):
    app = create_app(FakeEngine(lambda c: "x"))
    data = {**fields, "file": (io.BytesIO(SAMPLE.read_bytes()), name)}
    r = app.test_client().post(path, data=data, content_type="multipart/form-data")
    assert r.status_code == 400, r.data[:300]
    check(r, path)


def test_upload_names_with_folders_keep_only_their_last_part():
    app = create_app(FakeEngine(lambda c: "x"))
    r = app.test_client().post("/v1/documents", data={"target_lang": "de", "file": (
        io.BytesIO(SAMPLE.read_bytes()), "../../etc/sample.xlf")}, content_type="multipart/form-data")
    assert r.status_code == 200 and "filename=sample.xlf" in r.headers["Content-Disposition"]


@pytest.mark.parametrize("key", ["cl\u00e9", "\u043a\u043b\u044e\u0447", "s3cret\u00ff"])
def test_a_non_ascii_api_key_is_a_401_not_a_500(key):
    client = create_app(FakeEngine(lambda c: "x"), api_key="s3cret").test_client()
    r = client.post("/v1/translate", json=T, headers={"X-API-Key": key})
    assert r.status_code == 401 and r.get_json()["error"]["message"] == "invalid or missing API key"
    r = client.post("/translate", data={"q": "x", "source": "en", "target": "de", "api_key": key})
    assert r.status_code == 403 and r.get_json() == {"error": "invalid or missing API key"}


def test_a_non_ascii_api_key_is_accepted_when_it_is_the_key():
    client = create_app(FakeEngine(lambda c: "x"), api_key="cl\u00e9-\u043a\u043b\u044e\u0447").test_client()
    wire = "cl\u00e9-\u043a\u043b\u044e\u0447".encode().decode("latin-1")  # a header as WSGI hands it over
    assert client.post("/v1/translate", json=T, headers={"X-API-Key": wire}).status_code == 200
    r = client.post("/translate", json={"q": "x", "source": "en", "target": "de",
                                        "api_key": "cl\u00e9-\u043a\u043b\u044e\u0447"})
    assert r.status_code == 200


def test_http_auth_schemes_are_case_insensitive():
    client = create_app(FakeEngine(lambda c: "x"), api_key="K").test_client()
    for header in ("bearer K", "BEARER K", "Bearer  K", "deepl-auth-key K", "DEEPL-AUTH-KEY K"):
        assert client.post("/v1/translate", json=T, headers={"Authorization": header}).status_code == 200, header
    assert client.post("/v1/translate", json=T, headers={"Authorization": "Basic K"}).status_code == 401


BIG, NAN, INF = "\x01BIG\x01", "\x01NAN\x01", "\x01INF\x01"


BAD_VALUES = [None, True, False, 0, -1, 2.5, 10 ** 30, -(10 ** 30), BIG, NAN, INF, "", " ", "x" * 25_000,
              "x\ud800y", "\udfff", "a\x00b", "a\x01b", "\ufffe", [], {}, [1, 2], [None], [[["x"]]], {"a": {"b": []}},
              ["x\ud800"], [{"source": 5, "target": []}], [{"source": "a", "target": "b", "kind": 3}],
              "\u202e\u0000" * 3, "zz-ZZZZ-99", "EN,DE", "../../etc/passwd"]


ROUTES = [
    ("/v1/translate", {"source_lang": "en", "target_lang": "de", "segments": ["Save.", {"id": "b", "text": "Open."}],
                       "glossaries": [], "terms": [{"source": "Save", "target": "Speichern"}], "max_revisions": 0,
                       "term_strategy": "none"}),
    ("/v1/revise", {"source": "Save.", "translation": "Speichern.", "source_lang": "en", "target_lang": "de",
                    "instruction": "Shorter.", "conversation_id": "c"}),
    ("/v1/complete", {"source": "Save.", "prefix": "Spei", "source_lang": "en", "target_lang": "de",
                      "alternatives": 2}),
    ("/v1/glossaries", {"source_lang": "en", "target_lang": "de", "name": "g",
                        "entries": [{"source": "file", "target": "Datei", "kind": "preferred"}]}),
    ("/translate", {"q": ["Save."], "source": "en", "target": "de", "format": "text", "alternatives": 0}),
    ("/v2/translate", {"text": ["Save."], "source_lang": "EN", "target_lang": "DE", "tag_handling": "xml",
                       "ignore_tags": ["x"], "glossary_id": "g", "formality": "default", "split_sentences": "1",
                       "preserve_formatting": True, "context": "UI", "splitting_tags": "p",
                       "non_splitting_tags": ["b"]}),
    ("/v2/glossaries", {"name": "g", "source_lang": "EN", "target_lang": "DE", "entries": "file\tDatei",
                        "entries_format": "tsv"}),
    ("/v2/document/nope", {"document_key": "k"}),
]


def encode(body) -> str:
    text = json.dumps(body)
    return text.replace(f'"{json.dumps(BIG)[1:-1]}"', "1e400").replace(
        f'"{json.dumps(NAN)[1:-1]}"', "NaN").replace(f'"{json.dumps(INF)[1:-1]}"', "-Infinity")


def every_wrong_value(routes):
    """(path, field, body) for every field of every route, with every bad value and without the field."""
    for path, good in routes:
        for field in good:
            for value in [*BAD_VALUES, "MISSING"]:
                body = {k: v for k, v in good.items() if k != field}
                if value != "MISSING":
                    body[field] = value
                yield path, field, value, body


def test_every_field_of_every_route_with_every_wrong_value(hostile_app):
    client = hostile_app.test_client()
    sent = 0
    for path, _, value, body in every_wrong_value(ROUTES):
        r = client.post(path, data=encode(body), content_type="application/json")
        check(r, path)
        if isinstance(value, (str, int, bool)) and value not in ("MISSING", BIG, NAN, INF) and \
                not re.search("[\ud800-\udfff]", str(value)):
            # the same as a form field, as LibreTranslate and DeepL clients send it
            form = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in body.items()}
            check(client.post(path, data=form), path)
        sent += 1
    assert sent > 1000


@pytest.mark.parametrize("raw", [
    b"[" * 100_000, b"{\"a\":" * 50_000, b"\xff\xfe\x00garbage", b"\xc3\x28 not utf-8", b"NaN", b"1e400",
    b'"just a string"', b"[1, 2, 3]", b"q=%ED%A0%80&text=%ff&source=en&target=de&segments=%00", b"", b"   ", b"\xef\xbb\xbf{}", b'{"a": 1} trailing', b"\x00" * 100,
    '{"q": "\\ud800", "text": "\\udfff", "segments": ["\\ud800"]}'.encode(),
])
@pytest.mark.parametrize("path", [p for p, _ in ROUTES])
def test_malformed_bodies(hostile_app, path, raw):
    client = hostile_app.test_client()
    for content_type in ("application/json", "application/x-www-form-urlencoded", "text/plain",
                         "multipart/form-data", "multipart/form-data; boundary=x"):
        check(client.post(path, data=raw, content_type=content_type), path)


@pytest.mark.parametrize("path", ["/v1/documents", "/v1/documents?async=maybe", "/v2/document", "/translate_file",
                                  "/v1/glossaries"])
def test_hostile_multipart(hostile_app, path):
    client = hostile_app.test_client()
    fields = {"target_lang": "de", "target": "de", "source": "en", "source_lang": "en"}
    payloads = [b"", b"\x00\x01\x02", b"PK\x03\x04 not a zip", b"<?xml version='1.0'?><xliff", "caf\u00e9".encode("utf-16")]
    names = ["x.xlf", "x.docx", "x.po", "x.tbx", "x", "\u00e9\u00e8.xlf", "a" * 255, ".xlf", "x.XLF"]
    for payload in payloads:
        for name in names:
            check(client.post(path, data={**fields, "file": (io.BytesIO(payload), name)},
                              content_type="multipart/form-data"), path)
    for bad in ({"target_lang": ["de", "fr"]}, {"glossaries": "\x00"}, {"glossary_id": "x" * 5000},
                {"target_lang": "\u00ff\u0000"}, {"file": "not a file"}):
        check(client.post(path, data={**fields, "file": (io.BytesIO(b"x"), "x.xlf"), **bad},
                          content_type="multipart/form-data"), path)


def test_get_routes_with_hostile_paths_and_queries(hostile_app):
    client = hostile_app.test_client()
    for path in ["/v1/documents/..", "/v1/documents/%00", "/v1/documents/" + "a" * 5000, "/v1/glossaries/%ff",
                 "/download_file/x/..", "/v2/glossaries/%00/entries", "/v2/languages?type=%ff%fe",
                 "/languages?x=" + "%00" * 100, "/v2/usage", "/health?" + "a=1&" * 1000]:
        check(client.get(path), path.split("?")[0])


def test_segment_length_and_completion_length_are_bounded(hostile_app):
    client = hostile_app.test_client()
    r = client.post("/v1/translate", json={**T, "segments": ["x" * 20_001]})
    assert r.status_code == 413 and "at most 20,000" in r.get_json()["error"]["message"]
    r = client.post("/v2/translate", json={"text": ["x" * 20_001], "target_lang": "DE"})
    assert r.status_code == 413 and "at most 20,000" in r.get_json()["message"]
    # under the character bound, but beyond what the model's context holds
    r = client.post("/v1/complete", json={"source": "Save the file. " * 600, "prefix": "Speichern " * 600,
                                          "source_lang": "en", "target_lang": "de"})
    assert r.status_code == 413 and "tokens" in r.get_json()["error"]["message"]


def test_a_translation_cut_at_the_generation_limit_is_flagged_in_every_protocol(hostile_app):
    """The tiny model rarely ends on its own, and max_new_tokens is 3: every translation is cut."""
    client = hostile_app.test_client()
    text = "Click the button to open a new window and save your changes before closing."
    native = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": [text],
                                                "max_revisions": 0}).get_json()["translations"][0]
    assert "length-limit" in native["flags"]
    deepl = client.post("/v2/translate", json={"text": [text], "source_lang": "EN", "target_lang": "DE"}).get_json()
    [d] = deepl["translations"]
    assert d["flags"] == native["flags"] and d["text"] == native["text"]
    lt = client.post("/translate", json={"q": text, "source": "en", "target": "de"}).get_json()
    assert lt["flags"] == native["flags"] and lt["translatedText"] == native["text"]
    lt = client.post("/translate", json={"q": [text, text], "source": "en", "target": "de"}).get_json()
    assert lt["flags"] == [native["flags"], native["flags"]]


def test_startup_glossaries_are_listed_and_read_only():
    fake = FakeEngine(lambda c: "x")
    client = create_app(fake, [DE]).test_client()
    # one record per language pair the file holds, as the file applies to both directions
    native, reverse = client.get("/v1/glossaries").get_json()["glossaries"]
    assert native == {"id": "startup-1-en-de", "name": "software-ui.en-de.tbx", "source_lang": "en",
                      "target_lang": "de", "entry_count": 40}
    assert (reverse["id"], reverse["source_lang"], reverse["target_lang"]) == ("startup-1-de-en", "de", "en")
    deepl, _ = client.get("/v2/glossaries").get_json()["glossaries"]
    assert (deepl["glossary_id"], deepl["source_lang"], deepl["target_lang"], deepl["entry_count"]) == (
        "startup-1-en-de", "en", "de", 40)
    assert client.get("/v1/glossaries/startup-1-en-de").get_json()["entries"][0]["source"]
    r = client.delete("/v1/glossaries/startup-1-en-de")
    assert r.status_code == 409 and "read-only" in r.get_json()["error"]["message"]
    r = client.delete("/v2/glossaries/startup-1-en-de")
    assert r.status_code == 409 and "serve --glossary" in r.get_json()["message"]
    # naming it explicitly is harmless: it applies once, as it does to every en -> de request
    r = client.post("/v1/translate", json={**T, "glossaries": ["startup-1-en-de"], "max_revisions": 0})
    assert r.status_code == 200 and r.get_json()["translations"][0]["terms"]["matched"] == ["save", "file"]


def test_document_jobs_expire_and_their_files_are_deleted():
    app = create_app(FakeEngine(echo), job_ttl=0.3)
    parts = app.extensions["bayling_cat"]
    client = app.test_client()
    r = client.post("/v1/documents?async=1", data={"file": (io.BytesIO(SAMPLE.read_bytes()), "sample.xlf"),
                                                   "target_lang": "de"})
    assert r.status_code == 202
    job_id = r.get_json()["id"]
    folder = parts.jobs.workdir / job_id
    assert (folder / "sample.xlf").is_file()
    assert parts.jobs.get(job_id, wait=10).status == "done"
    deadline = time.time() + 5
    while folder.exists() and time.time() < deadline:
        time.sleep(0.05)  # no request needed: a sweeper expires jobs
    assert not folder.exists() and len(parts.jobs) == 0
    assert client.get(f"/v1/documents/{job_id}").status_code == 404
    parts.close()
    assert not parts.jobs.workdir.exists()


def test_document_jobs_are_capped_oldest_finished_first():
    app = create_app(FakeEngine(echo))
    jobs = app.extensions["bayling_cat"].jobs
    jobs.limit = 3
    client = app.test_client()
    ids = []
    for i in range(6):
        r = client.post("/v1/documents?async=1", data={"file": (io.BytesIO(SAMPLE.read_bytes()), f"s{i}.xlf"),
                                                       "target_lang": "de"})
        ids.append(r.get_json()["id"])
        jobs.get(ids[-1], wait=10)
    assert list(jobs._jobs) == ids[-3:]
    assert sorted(p.name for p in jobs.workdir.iterdir()) == sorted(ids[-3:])
    assert client.get(f"/v1/documents/{ids[0]}").status_code == 404


def start(tiny_model, tmp_path, *args):
    env = dict(os.environ, BAYLING_CAT_HOME=str(tmp_path / "home"), BAYLING_CAT_MODEL=str(tiny_model),
               TMPDIR=str(tmp_path))
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", "0", "--max-new-tokens", "4",
                             *args], stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while time.time() < deadline:
        m = re.search(r"serving on http://([\d.]+):(\d+)/", proc.stderr.readline())
        if m:
            return proc, (m.group(1), int(m.group(2)))
    proc.kill()
    raise AssertionError("the server did not start")


def raw_http(address, request: bytes) -> tuple[int, dict, dict]:
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(request)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, json.loads(body)


def test_http_layer_errors_are_json_and_the_temporary_folder_goes_on_sigterm(tiny_model, tmp_path):
    proc, address = start(tiny_model, tmp_path)
    try:
        status, headers, body = raw_http(address, b"GARBAGE\r\n\r\n")
        assert status == 400 and headers["Content-Type"] == "application/json"
        assert body["error"]["code"] == 400 and body["error"]["message"].startswith("Bad Request")
        status, headers, body = raw_http(address, b"POST /v2/translate HTTP/1.1\r\nHost: x\r\n"
                                                  b"Content-Length: 99999999999999\r\n\r\n")
        assert status == 413 and set(body) == {"message"} and "Request Entity Too Large" in body["message"]
        status, headers, body = raw_http(address, b"POST /translate HTTP/1.1\r\nHost: x\r\n"
                                                  b"Content-Length: -5\r\n\r\n")
        assert status == 400 and isinstance(body["error"], str)
        # a document job leaves files in the server's temporary folder...
        boundary = "b0undary"
        part = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"target_lang\"\r\n\r\nde\r\n"
                f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"sample.xlf\"\r\n"
                "Content-Type: application/xml\r\n\r\n").encode() + SAMPLE.read_bytes() + \
            f"\r\n--{boundary}--\r\n".encode()
        status, _, body = raw_http(address, b"POST /v1/documents?async=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                                            + f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
                                              f"Content-Length: {len(part)}\r\n\r\n".encode() + part)
        assert status == 202
        [workdir] = tmp_path.glob("bayling-cat-serve-*")
        assert (workdir / body["id"] / "sample.xlf").is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    # ...which SIGTERM deletes
    assert list(tmp_path.glob("bayling-cat-serve-*")) == []


def test_startup_errors_are_one_line(tiny_model, tmp_path):
    from tests.conftest import run_cli

    env = {"BAYLING_CAT_MODEL": str(tiny_model), "BAYLING_CAT_HOME": str(tmp_path)}
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        cases = [(["--port", str(port)], f"cannot listen on 127.0.0.1:{port}: Address already in use"),
                 (["--host", ""], "--host is empty"),
                 (["--host", "no-such-host.invalid"], "cannot listen on no-such-host.invalid:5000: the host name "
                                                      "does not resolve")]
        for args, message in cases:
            result = run_cli(["serve", *args], env_extra=env, timeout=120)
            assert result.returncode == 1, (args, result.stderr)
            lines = result.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"bayling-cat: error: {message}"), (args, result.stderr)
    finally:
        busy.close()


@pytest.fixture(scope="module")
def default_engine(default_home):
    """The real default model (SmolLM2-135M, int8): where batch composition used to flip greedy choices."""
    from bayling_cat.engines.base import DecodingOptions
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import ensure_default_model

    old = os.environ.get("BAYLING_CAT_HOME")
    os.environ["BAYLING_CAT_HOME"] = str(default_home)
    try:
        folder = ensure_default_model()
    finally:
        if old is None:
            del os.environ["BAYLING_CAT_HOME"]
        else:
            os.environ["BAYLING_CAT_HOME"] = old
    return Engine(folder, device="cpu", decoding=DecodingOptions(max_new_tokens=16, max_batch_size=32))


def test_a_segment_translates_the_same_alone_and_batched_with_others(default_engine):
    from bench.segments import SEGMENTS

    create_app(default_engine)  # the server batches only prompts of equal length
    assert default_engine.decoding.same_length_batches
    texts = SEGMENTS[8:16]
    conversations = default_engine.requests(texts, "en", "de")
    alone = [default_engine.generate([c], [t])[0].text for c, t in zip(conversations, texts)]
    together = [g.text for g in default_engine.generate(conversations, texts)]
    assert together == alone


def test_a_revision_conversation_is_bounded_in_turns():
    client = create_app(FakeEngine(echo)).test_client()
    r = client.post("/v1/revise", json={"source": "Save.", "translation": "Speichern.", "source_lang": "en",
                                        "target_lang": "de", "instruction": "Shorter."})
    cid = r.get_json()["conversation_id"]
    for _ in range(49):
        assert client.post("/v1/revise", json={"conversation_id": cid, "instruction": "Shorter."}).status_code == 200
    r = client.post("/v1/revise", json={"conversation_id": cid, "instruction": "Shorter."})
    assert r.status_code == 409 and "50 turns" in r.get_json()["error"]["message"]


NEW_ROUTES = [
    ("/v1/chat/completions", {"model": "gpt-4o", "messages": [
        {"role": "system", "content": "Translate the following text from English to German."},
        {"role": "user", "content": "Save the file."}], "temperature": 0, "top_p": 1, "max_tokens": 8, "n": 1,
        "stop": ["\n"], "stream": False, "response_format": {"type": "text"}}),
    ("/translate?langpair=en|de", {"q": "Save the file.", "langpair": "en|de", "format": "txt", "markUnknown": "no"}),
    ("/v3/glossaries", {"name": "g", "dictionaries": [{"source_lang": "en", "target_lang": "de",
                                                       "entries": "file\tDatei", "entries_format": "tsv"}]}),
]


def new_shape_ok(path: str, data) -> bool:
    if not isinstance(data, dict):
        return False
    if path.startswith("/v1/chat/"):
        error = data.get("error")
        return isinstance(error, dict) and isinstance(error.get("message"), str) and "type" in error
    if "langpair" in path:
        return isinstance(data.get("responseStatus"), int) and isinstance(data.get("responseDetails"), str)
    return isinstance(data.get("message"), str) and data["message"]


def test_every_field_of_the_newer_protocols_with_every_wrong_value(hostile_app):
    client = hostile_app.test_client()
    sent = 0
    for path, field, _, body in every_wrong_value(NEW_ROUTES):
        r = client.post(path, data=encode(body), content_type="application/json")
        assert r.status_code < 500, (path, field, r.status_code, r.data[:300])
        if r.status_code >= 400:
            assert r.is_json and new_shape_ok(path, r.get_json()), (path, field, r.data[:300])
        sent += 1
    for path, _ in NEW_ROUTES:
        for raw in (b"[" * 100_000, b"NaN", b"1e400", b"\xff\xfe\x00", b"", b'{"messages": "\\ud800"}'):
            r = client.post(path, data=raw, content_type="application/json")
            assert r.status_code < 500 and (r.status_code < 400 or new_shape_ok(path, r.get_json())), (path, raw[:20])
    for path in ["/v1/models/%00", "/v1/models/" + "a" * 5000, "/listPairs?x=%ff", "/listLanguageNames?languages=%00",
                 "/v3/languages?resource=%ff", "/v3/glossaries/%00/entries?source_lang=\x00", "/translate?langpair=%ff|",
                 "/translate?langpair=en|de&q=%ED%A0%80"]:
        r = client.get(path)
        assert r.status_code < 500, (path, r.status_code, r.data[:300])
    assert sent > 200


def test_uploaded_glossaries_are_capped_in_count_and_entries(monkeypatch):
    """100 uploads of 10,000 entries took the server from 428 to 949 MB: glossaries are bounded like jobs."""
    app = create_app(FakeEngine(echo))
    registry = app.extensions["bayling_cat"].glossaries
    registry.max_glossaries, registry.max_entries = 3, 25
    client = app.test_client()

    def upload(n, name="g"):
        entries = "\n".join(f"term{i}\tBegriff{i}" for i in range(n))
        return client.post("/v2/glossaries", json={"name": name, "source_lang": "EN", "target_lang": "DE",
                                                   "entries": entries, "entries_format": "tsv"})

    assert [upload(10).status_code for _ in range(2)] == [201, 201]
    r = upload(10)
    assert r.status_code == 413 and "20 entries; 10 more would pass the 25" in r.get_json()["message"]
    assert upload(5).status_code == 201
    r = upload(1)
    assert r.status_code == 413 and "holds 3 glossaries" in r.get_json()["message"]
    ids = [g["glossary_id"] for g in client.get("/v2/glossaries").get_json()["glossaries"]]
    assert client.delete(f"/v2/glossaries/{ids[0]}").status_code == 204
    assert upload(1).status_code == 201
    # a multilingual glossary that grows past the bound through PUT is refused and unchanged
    v3 = client.get("/v3/glossaries").get_json()["glossaries"][0]["glossary_id"]
    big = "\n".join(f"t{i}\tB{i}" for i in range(30))
    r = client.put(f"/v3/glossaries/{v3}/dictionaries", json={"source_lang": "en", "target_lang": "fr",
                                                             "entries": big, "entries_format": "tsv"})
    assert r.status_code == 413
    assert [d["target_lang"] for d in client.get(f"/v3/glossaries/{v3}").get_json()["dictionaries"]] == ["de"]


def test_the_result_of_a_failed_deepl_document_is_the_failure():
    """It was 503 "Document not ready" forever: a client polling /result never learnt that the job failed."""
    app = create_app(FakeEngine(echo))
    client = app.test_client()
    r = client.post("/v2/document", data={"file": (io.BytesIO(b"<xliff version='1.2'><file>"), "broken.xlf"),
                                           "target_lang": "DE"}, content_type="multipart/form-data")
    assert r.status_code == 200
    job = r.get_json()
    deadline = time.time() + 30
    while time.time() < deadline:
        status = client.post(f"/v2/document/{job['document_id']}", json={"document_key": job["document_key"]})
        if status.get_json()["status"] == "error":
            break
        time.sleep(0.05)
    assert status.get_json()["status"] == "error"
    r = client.post(f"/v2/document/{job['document_id']}/result", json={"document_key": job["document_key"]})
    assert r.status_code == 400 and "Retry-After" not in r.headers
    assert r.get_json()["message"].startswith("Document translation failed: broken.xlf")


def test_the_api_key_is_read_from_the_query_string_only_on_apertium():
    client = create_app(FakeEngine(echo), api_key="K", cors="*").test_client()
    assert client.get("/translate?langpair=en|de&q=Hello&key=K").status_code == 200  # OmegaT's custom server
    assert client.get("/translate?langpair=en|de&q=Hello&key=nope").status_code == 403
    for path in ("/v1/translate?api_key=K", "/v1/translate?key=K", "/v1/translate?auth_key=K"):
        assert client.post(path, json=T).status_code == 401, path
    assert client.post("/v2/translate?auth_key=K", json={"text": ["Hi"], "target_lang": "DE"}).status_code == 403
    assert client.post("/translate?api_key=K", json={"q": "x", "source": "en", "target": "de"}).status_code == 403
    # the body's fields, as LibreTranslate and DeepL's legacy clients send them, still count
    assert client.post("/translate", data={"q": "x", "source": "en", "target": "de", "api_key": "K"}).status_code == 200
    r = client.options("/v3/glossaries/x/dictionaries")
    assert set(r.headers["Access-Control-Allow-Methods"].split(", ")) == {"GET", "POST", "PUT", "PATCH", "DELETE",
                                                                         "OPTIONS"}
