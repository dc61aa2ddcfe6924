"""The contract of the translation core: one table of segments through every door gives the identical
translation, flags and terminology findings (issue: "One translation core").

Doors: the command line (a file, and standard input), the native API, DeepL v2, LibreTranslate, Apertium, an
OpenAI-protocol plugin prompt, the workbench (one segment, and pre-translation) and evaluation. Cases: plain
text, inline codes (a paired and a standalone one), a glossary with a preferred and a forbidden term, an exact
and a fuzzy human memory match, a blank segment, and whatever the engine does with them (the tiny random
model is cut at the length limit on most; the scripted one answers with control characters). Engines: the
tiny random Llama on CTranslate2 and on llama.cpp (greedy), and a scripted one.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from click.testing import CliRunner

from bayling_cat.memory import HUMAN, open_memory
from bayling_cat.server import create_app
from bayling_cat.server.translating import TAGS, protect_markup
from bayling_cat.server.workbench import TOKEN_HEADER, Workbench
from tests.fakes import FakeEngine

PLAIN = ["The file could not be saved.", "Open the settings and choose a language.",
         "Save your changes before closing."]
TERMS = ["Save the file to the folder."]  # glossary: file -> Datei (preferred), Akte forbidden
EXACT = "Click the button to open a new window."  # a human translation in the memory
EXACT_TARGET = "Klicken Sie auf die Schaltfläche, um ein neues Fenster zu öffnen."
FUZZY = "Click the button to open a new tab."  # similar to EXACT: the memory's match is shown to the model
# inline codes: as an XLIFF file holds them, and as HTML/XML in a protocol request
CODED_XLIFF = 'Click <g id="1">Save</g> to keep your <x id="2"/>changes.'
CODED_HTML = "Click <b>Save</b> to keep your <br/>changes."
BLANK = "   "
SEGMENTS = PLAIN + TERMS + [EXACT, FUZZY]


def xliff(path: Path) -> Path:
    units = [(f"u{i}", s) for i, s in enumerate(SEGMENTS)] + [("coded", CODED_XLIFF), ("blank", BLANK)]
    body = "".join(f'<trans-unit id="{uid}"><source>{text}</source></trans-unit>' for uid, text in units)
    path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" '
                    'xmlns="urn:oasis:names:tc:xliff:document:1.2"><file original="doors" source-language="en" '
                    f'target-language="de" datatype="plaintext"><body>{body}</body></file></xliff>\n',
                    encoding="utf-8")
    return path


def glossary(path: Path) -> Path:
    path.write_text("en,de,status\nfile,Datei,preferred\nfile,Akte,forbidden\n", encoding="utf-8")
    return path


def memory(path: Path) -> Path:
    with open_memory(path) as mem:
        mem.add([{"source": EXACT, "target": EXACT_TARGET, "source_lang": "en", "target_lang": "de",
                  "origin": HUMAN}])
    return path


class Shared:
    """The engine every door gets, never closed by a door (a command closes the engine it loaded)."""

    def __init__(self, engine):
        self.engine = engine
        engine.close = lambda: None


def _placeholders(text: str) -> str:
    """A protocol's answer with its markup as the placeholders a file's segment has, for comparison."""
    return protect_markup(text, TAGS)[0]


@pytest.fixture(params=["ctranslate2", "llamacpp", "scripted"])
def engine(request, tiny_model, tiny_gguf):
    if request.param == "ctranslate2":
        from bayling_cat.engines.ctranslate2 import Engine

        made = Engine(tiny_model)
    elif request.param == "llamacpp":
        pytest.importorskip("llama_cpp")
        from bayling_cat.engines.llamacpp import Engine

        made = Engine(tiny_gguf)
    else:
        def answer(conversation):  # model output with control characters and a forbidden term
            text = conversation[-1].content.rsplit("\n", 1)[-1]
            return f"\x07[de]\x00 {text.replace('file', 'Akte')}\u200b"

        made = FakeEngine(answer)
        made.path = Path("scripted")
    made.decoding.max_new_tokens = 48  # the tiny model rarely ends: keep every door quick
    return Shared(made).engine


@pytest.fixture
def files(tmp_path):
    return {"xlf": xliff(tmp_path / "doors.xlf"), "glossary": glossary(tmp_path / "terms.csv"),
            "memory": memory(tmp_path / "clean.sqlite"), "dir": tmp_path}


def fresh_memory(files, name: str) -> Path:
    """Each door its own copy of the memory: what one door stores must not answer another."""
    path = files["dir"] / f"{name}.sqlite"
    shutil.copy(files["memory"], path)
    return path


# -- the doors: each returns {source: (text in placeholder form, flags, terms)} ------------------------------

def cli_file(engine, files, monkeypatch) -> dict:
    from bayling_cat import cli

    monkeypatch.setattr(cli.options, "load_engine", lambda **kw: engine)
    report = files["dir"] / "report.json"
    result = CliRunner().invoke(cli.cli, ["translate", str(files["xlf"]), "-o", str(files["dir"] / "out.xlf"),
                                          "-g", str(files["glossary"]), "--memory", str(fresh_memory(files, "cli")),
                                          "--report", str(report)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    segments = json.loads(report.read_text())["files"][0]["segments"]
    return {s["source"]: (s["translation"] if s["written"] else None, s["flags"],
                          s.get("terms", {}).get("violated")) for s in segments if s["action"] != "skipped"}


def cli_stdin(engine, files, monkeypatch) -> dict:
    from bayling_cat import cli

    monkeypatch.setattr(cli.options, "load_engine", lambda **kw: engine)
    lines = PLAIN + TERMS + [EXACT, FUZZY, BLANK]
    result = CliRunner().invoke(cli.cli, ["translate", "-", "-s", "en", "-t", "de", "-g", str(files["glossary"]),
                                          "--memory", str(fresh_memory(files, "stdin"))],
                                input="\n".join(lines) + "\n", catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = result.stdout.split("\n")[:len(lines)]
    assert out[-1] == BLANK  # blank stays blank
    return {line: (text, None, None) for line, text in zip(lines[:-1], out)}


def server_client(engine, files, name, **kw):
    mem = open_memory(fresh_memory(files, name))
    app = create_app(engine, [files["glossary"]], window=0.0, memory=mem, **kw)
    return app.test_client()


def native(engine, files) -> dict:
    client = server_client(engine, files, "native")
    texts = SEGMENTS + [CODED_HTML, BLANK]
    r = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": texts})
    assert r.status_code == 200, r.get_json()
    answers = r.get_json()["translations"]
    assert answers[-1]["text"] == BLANK
    return {t: (_placeholders(a["text"]), a["flags"], (a["terms"] or {}).get("violated"))
            for t, a in zip(texts[:-1], answers)}


def deepl(engine, files) -> dict:
    client = server_client(engine, files, "deepl")
    texts = SEGMENTS + [CODED_HTML, BLANK]
    r = client.post("/v2/translate", json={"text": texts, "source_lang": "EN", "target_lang": "DE",
                                           "tag_handling": "xml"})
    assert r.status_code == 200, r.get_json()
    answers = r.get_json()["translations"]
    assert answers[-1]["text"] == BLANK
    return {t: (_placeholders(a["text"]), a["flags"], None) for t, a in zip(texts[:-1], answers)}


def libretranslate(engine, files) -> dict:
    client = server_client(engine, files, "libre")
    texts = SEGMENTS + [CODED_HTML, BLANK]
    r = client.post("/translate", json={"q": texts, "source": "en", "target": "de", "format": "html"})
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert answer["translatedText"][-1] == BLANK
    return {t: (_placeholders(a), f, None) for t, a, f in zip(texts[:-1], answer["translatedText"], answer["flags"])}


def apertium(engine, files) -> dict:
    client = server_client(engine, files, "apertium")
    out = {}
    for text in SEGMENTS + [CODED_HTML]:
        r = client.get("/translate?" + urlencode({"q": text, "langpair": "en|de", "format": "html"}))
        assert r.status_code == 200, r.get_json()
        out[text] = (_placeholders(r.get_json()["responseData"]["translatedText"]), None, None)
    return out


def openai(engine, files) -> dict:
    client = server_client(engine, files, "openai")
    out = {}
    for text in SEGMENTS + [CODED_HTML]:
        r = client.post("/v1/chat/completions", json={"model": "any", "messages": [
            {"role": "system", "content": "You are a translator. Translate the following text from English to "
                                          "German. Answer with the translation only."},
            {"role": "user", "content": text}]})
        assert r.status_code == 200, r.get_json()
        reply = r.get_json()
        assert reply["bayling_cat"]["recognized"] == "segment"
        out[text] = (_placeholders(reply["choices"][0]["message"]["content"]), reply["bayling_cat"]["flags"][0],
                     None)
    return out


def workbench(engine, files, pretranslate: bool) -> dict:
    doc = files["dir"] / ("pre" if pretranslate else "one") / "doors.xlf"
    doc.parent.mkdir()
    shutil.copy(files["xlf"], doc)
    bench = Workbench(review=doc)
    client = server_client(engine, files, f"bench-{pretranslate}", workbench=bench)
    client.environ_base["HTTP_" + TOKEN_HEADER.upper().replace("-", "_")] = bench.token
    doc_id = client.get("/workbench/api/documents").get_json()["review"]
    segments = client.get(f"/workbench/api/documents/{doc_id}").get_json()["segments"]
    if pretranslate:
        job = client.post(f"/workbench/api/documents/{doc_id}/pretranslate").get_json()
        deadline = time.monotonic() + 300
        while job["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
            job = client.get(f"/workbench/api/jobs/{job['id']}").get_json()
        assert job["status"] == "done", job
        records = dict(enumerate(client.get(f"/workbench/api/documents/{doc_id}").get_json()["segments"]))
    else:
        records = {}
        for i, seg in enumerate(segments):
            if seg["source"].strip():
                r = client.post(f"/workbench/api/documents/{doc_id}/segments/{i}/translate",
                                json={"version": seg.get("version", 0)})
                assert r.status_code == 200, r.get_json()
                records[i] = r.get_json()
    out = {}
    for i, record in records.items():
        source = segments[i]["source"]
        if source.strip():
            out[source] = (record.get("target"), record.get("flags"), None)
    return out


def evaluation(engine, files) -> dict:
    from bayling_cat.connectors import open_document
    from bayling_cat.evaluate.references import Reference
    from bayling_cat.evaluate.runner import through_core
    from bayling_cat.glossary import load

    segs = [s for s in open_document(files["xlf"]).segments() if s.source.strip()]
    refs = [Reference(origin=s.key, source=s.source, reference="-", codes=s.codes, hint=s.hint,
                      source_lang="en", target_lang="de") for s in segs]
    mem = open_memory(fresh_memory(files, "evaluate"))
    answers, _ = through_core(engine, refs, "en", "de", load(files["glossary"], "en", "de"), mem,
                              Path(str(engine.path)).name)
    return {s.source: (text or None, flags, None) for s, (text, flags, _) in zip(segs, answers)}


def _same(door: str, got: dict, expected: dict) -> None:
    for source, (text, flags, violated) in got.items():
        want_text, want_flags, want_violated = expected[source]
        if want_text is None:  # nothing written by the file door: a protocol still answers, with the flags
            assert flags is None or set(want_flags) <= set(flags), (door, source, flags, want_flags)
            continue
        assert text == want_text, (door, source, text, want_text)
        if flags is not None:
            assert flags == want_flags, (door, source, flags, want_flags)
        if violated is not None:
            assert violated == want_violated, (door, source, violated, want_violated)


def test_every_door_gives_the_same_answer(engine, files, monkeypatch):
    expected = cli_file(engine, files, monkeypatch)
    coded = expected[re.sub(r'<g id="1">(.*?)</g>', r"<1>\1</1>", CODED_XLIFF).replace('<x id="2"/>', "<2/>")]
    expected[CODED_HTML] = coded  # the same segment as a protocol request writes it
    assert expected[EXACT][0] == EXACT_TARGET  # the memory's human translation, not the model's
    _same("stdin", cli_stdin(engine, files, monkeypatch), expected)
    for door in (native, deepl, libretranslate, apertium, openai, evaluation):
        _same(door.__name__, door(engine, files), expected)
    for pre in (False, True):
        got = workbench(engine, files, pre)
        _same(f"workbench ({'pre-translation' if pre else 'one segment'})", got, expected)
