"""bayling-cat adapt: the data it learns from, prompts identical to run time, checkpoint and resume, the merge,
both engines on the adapted model, its metadata, and refusal when it got worse. The tiny random Llama is trained
for a few steps: these are the mechanics; what adaptation gains on a real TM is bench/adapt.py's."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest

pytest.importorskip("peft")

from bayling_cat import adapt as adaptation  # noqa: E402
from bayling_cat.adapt import data as adapt_data  # noqa: E402
from bayling_cat.adapt import train  # noqa: E402
from bayling_cat.errors import UserError  # noqa: E402
from tests.conftest import run_cli  # noqa: E402

WORDS = ["file", "window", "button", "settings", "language", "changes", "memory", "glossary"]
GERMAN = ["Datei", "Fenster", "Schaltfläche", "Einstellungen", "Sprache", "Änderungen", "Speicher", "Glossar"]
DISTINCT = [("Print", "Drucken"), ("The printer is out of paper.", "Der Drucker hat kein Papier mehr."),
            ("Hello world, hello again.", "Hallo Welt, hallo nochmal."), ("Cancel", "Abbrechen")]


def po_file(path: Path, n: int = 40, fuzzy_last: bool = True) -> Path:
    """A PO catalogue of n + 4 short interface strings (translated): n alike, 4 unlike any other; one repeated,
    the last one fuzzy."""
    entries = list(DISTINCT)
    for i in range(n):
        w, g = WORDS[i % len(WORDS)], GERMAN[i % len(GERMAN)]
        entries.append((f"Open the {w} {i}.", f"Öffnen Sie {g} {i}."))
    entries.append(entries[4])  # a repeated source: learned once
    lines = ['msgid ""', 'msgstr ""', '"Content-Type: text/plain; charset=UTF-8\\n"', '"Language: de\\n"', ""]
    for k, (s, t) in enumerate(entries):
        if fuzzy_last and k == len(entries) - 1:
            lines.append("#, fuzzy")
        lines += [f'msgctxt "{k}"' if k == len(entries) - 1 else "", f'msgid "{s}"', f'msgstr "{t}"', ""]
    path.write_text("\n".join(line for line in lines if line is not None) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def fewshot_tiny(tiny_checkpoint, tmp_path_factory) -> Path:
    """The tiny Llama converted as a base model (few-shot template), as the default model is."""
    from bayling_cat.convert import convert

    out = tmp_path_factory.mktemp("fewshot") / "tiny-base"
    convert(str(tiny_checkpoint), out, quantization="float32", template="fewshot")
    return out


def settings(tmp_path, base, out="adapted", **kw):
    kw.setdefault("held_out", 4)
    kw.setdefault("train", train.TrainOptions(epochs=1, max_steps=4, batch_size=8, learning_rate=1e-3))
    return adaptation.Settings([str(po_file(tmp_path / "ui.po"))], tmp_path / out, "en", "de", base=str(base),
                               **kw)


# -- data -----------------------------------------------------------------------------------------------------

def test_pairs_are_approved_distinct_and_split_without_overlap(tmp_path):
    path = po_file(tmp_path / "ui.po", n=30)
    data = adapt_data.read_pairs([str(path)], None, "en", "de", held_out=5)
    assert len(data.train) + len(data.held_out) == 34  # the fuzzy entry and the repeat are not learned
    assert len(data.held_out) == 5
    assert not {p.source for p in data.train} & {p.source for p in data.held_out}
    again = adapt_data.read_pairs([str(path)], None, "en", "de", held_out=5)
    assert [p.source for p in again.held_out] == [p.source for p in data.held_out] and again.sha256 == data.sha256
    other = adapt_data.read_pairs([str(path)], None, "en", "de", held_out=5, seed=2)
    assert [p.source for p in other.held_out] != [p.source for p in data.held_out]
    assert {p.target for p in data.train} <= {f"Öffnen Sie {GERMAN[i % 8]} {i}." for i in range(30)} | \
        {t for _, t in DISTINCT}


def test_default_held_out_share():
    assert adapt_data.default_held_out(1000) == 50
    assert adapt_data.default_held_out(4000) == 200
    assert adapt_data.default_held_out(200) == 20
    assert adapt_data.default_held_out(10) == 1


def test_pairs_from_the_memory_too(tmp_path):
    from bayling_cat.memory import open_memory

    location = str(tmp_path / "memory.sqlite")
    with open_memory(location) as memory:
        memory.add([{"source": "Print the page.", "target": "Drucken Sie die Seite.", "source_lang": "en",
                     "target_lang": "de", "origin": "human"},
                    {"source": "Machine work.", "target": "Maschinenarbeit.", "source_lang": "en",
                     "target_lang": "de", "origin": "machine"}])
    data = adapt_data.read_pairs([str(po_file(tmp_path / "ui.po", n=10))], location, "en", "de", held_out=2)
    sources = {p.source for p in data.train + data.held_out}
    assert "Print the page." in sources and "Machine work." not in sources  # human units only


def test_too_little_data_and_a_bad_held_out_are_refused(tmp_path):
    path = po_file(tmp_path / "ui.po", n=10)
    with pytest.raises(UserError, match="--held-out 14: must be at least 1 and fewer than the 14 pairs"):
        adapt_data.read_pairs([str(path)], None, "en", "de", held_out=14)
    one = tmp_path / "one.po"
    one.write_text('msgid ""\nmsgstr ""\n"Language: de\\n"\n\nmsgid "Save"\nmsgstr "Speichern"\n', encoding="utf-8")
    with pytest.raises(UserError, match="1 approved pair en -> de to learn from"):
        adapt_data.read_pairs([str(one)], None, "en", "de", held_out=None)


def test_batches_are_bounded_and_cover_every_example():
    lengths = [5, 50, 7, 300, 12, 12, 40, 8] * 10
    options = train.TrainOptions(batch_size=16, batch_tokens=400)
    got = train.batches(lengths, options, epoch=0)
    assert sorted(i for b in got for i in b) == list(range(len(lengths)))
    assert all(max(lengths[i] for i in b) * len(b) <= 400 or len(b) == 1 for b in got)
    assert train.batches(lengths, options, 0) == got and train.batches(lengths, options, 1) != got
    plan = train.Plan.make(lengths, train.TrainOptions(epochs=1.5, batch_size=16, batch_tokens=400))
    one = train.Plan.make(lengths, train.TrainOptions(epochs=1, batch_size=16, batch_tokens=400))
    assert len(one.steps) < len(plan.steps) < 2 * len(one.steps)


def test_plural_forms_of_one_source_are_held_out_together(tmp_path):
    """A PO plural entry gives one pair per form (other hints, one source): all of them on one side."""
    path = tmp_path / "plural.po"
    entries = ['msgid ""', 'msgstr ""', '"Language: ru\\n"', '"Plural-Forms: nplurals=3; plural=(n%10==1 && '
               'n%100!=11 ? 0 : n%10>=2 && n%10<=4 && (n%100<10 || n%100>=20) ? 1 : 2);\\n"', ""]
    for i in range(30):
        entries += [f'msgid "{i} file"', f'msgid_plural "{i} files"', f'msgstr[0] "{i} файл"',
                    f'msgstr[1] "{i} файла"', f'msgstr[2] "{i} файлов"', ""]
    path.write_text("\n".join(entries) + "\n", encoding="utf-8")
    data = adapt_data.read_pairs([str(path)], None, "en", "ru", held_out=10)
    held = {p.source for p in data.held_out}
    assert len(data.held_out) + len(data.train) > 30  # the forms are pairs of their own (hints)
    assert held and not held & {p.source for p in data.train}


def test_memory_must_exist_and_languages_are_normalised(tmp_path):
    from bayling_cat.memory import open_memory

    missing = tmp_path / "nope.sqlite"
    with pytest.raises(UserError, match="--memory .*nope.sqlite: no translation memory there"):
        adapt_data.read_pairs([], str(missing), "en", "de", held_out=1)
    assert not missing.exists()  # never made by reading it
    location = str(tmp_path / "m.sqlite")
    with open_memory(location) as memory:
        memory.add([{"source": f" Save file {i}. ", "target": f"Datei {i} speichern.", "source_lang": "en-US",
                     "target_lang": "de-DE", "origin": "human"} for i in range(6)])
    data = adapt_data.read_pairs([], location, "EN_us", "de_DE", held_out=1)
    assert (data.source_lang, data.target_lang) == ("en-US", "de-DE")
    assert sorted(p.source for p in data.train + data.held_out) == [f"Save file {i}." for i in range(6)]


# -- prompts as at run time -----------------------------------------------------------------------------------

def test_training_prompts_are_the_tokens_the_adapted_model_gets_at_run_time(tmp_path, fewshot_tiny, monkeypatch):
    """The adapted model translating through the core (and its memory matches) is fed exactly the token ids
    its training examples held: the same template, no built-in examples, the same matches, the same BOS."""
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.memory import open_memory
    from bayling_cat.translator import Request, Translator

    report = adaptation.adapt(settings(tmp_path, fewshot_tiny, force=True))
    out = Path(report["output"])
    data = adapt_data.read_pairs([str(tmp_path / "ui.po")], None, "en", "de", held_out=4)
    engine = Engine(out)
    assert engine.info.extra["builtin_examples"] is False
    prompter = adapt_data.Prompter(Engine(fewshot_tiny), builtin_examples=False)
    examples, _ = adapt_data.build_examples(prompter, data)
    with_shots = [(p, e) for p, e in zip(data.train, examples) if e.shots]
    assert with_shots and len(with_shots) < len(examples)  # some pairs have near matches, some none
    seen = []
    real = engine.generator.generate_batch
    monkeypatch.setattr(engine, "generator", type("G", (), {"generate_batch": lambda self, prompts, **kw: (
        seen.extend(prompts), real(prompts, **kw))[1]})())
    location = str(tmp_path / "memory.sqlite")
    with open_memory(location) as memory:
        memory.add([{"source": p.source, "target": p.target, "source_lang": "en", "target_lang": "de",
                     "origin": "human"} for p in data.train])
        pair, example = with_shots[0]
        core = Translator(engine, memory)
        core.options.reuse = False  # the memory gives examples only: the source itself is in it
        core.translate([Request(pair.source)], "en", "de")
    assert [engine.tokenizer.token_to_id(t) for t in seen[0]] == example.prompt
    plain_pair, plain = next((p, e) for p, e in zip(data.train, examples) if not e.shots)
    seen.clear()
    Translator(engine).translate([Request(plain_pair.source)], "en", "de")
    assert [engine.tokenizer.token_to_id(t) for t in seen[0]] == plain.prompt
    assert engine.tokenizer.decode(plain.prompt) == f"English: {plain_pair.source}\nGerman:"
    assert plain.answer[-1] == engine.tokenizer.token_to_id("</s>")


def test_glossary_terms_are_in_the_training_prompt(tmp_path, fewshot_tiny):
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.glossary import load

    gl = tmp_path / "g.csv"
    gl.write_text("en,de\nwindow,Fenster\n", encoding="utf-8")
    glossary = load(gl, "en", "de")
    prompter = adapt_data.Prompter(Engine(fewshot_tiny), builtin_examples=False)
    ex = prompter.example(adapt_data.Pair("Open the window 1.", "Öffnen Sie Fenster 1."), "en", "de", (), glossary)
    assert ex.terms == 1 and ex.contradicted == 0
    # a reference that does not follow the glossary: the term is left out (it would teach ignoring terms)
    other = prompter.example(adapt_data.Pair("Open the window 2.", "Öffnen Sie die Ansicht 2."), "en", "de", (),
                             glossary)
    assert (other.terms, other.contradicted) == (0, 1)
    assert prompter.tokenizer.decode(other.prompt) == "English: Open the window 2.\nGerman:"
    assert prompter.tokenizer.decode(ex.prompt) == \
        "English: window\nGerman: Fenster\n\nEnglish: Open the window 1.\nGerman:"


def test_do_not_translate_terms_are_placeholders_in_prompt_and_answer(tmp_path, fewshot_tiny):
    """As the core sends a do-not-translate term (a placeholder, put back after), the model learns to keep it."""
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.glossary import load

    gl = tmp_path / "g.csv"
    gl.write_text("en,de\nGlossar,Glossar\n", encoding="utf-8")  # a target equal to its source: keep it
    glossary = load(gl, "en", "de")
    assert any(t.dnt for t in glossary.terms)
    prompter = adapt_data.Prompter(Engine(fewshot_tiny), builtin_examples=False)
    ex = prompter.example(adapt_data.Pair("Open the Glossar 7.", "Öffnen Sie Glossar 7."), "en", "de", (), glossary)
    # (the tiny tokenizer has no "<" or ">": ids compared, not decoded text)
    assert ex.prompt == prompter.ids("English: Open the <1/> 7.\nGerman:")
    assert ex.answer[:-1] == prompter.tokenizer.encode(" Öffnen Sie <1/> 7.", add_special_tokens=False).ids
    assert ex.answer[:-1] != prompter.tokenizer.encode(" Öffnen Sie Glossar 7.", add_special_tokens=False).ids


# -- the whole run: both engines, metadata, resume, refusal ---------------------------------------------------

def test_adapted_model_loads_on_both_engines_with_its_metadata(tmp_path, fewshot_tiny):
    from bayling_cat.convert_gguf import gguf_info
    from bayling_cat.engines import choose_engine, create_engine
    from bayling_cat.models import model_files

    report = adaptation.adapt(settings(tmp_path, fewshot_tiny, force=True, report=tmp_path / "r.json"))
    out = Path(report["output"])
    files = model_files(str(out))
    assert files.ct2 == out and files.gguf == out / "adapted.gguf"
    meta = json.loads((out / "bayling_cat.json").read_text(encoding="utf-8"))
    adapted = meta["extra"]["adapted"]
    data = adapt_data.read_pairs([str(tmp_path / "ui.po")], None, "en", "de", held_out=4)
    assert adapted["base"] == "tiny-base" and adapted["data"]["sha256"] == data.sha256
    assert adapted["data"]["pairs"] == 40 and adapted["data"]["held_out"] == 4 and adapted["steps"] == 4
    assert adapted["options"]["rank"] == 16 and adapted["options"]["max_steps"] == 4
    held = adapted["held_out"]
    assert held["after"]["chrf++"] == round(report["after"]["chrf++"], 2)
    assert held["chrf++_gain"] == round(report["after"]["chrf++"] - report["before"]["chrf++"], 2)
    assert meta["name"] == "adapted" and meta["template"] == "fewshot"
    assert gguf_info(out / "adapted.gguf").extra["adapted"] == adapted  # the GGUF says the same
    assert (meta["quantization"], gguf_info(out / "adapted.gguf").quantization) == ("float32", "q8_0")
    assert json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))["adapted"] == adapted
    for name in ("ctranslate2", "llamacpp"):
        engine = create_engine(choose_engine(name, str(out)))
        assert engine.builtin_examples is False
        [gen] = engine.translate(["Open the file 3."], "en", "de")
        assert gen.generated_tokens > 0
    assert not adaptation.checkpoint_folder(out).exists()  # cleaned up once written


def test_the_merge_changes_the_model_as_the_adapter_does(tmp_path, tiny_checkpoint, fewshot_tiny):
    """The merged CTranslate2 model scores a prompt as the LoRA model did in training: the adaptation really
    is in the written model (and differs from the base)."""
    import numpy as np
    import torch
    import ctranslate2

    options = train.TrainOptions(epochs=1, max_steps=3, batch_size=8, learning_rate=5e-3, dropout=0.0)
    trainer_box = {}
    real_run = train.Trainer.run

    def keep(self, *a, **kw):
        trainer_box["t"] = self
        return real_run(self, *a, **kw)

    train.Trainer.run = keep
    try:
        report = adaptation.adapt(settings(tmp_path, fewshot_tiny, force=True, train=options))
    finally:
        train.Trainer.run = real_run
    trainer = trainer_box["t"]
    ex = trainer.examples[0]
    ids = torch.tensor([ex.prompt + ex.answer])
    with torch.no_grad():
        lora = trainer.model(input_ids=ids).logits[0, -1].numpy()  # (merged in place by then: the same weights)
    from bayling_cat.engines.ctranslate2 import Engine

    out = Path(report["output"])
    engine = Engine(out)
    strings = [engine.tokenizer.id_to_token(i) for i in ex.prompt + ex.answer]
    ct2 = np.array(ctranslate2.Generator(str(out)).forward_batch([strings]))[0, -1]
    assert np.allclose(ct2, lora, atol=1e-3)
    base = np.array(ctranslate2.Generator(str(fewshot_tiny)).forward_batch([strings]))[0, -1]
    assert not np.allclose(base, lora, atol=1e-3)


def test_ctrl_c_leaves_a_checkpoint_and_the_same_command_resumes_to_the_same_model(tmp_path, fewshot_tiny,
                                                                                     monkeypatch):
    options = train.TrainOptions(epochs=1, max_steps=5, batch_size=4, learning_rate=1e-3)
    whole = adaptation.adapt(settings(tmp_path, fewshot_tiny, out="whole", train=options, force=True))
    real_loss = train.Trainer.loss

    def ctrl_c(self, batch):  # Ctrl-C as a user presses it, in the middle of step 3: the step finishes first
        if self.step == 2 and not getattr(self, "_pressed", False):
            self._pressed = True
            signal.raise_signal(signal.SIGINT)
        return real_loss(self, batch)

    monkeypatch.setattr(train.Trainer, "loss", ctrl_c)
    with pytest.raises(adaptation.Stopped, match="interrupted at step 3 of 5: the checkpoint is in .*run the same"):
        adaptation.adapt(settings(tmp_path, fewshot_tiny, out="resumed", train=options, force=True))
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # put back
    checkpoint = adaptation.checkpoint_folder(tmp_path / "resumed")
    assert json.loads((checkpoint / "lora" / "state.json").read_text())["step"] == 3
    assert not (tmp_path / "resumed").exists()
    monkeypatch.setattr(train.Trainer, "loss", real_loss)
    said = []
    resumed = adaptation.adapt(settings(tmp_path, fewshot_tiny, out="resumed", train=options, force=True),
                               say=said.append)
    assert any("resuming from the checkpoint at step 3 of 5" in s for s in said)
    assert resumed["adapted"]["final_loss"] == whole["adapted"]["final_loss"]
    assert (tmp_path / "resumed" / "model.bin").read_bytes() == (tmp_path / "whole" / "model.bin").read_bytes()
    # an interrupt that cuts a step short (outside the main thread): the step runs again, as it would have
    def cut(self, batch):
        if self.step == 3:
            raise KeyboardInterrupt
        return real_loss(self, batch)

    monkeypatch.setattr(train.Trainer, "loss", cut)
    with pytest.raises(adaptation.Stopped, match="interrupted at step 3 of 5"):
        adaptation.adapt(settings(tmp_path, fewshot_tiny, out="third", train=options, force=True))
    monkeypatch.setattr(train.Trainer, "loss", real_loss)
    third = adaptation.adapt(settings(tmp_path, fewshot_tiny, out="third", train=options, force=True))
    assert (tmp_path / "third" / "model.bin").read_bytes() == (tmp_path / "whole" / "model.bin").read_bytes()
    assert third["adapted"]["final_loss"] == whole["adapted"]["final_loss"]
    # other options: the checkpoint is not taken for this run
    changed = train.TrainOptions(epochs=1, max_steps=5, batch_size=4, learning_rate=2e-3)
    monkeypatch.setattr(train.Trainer, "loss", cut)
    with pytest.raises(UserError, match="interrupted"):
        adaptation.adapt(settings(tmp_path, fewshot_tiny, out="fourth", train=options, force=True))
    monkeypatch.setattr(train.Trainer, "loss", real_loss)
    said.clear()
    adaptation.adapt(settings(tmp_path, fewshot_tiny, out="fourth", train=changed, force=True), say=said.append)
    assert not any("resuming" in s for s in said)


def test_a_model_that_got_worse_is_not_written_unless_forced(tmp_path, fewshot_tiny, monkeypatch):
    scores = iter([50.0, 40.0, 40.0])
    real = adaptation.score

    def fake(engine, pairs, *a, **kw):
        result = real(engine, pairs, *a, **kw)
        result["chrf++"] = next(scores)
        return result

    monkeypatch.setattr(adaptation, "score", fake)
    with pytest.raises(adaptation.Worse, match=r"not written: .*chrF\+\+ 40.0 .* the base 50.0 \(-10.0\); --force"):
        adaptation.adapt(settings(tmp_path, fewshot_tiny, report=tmp_path / "r.json"))
    assert not (tmp_path / "adapted").exists()
    assert json.loads((tmp_path / "r.json").read_text())["written"] is False
    assert adaptation.checkpoint_folder(tmp_path / "adapted").is_dir()  # the training is kept for --force
    said = []
    report = adaptation.adapt(settings(tmp_path, fewshot_tiny, force=True), say=said.append)
    assert report["written"] and (tmp_path / "adapted" / "model.bin").is_file()
    assert report["gain"]["chrf++"] == -10.0
    assert any("resuming from the checkpoint at step 4 of 4" in s for s in said)  # not trained again


def test_patched_gguf_holds_the_base_plus_the_difference(tmp_path, tiny_checkpoint, tiny_gguf):
    """A GGUF base (the default model's route): each adapted tensor is the base's plus LoRA's difference, in the
    GGUF's own layout (llama's query and key rows permuted), every other tensor byte for byte."""
    import gguf
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM

    from bayling_cat.adapt.export import write_gguf
    from bayling_cat.convert_gguf import gguf_info

    base = AutoModelForCausalLM.from_pretrained(str(tiny_checkpoint), dtype=torch.float32).state_dict()
    rng = np.random.default_rng(0)
    names = ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"]
    deltas = {n: (rng.standard_normal(tuple(base[n].shape)) * 0.05).astype(np.float32) for n in names}
    info = gguf_info(tiny_gguf)
    info.extra = {"adapted": {"base": "tiny"}}
    target = tmp_path / "patched.gguf"
    write_gguf(tiny_gguf, None, deltas, info, target)
    patched = AutoModelForCausalLM.from_pretrained(str(tmp_path), gguf_file="patched.gguf", dtype=torch.float32)
    state = patched.state_dict()
    for n in names:  # f16 base, Q8_0 result: within Q8_0's step
        assert np.allclose(state[n].numpy(), base[n].numpy() + deltas[n], atol=0.02)
    untouched = "model.layers.0.self_attn.v_proj.weight"
    assert np.allclose(state[untouched].numpy(), base[untouched].numpy(), atol=2e-3)
    before = {t.name: t for t in gguf.GGUFReader(str(tiny_gguf)).tensors}
    after = {t.name: t for t in gguf.GGUFReader(str(target)).tensors}
    assert after["blk.0.attn_q.weight"].tensor_type == gguf.GGMLQuantizationType.Q8_0
    assert bytes(after["blk.0.attn_v.weight"].data) == bytes(before["blk.0.attn_v.weight"].data)
    assert gguf_info(target).extra["adapted"] == {"base": "tiny"}
    assert gguf_info(target).quantization == "f16+q8_0"  # the base's own types, the adapted tensors Q8_0


# -- the command line -----------------------------------------------------------------------------------------

def test_cli_adapts_and_says_the_gain(tmp_path, fewshot_tiny):
    po = po_file(tmp_path / "ui.po")
    out = tmp_path / "cli-model"
    result = run_cli(["adapt", str(po), "-s", "en", "-t", "de", "-o", str(out), "--base", str(fewshot_tiny),
                      "--max-steps", "2", "--held-out", "4", "--format", "ctranslate2", "--force",
                      "--report", str(tmp_path / "r.json")], env_extra={"BAYLING_CAT_HOME": str(tmp_path / "h")})
    assert result.returncode == 0, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"bayling-cat: adapted model in {out} (--model {out}): held-out chrF++ ")
    assert (out / "model.bin").is_file() and not list(out.glob("*.gguf"))
    translated = run_cli(["translate", "-", "-s", "en", "-t", "de", "--model", str(out)], stdin="Open the file.\n",
                         env_extra={"BAYLING_CAT_HOME": str(tmp_path / "h")})
    assert translated.returncode == 0, translated.stderr


@pytest.mark.parametrize("args, message", [
    ([], "nothing to learn from: name TMX, XLIFF or PO files, or --memory"),
    (["missing.po"], "missing.po: no such file"),
    (["{po}", "--held-out", "500"], "--held-out 500: must be at least 1 and fewer than the 44 pairs read"),
    (["{po}", "--base", "{tmp}"], "not a packaged model or a converted CTranslate2 folder"),
    (["{po}", "--epochs", "0"], "Invalid value for '--epochs'"),
    (["{po}", "-o", "{tmp}"], "the adapted model's folder would replace the input"),
    (["{po}", "-o", "{tmp}/note.txt"], "note.txt: a file, not a folder"),
    (["{po}", "--memory", "{tmp}/none.sqlite"], "--memory {tmp}/none.sqlite: no translation memory there"),
    (["{po}", "--report", "{po}"], "the report"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, message, fewshot_tiny):
    po = po_file(tmp_path / "ui.po")
    (tmp_path / "note.txt").write_text("a note", encoding="utf-8")
    args = [a.format(po=po, tmp=tmp_path) for a in args]
    if "--base" not in args:
        args += ["--base", str(fewshot_tiny)]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "out")]
    result = run_cli(["adapt", *args, "-s", "en", "-t", "de"], env_extra={"BAYLING_CAT_HOME": str(tmp_path / "h")})
    assert result.returncode != 0
    assert message.format(tmp=tmp_path) in result.stderr and "Traceback" not in result.stderr
    assert po.read_text(encoding="utf-8").startswith('msgid ""')  # the input untouched
    assert not (tmp_path / "out").exists()


# -- the adapted model says so wherever a translation says where it came from --------------------------------

XLIFF = """<?xml version="1.0" encoding="UTF-8"?>
<xliff version="1.2" xmlns="urn:oasis:names:tc:xliff:document:1.2">
  <file original="ui" source-language="en" target-language="de" datatype="plaintext"><body>
    <trans-unit id="1"><source>Open the file.</source></trans-unit>
  </body></file>
