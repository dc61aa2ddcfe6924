"""The llama.cpp engine above the engine: choosing it, GGUF models on the command line, conversion to GGUF, and
the server on it. (The engine contract itself is pinned on both engines in test_engine.py.)"""

import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import pytest

from bayling_cat.engines import BATCH, INTERACTIVE, choose_engine
from bayling_cat.errors import ModelError, UserError
from tests.conftest import run_cli


def translate_cli(model, stdin, *extra, env=None):
    return run_cli(["translate", "-", "-s", "en", "-t", "de", "--model", str(model), *extra], stdin=stdin,
                   env_extra=env)


# -- choosing the engine ------------------------------------------------------------------------------------

@pytest.fixture
def machine(monkeypatch, tmp_path):
    """A data folder of our own, and a machine whose CUDA, llama.cpp and torch we decide."""
    import bayling_cat.engines as engines

    monkeypatch.setenv("BAYLING_CAT_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("BAYLING_CAT_MODEL", raising=False)
    state = {"cuda": False, "llama": True, "torch": True}
    monkeypatch.setattr(engines, "cuda_for_ctranslate2", lambda: state["cuda"])
    monkeypatch.setattr(engines, "llamacpp_installed", lambda: state["llama"])
    monkeypatch.setattr(engines, "_can_convert", lambda: state["torch"])
    return state


def test_auto_decision_table(machine, tiny_model, tiny_gguf, tmp_path):
    both = tmp_path / "both"
    both.mkdir()
    for f in tiny_model.iterdir():
        (both / f.name).write_bytes(f.read_bytes())
    (both / "both.gguf").write_bytes(tiny_gguf.read_bytes())

    def pick(model=None, device="auto", purpose=BATCH):
        return choose_engine("auto", model, device, purpose).name

    # the default model: CTranslate2 for documents (converted on first use), llama.cpp for a CAT tool waiting
    assert pick() == "ctranslate2"
    assert pick(purpose=INTERACTIVE) == "llamacpp"
    assert pick(device="metal", purpose=BATCH) == "llamacpp"
    machine["torch"] = False  # nothing to convert the default model with: its GGUF as it is
    assert pick() == "llamacpp"
    machine["torch"], machine["cuda"] = True, True
    assert pick(purpose=INTERACTIVE) == "ctranslate2"  # a CUDA GPU: CTranslate2 everywhere
    machine["cuda"] = False
    # what the model is decides where only one engine can run it
    assert pick(str(tiny_gguf)) == "llamacpp"
    assert pick(str(tiny_model), purpose=INTERACTIVE) == "ctranslate2"
    assert pick(str(both)) == "ctranslate2" and pick(str(both), purpose=INTERACTIVE) == "llamacpp"
    # beam search is CTranslate2's
    assert choose_engine("auto", None, "auto", INTERACTIVE, beam_size=5).name == "ctranslate2"
    with pytest.raises(UserError, match="beam search needs --engine ctranslate2"):
        choose_engine("llamacpp", str(tiny_gguf), beam_size=5)
    machine["llama"] = False
    assert pick(purpose=INTERACTIVE) == "ctranslate2"
    assert "not installed" in choose_engine("auto", None, "auto", INTERACTIVE).reason


def test_explicit_engines_need_their_model_kind(machine, tiny_model, tiny_gguf):
    assert choose_engine("llamacpp", str(tiny_gguf)).name == "llamacpp"
    with pytest.raises(ModelError, match="the llama.cpp engine runs GGUF files: bayling-cat convert SOURCE "
                                         "--format gguf"):
        choose_engine("llamacpp", str(tiny_model))
    with pytest.raises(ModelError, match="a GGUF file; the CTranslate2 engine needs it converted"):
        choose_engine("ctranslate2", str(tiny_gguf))


# -- GGUF models on the command line ------------------------------------------------------------------------

def test_a_gguf_file_is_used_directly(tiny_gguf, tmp_path):
    result = translate_cli(tiny_gguf, "Save your changes before closing.\n\nOpen the settings\n",
                           env={"BAYLING_CAT_HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("bayling-cat: engine llamacpp (the model is a GGUF file)") == 1
    from bayling_cat.engines.llamacpp import Engine

    expected = [g.text.replace("\n", " ") for g in Engine(tiny_gguf, device="cpu").translate(
        ["Save your changes before closing.", "Open the settings"], "en", "de")]
    lines = result.stdout.split("\n")
    assert [lines[0], lines[2]] == expected and lines[1] == ""
    assert not (tmp_path / "models").exists()  # nothing was converted


def test_gguf_models_by_name_and_listed(tiny_gguf, tmp_path):
    folder = tmp_path / "models" / "tiny-q"
    folder.mkdir(parents=True)
    (folder / "tiny-q.gguf").write_bytes(tiny_gguf.read_bytes())
    env = {"BAYLING_CAT_HOME": str(tmp_path)}
    listed = run_cli(["models"], env_extra=env)
    assert listed.returncode == 0
    assert re.search(r"^  tiny-q\s+0\.00 GB  " + re.escape(str(folder / "tiny-q.gguf")) + "$", listed.stdout, re.M)
    result = translate_cli("tiny-q", "Hello\n", env=env)
    assert result.returncode == 0 and result.stdout.strip(), result.stderr


def test_engine_errors_are_one_line(tiny_gguf, tiny_model, tmp_path):
    env = {"BAYLING_CAT_HOME": str(tmp_path)}
    wrong = translate_cli(tiny_gguf, "Hello\n", "--engine", "ctranslate2", env=env)
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.strip() == f"bayling-cat: error: {tiny_gguf}: a GGUF file; the CTranslate2 engine needs it " \
                                   f"converted: bayling-cat convert {tiny_gguf} -o MODEL_DIR (or use --engine llamacpp)"
    wrong = translate_cli(tiny_model, "Hello\n", "--engine", "llamacpp", env=env)
    assert wrong.returncode == 1 and len(wrong.stderr.strip().splitlines()) == 1
    not_gguf = tmp_path / "fake.gguf"
    not_gguf.write_text("not a model")
    wrong = translate_cli(not_gguf, "Hello\n", env=env)
    assert wrong.returncode == 1 and wrong.stderr.strip() == f"bayling-cat: error: {not_gguf}: not a GGUF file and " \
                                                             "not a model folder"


def test_missing_llama_cpp_names_the_extra(tiny_gguf, tmp_path):
    """Without llama-cpp-python: one line naming the extra to install (simulated by a module that fails)."""
    blocker = tmp_path / "blocked"
    blocker.mkdir()
    (blocker / "llama_cpp.py").write_text("raise ImportError('No module named llama_cpp')\n")
    env = {"BAYLING_CAT_HOME": str(tmp_path), "PYTHONPATH": os.pathsep.join([str(blocker)] + sys.path)}
    result = translate_cli(tiny_gguf, "Hello\n", "--engine", "llamacpp", env=env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == ('bayling-cat: error: the llama.cpp engine needs '
                                                      'llama-cpp-python: pip install "bayling-cat[llamacpp]"')


def test_nothing_imports_llama_cpp_unless_chosen(tiny_model, tmp_path):
    result = run_cli(["translate", "-", "-s", "en", "-t", "de"], stdin="Hello\n", python_flags=["-X", "importtime"],
                     env_extra={"BAYLING_CAT_HOME": str(tmp_path), "BAYLING_CAT_MODEL": str(tiny_model)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert "| ctranslate2" in result.stderr and "llama_cpp" not in result.stderr


# -- conversion to GGUF -------------------------------------------------------------------------------------

def test_convert_to_gguf_quantized(tiny_checkpoint, tmp_path):
    out = tmp_path / "tiny-q8"
    result = run_cli(["convert", str(tiny_checkpoint), "-o", str(out), "--format", "gguf", "-q", "q8_0"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert [p.name for p in out.iterdir()] == ["tiny-q8.gguf"]  # no leftovers beside it
    assert "quantizing to q8_0 with llama.cpp" in result.stderr
    from bayling_cat.convert_gguf import read_metadata

    _, meta, tokens = read_metadata(out / "tiny-q8.gguf")
    stored = json.loads(meta["bayling_cat.metadata"])
    assert (stored["template"], stored["end_tokens"], stored["quantization"]) == ("bayling", ["</s>"], "q8_0")
    assert meta["general.file_type"] == "7" and meta["tokenizer.ggml.model"] == "llama"
    assert "</s>" in tokens
    translated = translate_cli(out, "Save your changes.\n", env={"BAYLING_CAT_HOME": str(tmp_path)})
    assert translated.returncode == 0 and translated.stdout.strip(), translated.stderr


def test_convert_to_gguf_errors_are_one_line(tiny_checkpoint, tmp_path):
    bad = run_cli(["convert", str(tiny_checkpoint), "-o", str(tmp_path / "x"), "--format", "gguf", "-q", "int8"])
    assert bad.returncode == 1 and bad.stderr.strip() == (
        "bayling-cat: error: --quantization int8 is not a gguf quantization (gguf: q4_k_m, q5_k_m, q8_0, f16; "
        "ctranslate2: int8 ... float32)")
    fake = tmp_path / "fake.gguf"
    fake.write_bytes(b"PK\x03\x04 not gguf")
    bad = run_cli(["convert", str(fake), "-o", str(tmp_path / "y"), "--format", "gguf"])
    assert bad.returncode == 1 and bad.stderr.strip() == f"bayling-cat: error: {fake}: not a .gguf file or a " \
                                                         "checkpoint folder"
    assert not (tmp_path / "y").exists()


@pytest.mark.slow
def test_convert_the_smollm2_gguf_with_bayling_metadata(tmp_path):
    """A GGUF source keeps its tokenizer and tensors, gains the metadata, and is requantized (the packaged
    SmolLM2 file: the smaller of the two packaged models, with a chat template)."""
    from bayling_cat.engines.llamacpp import Engine
    from bayling_cat.models import SMOLLM2, default_gguf

    if default_gguf("smollm2") is None:
        pytest.fail(f"SmolLM2 is not installed: {SMOLLM2.install}")
    out = tmp_path / "smol-q8"
    result = run_cli(["convert", str(default_gguf("smollm2")), "-o", str(out), "--format", "gguf", "-q", "q8_0"])
    assert result.returncode == 0, result.stderr
    converted, original = Engine(out / "smol-q8.gguf", device="cpu"), Engine(default_gguf("smollm2"), device="cpu")
    assert converted.info.quantization == "q8_0" and converted.info.name == "smol-q8"
    assert converted.info.source == str(default_gguf("smollm2")) and original.info.template == "chat"
    for key in ("template", "end_tokens", "chat_template", "bos_token", "add_bos"):
        assert getattr(converted.info, key) == getattr(original.info, key)
    text = original.template.render(original.requests(["Save the file."], "en", "de")[0])
    assert converted.encode_prompt(text) == original.encode_prompt(text)


# -- the server on llama.cpp --------------------------------------------------------------------------------

def test_server_routes_on_the_llama_engine(tiny_gguf):
    from bayling_cat.engines.llamacpp import Engine
    from bayling_cat.server import create_app

    engine = Engine(tiny_gguf, device="cpu", threads=1)
    client = create_app(engine, window=0.01).test_client()
    r = client.post("/v1/translate", json={"source_lang": "en", "target_lang": "de",
                                           "segments": ["Save your changes before closing.", "Open the settings"]})
    assert r.status_code == 200
    texts = [t["text"] for t in r.get_json()["translations"]]
    assert texts == [g.text for g in engine.translate(["Save your changes before closing.", "Open the settings"],
                                                      "en", "de")]
    r = client.post("/v1/complete", json={"source": "Save your changes before closing.", "prefix": "German",
                                          "source_lang": "en", "target_lang": "de", "alternatives": 3})
    body = r.get_json()
    assert r.status_code == 200
    assert (body["continuation"], body["alternatives"]) == \
        engine.complete("Save your changes before closing.", "German", "en", "de", 3)
    [model] = client.get("/v1/models").get_json()["models"]
    assert model["device"] == "cpu" and model["path"] == str(tiny_gguf)


def test_serve_picks_llama_cpp_and_says_why(tiny_gguf, tmp_path):
    env = dict(os.environ, BAYLING_CAT_HOME=str(tmp_path), BAYLING_CAT_MODEL=str(tiny_gguf))
    proc = subprocess.Popen([sys.executable, "-m", "bayling_cat", "serve", "--port", "0"], stderr=subprocess.PIPE,
                            text=True, env=env)
    try:
        lines, url, deadline = [], None, time.time() + 60
        while url is None and time.time() < deadline:
            line = proc.stderr.readline()
            lines.append(line)
            m = re.search(r"serving on (http://\S+/)", line)
            url = m.group(1) if m else None
        assert url, "".join(lines)
        assert sum("engine llamacpp (the model is a GGUF file)" in line for line in lines) == 1
        req = urllib.request.Request(url + "v1/complete", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"source": "Open the settings", "prefix": "",
                                                      "source_lang": "en", "target_lang": "de"}).encode())
        with urllib.request.urlopen(req, timeout=60) as r:
            body = json.loads(r.read())
        assert body["continuation"] and body["alternatives"]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
