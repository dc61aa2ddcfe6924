"""The command line, end to end, with the real default model (Gemma 3 270M GGUF converted on first use)."""

import json
import re

import pytest

from tests.conftest import ROOT, run_cli


@pytest.fixture(scope="session")
def first_run(default_first_run):
    """The first translation with an empty BAYLING_CAT_HOME, with Python listing every module it imports
    (conftest's: the session converts the default model once)."""
    return default_first_run


def imported_modules(stderr: str) -> set[str]:
    return {m.group(1).strip() for m in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", stderr, re.M)}


def test_first_use_converts_the_default_model(first_run):
    home, result = first_run
    assert result.returncode == 0, result.stderr[-2000:]
    assert "first use: converting the model Gemma 3 270M" in result.stderr
    meta = json.loads((home / "models" / "gemma-3-270m-int8" / "bayling_cat.json").read_text())
    assert meta["template"] == "fewshot" and meta["quantization"] == "int8"
    assert meta["end_tokens"][0] == "<eos>" and meta["bos_token"] == "<bos>" and meta["add_bos"] is True
    assert meta["architecture"] == "Gemma3ForCausalLM"
    assert meta["source"].endswith("gemma-3-270m-q4_k_m.gguf")


def test_cli_never_imports_torch_or_transformers(first_run):
    _, result = first_run
    modules = imported_modules(result.stderr)
    assert "ctranslate2" in modules and "tokenizers" in modules  # the listing is real
    assert not {m for m in modules if m.split(".")[0] in ("torch", "transformers")}


def test_lines_map_one_to_one(first_run):
    home, result = first_run
    out = result.stdout.split("\n")
    assert len(out) == 5 and out[-1] == ""
    assert out[1] == ""  # a blank line stays blank
    assert out[2].startswith("  ")  # leading whitespace kept
    assert all(line.strip() for i, line in enumerate(out[:4]) if i != 1)
    # the CLI prints exactly what the translation core gives for the same model and segments (the model's
    # answer, placeholders it invents in a text that has none removed)
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.translator import Request, Translator

    engine = Engine(home / "models" / "gemma-3-270m-int8", device="cpu")
    segments = ["The file could not be saved.", "Click Save to keep your changes.", "Open the settings."]
    expected = [t.text.replace("\n", " ") for t in Translator(engine).translate([Request(s) for s in segments],
                                                                                "en", "de")]
    assert [out[0], out[2].strip(), out[3]] == expected
    assert expected != segments


def test_second_run_uses_the_cached_model(first_run):
    home, _ = first_run
    result = run_cli(["translate", "-", "-s", "en", "-t", "fr"], stdin="Hello.\n",
                     env_extra={"BAYLING_CAT_HOME": str(home)})
    assert result.returncode == 0, result.stderr
    assert "converting" not in result.stderr
    assert len(result.stdout.splitlines()) == 1


def test_models_lists_default_cached_and_hub_models(first_run):
    home, _ = first_run
    result = run_cli(["models"], env_extra={"BAYLING_CAT_HOME": str(home)})
    assert result.returncode == 0
    assert f"converted: {home / 'models' / 'gemma-3-270m-int8'}" in result.stdout
    assert re.search(r"gemma-3-270m-int8\s+fewshot\s+int8", result.stdout)
    for hub in ("ICTNLP/bayling-2-7b", "ICTNLP/bayling-2-13b", "ICTNLP/bayling-2-llama-3-8b", "ICTNLP/bayling-7b-diff"):
        assert hub in result.stdout


def test_model_chosen_by_environment(tiny_model, tmp_path):
    result = run_cli(["translate", "-", "-s", "en", "-t", "de"], stdin="Hello\nOpen the settings\n",
                     env_extra={"BAYLING_CAT_HOME": str(tmp_path), "BAYLING_CAT_MODEL": str(tiny_model)})
    assert result.returncode == 0, result.stderr
    assert "converting" not in result.stderr and len(result.stdout.splitlines()) == 2


def test_convert_command(tiny_checkpoint, tmp_path):
    out = tmp_path / "m"
    result = run_cli(["convert", str(tiny_checkpoint), "-o", str(out), "-q", "int8"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    assert "template bayling, int8, end tokens </s>" in result.stderr
    again = run_cli(["convert", str(tiny_checkpoint), "-o", str(out)])
    assert again.returncode == 1 and "already exists" in again.stderr


@pytest.mark.parametrize("args,stdin,message", [
    (["--model", "/no/such/model"], "Hello\n", "/no/such/model: no such model folder"),
    (["--model", "{tmp}"], "Hello\n", "not a converted bayling-cat model"),
    (["--model", "ICTNLP/bayling-2-7b"], "Hello\n", "must be converted first: bayling-cat convert ICTNLP/bayling-2-7b"),
    ([], "", "standard input is empty"),
    ([], "\n  \n", "standard input is empty"),
    (["--target-lang", "deutsch"], "Hello\n", "invalid language code 'deutsch'"),
    (["--source-lang", "xx"], "Hello\n", "unknown language code 'xx'"),
    (["--source-lang", "de"], "Hello\n", "source and target language are both de"),
])
def test_bad_input_gives_one_clear_line(args, stdin, message, tmp_path, tiny_model):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    base = ["translate", "-", "--source-lang", "en", "--target-lang", "de"]
    result = run_cli(base + args, stdin=stdin,
                     env_extra={"BAYLING_CAT_HOME": str(tmp_path), "BAYLING_CAT_MODEL": str(tiny_model)})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("bayling-cat: error: ") and message in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_convert_errors_are_one_line(tmp_path):
    result = run_cli(["convert", str(tmp_path / "missing"), "-o", str(tmp_path / "out")])
    assert result.returncode == 1
    assert result.stderr.strip() == f"bayling-cat: error: {tmp_path / 'missing'}: no such file or folder " \
        "(and not a hub id such as ICTNLP/bayling-2-7b)"


# -- translating files ----------------------------------------------------------------------------------

SAMPLE = ROOT / "examples" / "sample.xlf"


def test_sample_xliff_with_the_default_model(first_run, tmp_path):
    """The README's main job: the sample XLIFF, the real default model, a report."""
    from lxml import etree

    home, _ = first_run
    out, report = tmp_path / "sample.de.xlf", tmp_path / "report.json"
    result = run_cli(["translate", str(SAMPLE), "-o", str(out), "--report", str(report)],
                     env_extra={"BAYLING_CAT_HOME": str(home)}, python_flags=["-X", "importtime"])
    assert result.returncode == 0, result.stderr[-2000:]
    assert not {m for m in imported_modules(result.stderr) if m.split(".")[0] in ("torch", "transformers")}
    assert f"bayling-cat: wrote {out}" in result.stderr
    assert re.search(r"bayling-cat: 1 file: 8 segments: \d+ translated, 1 copied, 2 skipped, \d+ flagged", result.stderr)
    ns = {"x": "urn:oasis:names:tc:xliff:document:1.2"}
    root = etree.parse(str(out)).getroot()
    units = {u.get("id"): u for u in root.iterfind(".//x:trans-unit", ns)}
    assert units["about.name"].find("x:target", ns) is None
    assert units["menu.file.open"].find("x:target", ns).text == "Öffnen"
    assert units["status.words"].find("x:target", ns).text == "1,024"
    data = json.loads(report.read_text())
    segs = {s["id"]: s for s in data["files"][0]["segments"]}
    for uid in ("menu.file.save", "dialog.unsaved", "error.save", "hint.shortcut", "status.ready"):
        target = units[uid].find("x:target", ns)
        if segs[uid]["written"]:
            assert target.get("state") == "needs-review-translation" and target.get("state-qualifier") == "leveraged-mt"
            assert segs[uid]["translation"].strip()
        else:  # flagged and not written: the unit says why
            assert target is None and segs[uid]["action"] == "flagged"
            assert units[uid].find("x:note[@from='bayling-cat']", ns).text.startswith("no machine translation")
    # inline codes survive whatever the model did with them
    assert units["error.save"].find("x:target/x:g[@id='1']", ns) is not None or not segs["error.save"]["written"]
    assert units["hint.shortcut"].find("x:target/x:ph[@id='2']", ns).text == "Ctrl+S" or not segs["hint.shortcut"]["written"]
    assert SAMPLE.read_bytes().count(b"<target") == 1  # the input is untouched


@pytest.fixture
def tiny_env(tiny_model, tmp_path):
    return {"BAYLING_CAT_HOME": str(tmp_path / "home"), "BAYLING_CAT_MODEL": str(tiny_model)}


def test_default_output_name_and_in_place_with_backup(tmp_path, tiny_env):
    src = tmp_path / "ui.xlf"
    src.write_bytes(SAMPLE.read_bytes())
    result = run_cli(["translate", str(src)], env_extra=tiny_env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ui.de.xlf").is_file() and src.read_bytes() == SAMPLE.read_bytes()
    result = run_cli(["translate", str(src), "--in-place"], env_extra=tiny_env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "ui.xlf.bak").read_bytes() == SAMPLE.read_bytes()
    assert b'<target state="needs-review-translation" state-qualifier="x-bayling-cat-copy">1,024</target>' \
        in src.read_bytes()  # the input itself now carries the results
    both = run_cli(["translate", str(src), "--in-place", "-o", str(tmp_path / "x.xlf")], env_extra=tiny_env)
    assert both.returncode == 1 and "exclude each other" in both.stderr


def test_folders_mixed_good_and_bad_files(tmp_path, tiny_env):
    folder = tmp_path / "project"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.xlf").write_bytes(SAMPLE.read_bytes())
    (folder / "sub" / "b.xliff").write_bytes(SAMPLE.read_bytes())
    (folder / "broken.xlf").write_bytes(b"<xliff version='1.2'><file>")
    (folder / "notes.txt").write_text("not a document")
    no_out = run_cli(["translate", str(folder)], env_extra=tiny_env)
    assert no_out.returncode == 1 and "needs -o OUTPUT_FOLDER or --in-place" in no_out.stderr
    out = tmp_path / "out"
    result = run_cli(["translate", str(folder), "-o", str(out)], env_extra=tiny_env)
    assert result.returncode == 1  # one file failed
    assert f"bayling-cat: error: {folder / 'broken.xlf'}: line 1" in result.stderr
    assert "Traceback" not in result.stderr
    assert (out / "a.xlf").is_file() and (out / "sub" / "b.xliff").is_file()
    assert not (out / "broken.xlf").exists() and not (out / "notes.txt").exists()
    assert "3 files, 1 failed" in result.stderr


def test_missing_file_and_stdin_needs_languages(tmp_path, tiny_env):
    result = run_cli(["translate", str(tmp_path / "nope.xlf")], env_extra=tiny_env)
    assert result.returncode == 1 and f"{tmp_path / 'nope.xlf'}: no such file" in result.stderr
    result = run_cli(["translate", "-"], stdin="Hello\n", env_extra=tiny_env)
    assert result.returncode == 1 and "needs --source-lang and --target-lang" in result.stderr


def test_an_interrupted_write_leaves_no_half_file(tmp_path, monkeypatch):
    """A crash between writing and renaming leaves the previous output and no temporary file."""
    import os

    from bayling_cat.pipeline import Options, Pipeline
    from tests.fakes import ScriptedTranslator

    out = tmp_path / "out.xlf"
    out.write_bytes(b"previous result")

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        Pipeline(ScriptedTranslator(), Options(output=out)).run([str(SAMPLE)])
    assert out.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.xlf"]


def test_po_and_docx_with_the_default_model(first_run, tmp_path):
    """The same pipeline for PO and DOCX, end to end on the real default model."""
    import docx
    from translate.storage import pypo

    from tests.docx_fixture import build

    home, _ = first_run
    doc = build(tmp_path / "features.docx")
    pot = tmp_path / "app.pot"
    pot.write_bytes((ROOT / "tests" / "data" / "app.pot").read_bytes())
    result = run_cli(["translate", str(doc), str(pot), "-t", "de", "-o", str(tmp_path / "out"),
                      "--report", str(tmp_path / "r.json")], env_extra={"BAYLING_CAT_HOME": str(home)})
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads((tmp_path / "r.json").read_text())
    assert [f["format"] for f in data["files"]] == ["docx", "po"]
    assert data["totals"]["translated"] + data["totals"]["flagged"] > 10
    translated = docx.Document(str(tmp_path / "out" / "features.docx"))
    assert len(translated.paragraphs) == len(docx.Document(str(doc)).paragraphs)
    store = pypo.pofile.parsefile(str(tmp_path / "out" / "app.po"))
    assert store.parseheader()["Language"] == "de"
    written = [u for u in store.units if not u.isheader() and not u.isobsolete() and u.target]
    assert written and all(u.isfuzzy() for u in written)