</xliff>
"""


@pytest.fixture(scope="module")
def adapted_model(fewshot_tiny, tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("adapted")
    return Path(adaptation.adapt(settings(tmp, fewshot_tiny, force=True))["output"])


def test_server_workbench_report_and_xliff_name_the_adapted_model(adapted_model, tmp_path):
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.server import create_app

    engine = Engine(adapted_model)
    client = create_app(engine).test_client()
    health = client.get("/health").get_json()
    assert health["adapted"]["base"] == "tiny-base" and health["adapted"]["pairs"] == 40
    gain = health["adapted"]["held_out_chrf"]
    assert gain["gain"] == round(gain["after"] - gain["before"], 2)
    [card] = client.get("/v1/models").get_json()["data"]
    assert card["id"] == "adapted" and card["parent"] == "tiny-base" and card["adapted"] == health["adapted"]
    from bayling_cat.server.workbench import Workbench

    from bayling_cat.server.workbench import TOKEN_HEADER

    bench = Workbench(uploads=tmp_path / "uploads")
    wb = create_app(engine, workbench=bench).test_client()
    listing = wb.get("/workbench/api/documents", headers={TOKEN_HEADER: bench.token}).get_json()
    assert listing["model"] == "adapted" and listing["adapted"] == health["adapted"]

    xlf = tmp_path / "ui.xlf"
    xlf.write_text(XLIFF, encoding="utf-8")
    assert bench.open(xlf).tool == "bayling-cat adapted (adapted from tiny-base)"  # what its saves credit
    result = run_cli(["translate", str(xlf), "--model", str(adapted_model), "--mode", "suggest",
                      "--report", str(tmp_path / "report.json")], env_extra={"BAYLING_CAT_HOME": str(tmp_path / "h")})
    assert result.returncode == 0, result.stderr
    written = (tmp_path / "ui.de.xlf").read_text(encoding="utf-8")
    assert 'origin="bayling-cat adapted (adapted from tiny-base)"' in written
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["adapted"] == health["adapted"]


def test_a_model_not_adapted_is_credited_as_before(tiny_model, adapted_model):
    """(tests/test_xliff.py checks origin="bayling-cat" in the files a plain model writes.)"""
    from bayling_cat.modelinfo import ModelInfo, adaptation, describe
    from bayling_cat.pipeline import report

    plain = ModelInfo.read(tiny_model)
    assert adaptation(plain) is None and describe("tiny", plain) == "tiny"
    assert "adapted" not in report([], 0.0, "tiny", plain)
    assert describe("adapted", ModelInfo.read(adapted_model)) == "adapted (adapted from tiny-base)"
