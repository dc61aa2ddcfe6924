"""Translation on a real local Ray cluster (4 logical CPUs, loopback only) with two model actors on the tiny model:
the same output as a local run, an actor killed mid-run, a killed run resumed from the memory, the server
answering through the pool, and the one-line errors."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ROOT, run_cli

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'bayling-cat[cluster]')")
pytestmark = pytest.mark.slow

SOURCES = [f"{a} {b}." for a in ("Save the file", "Open the settings", "Click the button", "Close the window",
                                  "Choose a language", "Hello world")
           for b in ("now", "before closing", "again", "to continue", "in the menu", "for the glossary")]


def xliff(sources) -> bytes:
    units = "".join(f'<trans-unit id="u{i}"><source>{s}</source></trans-unit>' for i, s in enumerate(sources))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">'
            f'<file original="a" source-language="en" target-language="de" datatype="plaintext"><body>{units}'
            '</body></file></xliff>\n').encode()


def stored_units(memory: Path) -> int:
    try:
        return sqlite3.connect(memory).execute("SELECT count(*) FROM units").fetchone()[0]
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.fixture(scope="module")
def local_ray():
    # four logical CPUs on two cores: room for the module's pool of two and one more engine beside it
    ray.init(num_cpus=4, _node_ip_address="127.0.0.1", include_dashboard=False, log_to_driver=False,
             logging_level="ERROR",
             runtime_env={"env_vars": {"PYTHONPATH": str(ROOT)}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def pool(local_ray, tiny_model):
    from bayling_cat.engines.cluster import ClusterEngine

    engine = ClusterEngine(tiny_model, address="auto", workers=2, threads=1, compute_type="default")
    yield engine
    engine.close()


def translate_file(translator, path: Path, out: Path, memory: Path | None, chunk: int = 6):
    from bayling_cat.pipeline import Options, Pipeline

    run = Pipeline(translator, Options(output=out, memory=memory, model_id="tiny", chunk=chunk))
    [result] = run.run([str(path)])
    assert result.error is None
    return run, result


def test_same_output_as_a_local_run(pool, tiny_model, tmp_path):
    from bayling_cat.engines.ctranslate2 import Engine

    source = tmp_path / "doc.xlf"
    source.write_bytes(xliff(SOURCES))
    local = Engine(tiny_model, device="cpu", threads=1)
    translate_file(local, source, tmp_path / "local.xlf", tmp_path / "local.sqlite")
    run, _ = translate_file(pool, source, tmp_path / "cluster.xlf", tmp_path / "cluster.sqlite")
    assert (tmp_path / "cluster.xlf").read_bytes() == (tmp_path / "local.xlf").read_bytes()
    assert run.model_calls >= len(SOURCES)
    # the memory holds the same answers, chunk by chunk
    rows = lambda p: sorted(sqlite3.connect(p).execute("SELECT source, target FROM units").fetchall())  # noqa: E731
    assert rows(tmp_path / "cluster.sqlite") == rows(tmp_path / "local.sqlite")
    status = pool.status()
    assert status["actors"] == 2 and sum(status["nodes"].values()) == 2 and status["busy"] == 0


def test_revision_turns_and_glossaries_go_through_the_pool(pool, tiny_model):
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.glossary import Glossary, Term
    from bayling_cat.revision import TermTranslator

    glossary = Glossary([Term("file", ["Datei"], ["Akte"]), Term("settings", ["Einstellungen"])], "en", "de")
    local = Engine(tiny_model, device="cpu", threads=1)
    texts = SOURCES[:8]
    want = TermTranslator(local, {("en", "de"): glossary}, max_revisions=1).translate(texts, "en", "de")
    got = TermTranslator(pool, {("en", "de"): glossary}, max_revisions=1).translate(texts, "en", "de")
    assert [g.text for g in got] == [g.text for g in want]
    assert [g.terms.violated for g in got] == [g.terms.violated for g in want]
    assert pool.complete(texts[0], "Die", "en", "de", 3) == tuple(local.complete(texts[0], "Die", "en", "de", 3))


def test_a_dead_actor_is_replaced_and_its_call_retried(pool, tiny_model):
    from bayling_cat.engines.ctranslate2 import Engine

    local = Engine(tiny_model, device="cpu", threads=1)
    want = [g.text for g in local.translate(SOURCES[:4], "en", "de")]
    victim = pool._idle.queue[0]  # the next call goes to this actor
    ray.kill(victim)
    retries = pool.retries
    got = [g.text for g in pool.translate(SOURCES[:4], "en", "de")]
    assert got == want
    assert pool.retries == retries + 1
    deadline = time.time() + 120
    while pool.status()["actors"] < 2 and time.time() < deadline:  # a fresh actor took its place
        time.sleep(0.5)
    assert pool.status()["actors"] == 2


def test_an_actor_killed_mid_run_loses_no_segment(pool, tiny_model, tmp_path):
    source = tmp_path / "doc.xlf"
    source.write_bytes(xliff(SOURCES))
    memory = tmp_path / "m.sqlite"
    done = {}

    def run():
        done["result"] = translate_file(pool, source, tmp_path / "out.xlf", memory, chunk=4)

    worker = threading.Thread(target=run)
    worker.start()
    while worker.is_alive():  # as soon as the first chunks are stored, kill a busy actor
        if stored_units(memory) >= 4:
            busy = list(pool._inflight.values())
            if busy:
                ray.kill(busy[0])
                break
        time.sleep(0.05)
    worker.join(600)
    _, result = done["result"]
    assert all(s.translation is not None or s.action == "flagged" for s in result.segments)
    stored = sqlite3.connect(memory).execute("SELECT count(DISTINCT source) FROM units").fetchone()[0]
    assert stored == len(SOURCES)
    deadline = time.time() + 120
    while pool.status()["actors"] < 2 and time.time() < deadline:  # the pool is whole again for what follows
        time.sleep(0.5)


def test_server_answers_through_the_pool(pool, tiny_model):
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.server import create_app

    from bayling_cat.translator import Request, Translator

    local = Engine(tiny_model, device="cpu", threads=1)  # through the translation core, as the server answers
    want = {s: Translator(local).translate([Request(s)], "en", "de")[0].text for s in SOURCES[:6]}
    client = create_app(pool, window=0.05).test_client()
    answers = {}

    def ask(text):
        r = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de", "segments": [text]})
        answers[text] = r.get_json()["translations"][0]["text"]

    threads = [threading.Thread(target=ask, args=(s,)) for s in SOURCES[:6]]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    # each request alone or batched with others: the tiny float32 model gives the same answer either way
    assert answers == want
    health = client.get("/health").get_json()
    assert health["cluster"]["actors"] == 2


def test_cli_run_interrupted_killed_and_resumed_gives_the_local_output(tiny_model, tmp_path):
    """A real `translate --cluster local` process: Ctrl-C stops it (exit 130, no Ray process left behind, the
    finished chunks kept); started again and killed with SIGKILL; started again, it finishes from the memory,
    and the file is the one a local run writes."""
    source = tmp_path / "doc.xlf"
    source.write_bytes(xliff(SOURCES * 3 + [s.upper() for s in SOURCES]))
    env = dict(os.environ, PYTHONPATH=str(ROOT), BAYLING_CAT_HOME=str(tmp_path / "home"))
    memory = tmp_path / "m.sqlite"
    common = ["translate", str(source), "--model", str(tiny_model), "--memory", str(memory),
              "--batch-size", "2", "--threads", "1"]
    args = [sys.executable, "-m", "bayling_cat", *common, "-o", str(tmp_path / "cluster.xlf"),
            "--cluster", "local", "--workers", "2"]

    def start_and_stop_after(units: int, sig) -> subprocess.Popen:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and stored_units(memory) < units:
            time.sleep(0.1)
        assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
        proc.send_signal(sig) if sig == signal.SIGINT else os.killpg(proc.pid, sig)
        return proc

    proc = start_and_stop_after(8, signal.SIGINT)
    try:
        err = proc.communicate(timeout=120)[1].decode()
        assert proc.returncode == 130, err
        assert err.strip().splitlines()[-1] == "bayling-cat: interrupted"
        deadline = time.time() + 30  # Ray's processes are told to go; on a busy machine they take a moment
        while True:
            left = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
            if not left or time.time() > deadline:
                break
            time.sleep(0.2)
        assert left == [], "Ray processes left behind after Ctrl-C"
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)])
    after_interrupt = stored_units(memory)
    assert 8 <= after_interrupt < len(SOURCES) * 2

    proc = start_and_stop_after(after_interrupt + 8, signal.SIGKILL)  # the run and the Ray processes it started
    proc.wait()
    kept = stored_units(memory)
    assert after_interrupt + 8 <= kept < len(SOURCES) * 2

    again = subprocess.run(args + ["--report", str(tmp_path / "r.json")], env=env, capture_output=True, text=True,
                           timeout=600, start_new_session=True)
    assert again.returncode == 0, again.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["from_memory"] >= kept
    local = run_cli(common[:-2] + ["--threads", "1", "-o", str(tmp_path / "local.xlf"), "--no-memory"],
                    env_extra={"BAYLING_CAT_HOME": str(tmp_path / "home")})
    assert local.returncode == 0, local.stderr
    assert (tmp_path / "cluster.xlf").read_bytes() == (tmp_path / "local.xlf").read_bytes()


def test_missing_ray_is_one_line(tmp_path, tiny_model):
    stub = tmp_path / "noray"
    stub.mkdir()
    (stub / "ray.py").write_text("raise ImportError('No module named ray')\n")
    r = run_cli(["translate", "-", "-s", "en", "-t", "de", "--model", str(tiny_model), "--cluster", "local"],
                stdin="Hello\n", env_extra={"PYTHONPATH": f"{stub}{os.pathsep}{ROOT}"})
    assert r.returncode == 1
    assert r.stderr.strip().splitlines()[-1] == \
        'bayling-cat: error: --cluster needs Ray: pip install "bayling-cat[cluster]"'



def test_shipped_model_gives_the_same_answers(local_ray, tiny_model):
    from bayling_cat.engines.cluster import ClusterEngine
    from bayling_cat.engines.ctranslate2 import Engine

    shipped = ClusterEngine(tiny_model, address="auto", workers=1, threads=1, ship_model=True)
    try:
        want = [g.text for g in Engine(tiny_model, device="cpu", threads=1).translate(SOURCES[:3], "en", "de")]
        assert [g.text for g in shipped.translate(SOURCES[:3], "en", "de")] == want
    finally:
        shipped.close()


def test_a_pool_the_cluster_cannot_hold_is_refused_at_once(local_ray, tiny_model):
    from bayling_cat.engines.cluster import ClusterEngine, ClusterError

    started = time.time()
    with pytest.raises(ClusterError) as err:
        ClusterEngine(tiny_model, address="auto", workers=5, threads=1)
    assert str(err.value) == "--workers 5 with 1 CPU each need 5 CPUs; the cluster has 4"
    assert time.time() - started < 30


def test_workers_that_cannot_load_the_model_are_reported_once(local_ray, tiny_model, tmp_path):
    import shutil

    from bayling_cat.engines.cluster import ClusterEngine, ClusterError

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.bin").write_bytes(b"not a model")
    said = []
    with pytest.raises(ClusterError) as err:
        ClusterEngine(broken, address="auto", workers=2, threads=1, say=said.append)
    assert str(err.value).startswith(f"no worker could load the model {broken} (")
    warnings = [m for m in said if "cannot load the model" in m]
    assert len(warnings) == 1 and "\n" not in warnings[0]


def test_serve_on_a_cluster_reports_its_actors_and_stops_clean(tiny_model, tmp_path):
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT), BAYLING_CAT_HOME=str(tmp_path / "home"))
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", str(port), "--model",
                             str(tiny_model), "--cluster", "local", "--workers", "2", "--threads", "1"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        health = None
        for _ in range(240):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    health = json.loads(r.read())
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()[1].decode()[-2000:]
                time.sleep(0.5)
        assert health["cluster"]["actors"] == 2 and health["cluster"]["nodes"] == {socket.gethostname(): 2}
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/translate", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"source_lang": "en", "target_lang": "de",
                                                      "segments": SOURCES[:3]}).encode())
        with urllib.request.urlopen(req, timeout=120) as r:
            assert len(json.loads(r.read())["translations"]) == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(120) == 0
        time.sleep(1)
        left = subprocess.run(["pgrep", "-s", str(proc.pid)], capture_output=True, text=True).stdout.split()
        assert left == [], "Ray processes left behind after SIGTERM"
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(proc.pid)])
