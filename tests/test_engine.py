"""The engine contract, on both engines: the tiny random-weight Llama converted by bayling-cat's own code for
CTranslate2 (``tiny_model``) and as GGUF for llama.cpp (``tiny_gguf``), and the real default model."""

import json

import pytest

from bayling_cat.engines.base import (BLOCKING_FLAGS, FLAG_COMMENTARY, FLAG_EXTRA_TEXT, FLAG_LENGTH, FLAG_REPETITION,
                                      DecodingOptions, find_repetition)
from bayling_cat.engines.ctranslate2 import Engine
from bayling_cat.errors import ModelError
from bayling_cat.templates import Message, conversation

SEGMENTS = ["Save your changes before closing.", "Hello", "The file could not be saved. Click the button.",
            "Open the settings", "A", "Translation memory and glossary terms. Hello world, hello again."]
KINDS = ["ctranslate2", "llamacpp"]


def load(kind, tiny_model, tiny_gguf, **kw):
    if kind == "ctranslate2":
        return Engine(tiny_model, device="cpu", threads=1, **kw)
    from bayling_cat.engines.llamacpp import Engine as LlamaEngine

    return LlamaEngine(tiny_gguf, device="cpu", threads=1, **kw)


@pytest.fixture(scope="module", params=KINDS)
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def engine(kind, tiny_model, tiny_gguf):
    return load(kind, tiny_model, tiny_gguf)


# token-level views of each engine, so that one test pins both
def prompt_tokens(engine, text):
    """The prompt as token strings (the vocabulary's spelling: '▁' for SentencePiece)."""
    tokens = engine.encode_prompt(text)
    return tokens if isinstance(engine, Engine) else [engine.token_text(i) for i in tokens]


def ids(engine, text):
    if isinstance(engine, Engine):
        return engine.tokenizer.encode(text, add_special_tokens=False).ids
    return engine.tokenize(text)


def sequence(engine, text):
    """``text`` in the form banned_sequences gives (token strings for CTranslate2, ids for llama.cpp)."""
    if isinstance(engine, Engine):
        return engine.tokenizer.encode(text, add_special_tokens=False).tokens
    return engine.tokenize(text)


def free_tokens(engine, conv, n):
    """The first ``n`` tokens the model generates for ``conv`` with no end token, as token strings."""
    if isinstance(engine, Engine):
        return engine.generator.generate_batch([engine.encode_prompt(engine.template.render(conv))], max_length=n,
                                               include_prompt_in_result=False)[0].sequences[0]
    from bayling_cat.engines.llamacpp import _Seq

    seq = _Seq(0, engine.encode_prompt(engine.template.render(conv)), n, frozenset())
    engine._run([seq])
    return [engine.token_text(i) for i in seq.out]


def test_model_folder_carries_what_the_runtime_needs(tiny_model):
    for name in ("model.bin", "config.json", "tokenizer.json", "bayling_cat.json"):
        assert (tiny_model / name).is_file()
    meta = json.loads((tiny_model / "bayling_cat.json").read_text())
    assert meta["template"] == "bayling"
    assert meta["bos_token"] == "<s>" and meta["add_bos"] is True
    assert meta["end_tokens"] == ["</s>"]
    assert meta["quantization"] == "float32"
    assert meta["context_length"] == 512


def test_gguf_carries_the_same_metadata(tiny_model, tiny_gguf):
    from bayling_cat.engines.llamacpp import Engine as LlamaEngine

    info = LlamaEngine(tiny_gguf, device="cpu", threads=1).info
    folder = json.loads((tiny_model / "bayling_cat.json").read_text())
    for key in ("template", "bos_token", "add_bos", "end_tokens", "context_length", "source", "eos_token"):
        assert getattr(info, key) == folder[key], key
    assert info.quantization == "f16" and info.name == "tiny"


def test_prompt_tokens_bos_and_eos_in_multi_turn(engine, tiny_model):
    text = engine.template.render(conversation(["Hello", "Shorter."], ["Hallo"]))
    tokens = prompt_tokens(engine, text)
    assert tokens[0] == "<s>"
    # the </s> closing the earlier answer is the EOS token itself, not five characters
    assert tokens.count("</s>") == 1
    assert tokens[tokens.index("</s>") - 1] != "</s>"
    assert "".join(tokens).count("###") == 4
    # the same tokens as the Hugging Face tokenizer gives for the whole text, whichever engine
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(tiny_model / "tokenizer.json"))
    assert tokens[1:] == reference.encode(text, add_special_tokens=False).tokens


def test_batch_results_come_back_in_input_order(engine):
    together = engine.translate(SEGMENTS, "en", "de")
    assert len({g.text for g in together}) > len(SEGMENTS) // 2  # answers differ, so order can be checked
    alone = [engine.translate([s], "en", "de")[0] for s in SEGMENTS]
    assert [g.text for g in together] == [g.text for g in alone]
    reversed_batch = engine.translate(SEGMENTS[::-1], "en", "de")
    assert [g.text for g in reversed_batch] == [g.text for g in together][::-1]


def test_both_engines_give_the_same_greedy_translations(tiny_model, tiny_gguf):
    """The same weights (float32 and f16) and the same prompts: the same answers, flags and lengths."""
    ct2 = load("ctranslate2", tiny_model, tiny_gguf).translate(SEGMENTS, "en", "de")
    llama = load("llamacpp", tiny_model, tiny_gguf).translate(SEGMENTS, "en", "de")
    assert [(g.text, g.flags, g.generated_tokens) for g in llama] == \
        [(g.text, g.flags, g.generated_tokens) for g in ct2]


def test_small_batches_give_the_same_results(kind, tiny_model, tiny_gguf, engine):
    small = load(kind, tiny_model, tiny_gguf, decoding=DecodingOptions(max_batch_size=2))
    assert [g.text for g in small.translate(SEGMENTS, "en", "de")] == \
        [g.text for g in engine.translate(SEGMENTS, "en", "de")]


def test_results_are_delivered_as_each_one_ends(engine):
    seen = {}
    results = engine.translate(SEGMENTS, "en", "de", on_done=lambda i, g: seen.setdefault(i, g))
    assert sorted(seen) == list(range(len(SEGMENTS)))
    assert [seen[i].text for i in range(len(SEGMENTS))] == [g.text for g in results]


def test_generation_limit_is_proportional_to_the_source(kind, tiny_model, tiny_gguf):
    eng = load(kind, tiny_model, tiny_gguf,
               decoding=DecodingOptions(length_ratio=1.0, length_extra=2, max_new_tokens=1000))
    # random weights rarely hit the end token, so the limit is what stops them
    for seg in SEGMENTS:
        [g] = eng.generate([[Message("user", seg)]], [seg])
        assert g.generated_tokens <= eng.count_tokens(seg) + 2
    assert eng.generation_limit(10, 100) == 12
    assert eng.generation_limit(10, 505) == 7  # capped by the context (512)
    assert eng.generation_limit(10, 600) == 0
    [g] = eng.generate([[Message("user", "x " * 600)]], ["x " * 600])  # a prompt beyond the context
    assert g.flags == [FLAG_LENGTH] and g.text == ""


def test_end_tokens_are_honoured(kind, tiny_model, tiny_gguf, engine):
    # find a prompt whose free generation brings a new token after the first one: make it the end token
    for seg in SEGMENTS + ["Hello world, hello again.", "Klicken Sie auf die Schaltfläche."]:
        conv = [[Message("user", seg)]]
        free = free_tokens(engine, conv[0], 12)
        k = next((i for i in range(1, len(free)) if free[i] not in free[:i]), None)
        if k is not None:
            break
    assert k is not None, "the tiny model never changes token: rebuild it with another seed"
    eng = load(kind, tiny_model, tiny_gguf)
    eng.info.end_tokens = [free[k]]
    [g] = eng.generate(conv, [seg])
    assert g.generated_tokens == k
    assert FLAG_LENGTH not in g.flags


def test_a_one_line_source_ends_at_a_line_break(engine):
    assert engine.newline_ids and all("\n" in engine.decode([i]) if hasattr(engine, "decode")
                                      else "\n" in engine.tokenizer.decode([i]) for i in engine.newline_ids)
    for seg in SEGMENTS:
        [g] = engine.translate([seg], "en", "de")
        assert "\n" not in g.text


def test_banned_words_are_never_generated(engine):
    """Forbidden terms: what the model wrote freely, banned, is not written again (greedy and sampled)."""
    before = engine.translate(SEGMENTS[:3], "en", "de")
    words = sorted({w for g in before for w in g.text.split() if len(w) >= 4 and w.isalpha()})[:4]
    assert words
    banned = engine.banned_sequences(words)
    for eng in (engine, engine.with_decoding(sampling_temperature=1.0, sampling_topp=0.95)):
        convs = engine.requests(SEGMENTS[:3], "en", "de")
        after = eng.generate(convs, SEGMENTS[:3], suppress_sequences=banned)
        for g in after:
            assert not any(ids(engine, " " + w) == ids(engine, " " + t) for w in words for t in g.text.split())


def test_banned_sequences_never_ban_a_preferred_term(engine):
    banned = engine.banned_sequences(["Save"], keep=["Save your changes"])
    assert banned == []  # every form of "Save" starts "Save your changes" somewhere
    banned = engine.banned_sequences(["closing"], keep=["Save"])
    assert banned and all(seq for seq in banned)
    assert sequence(engine, " closing") in banned


def test_sampling_keeps_the_contract(engine):
    sampled = engine.with_decoding(sampling_temperature=1.0, sampling_topp=0.9)
    runs = [sampled.translate(SEGMENTS, "en", "de") for _ in range(2)]
    assert [g.text for g in runs[0]] != [g.text for g in runs[1]]  # it samples
    for results in runs:
        assert len(results) == len(SEGMENTS)
        for seg, g in zip(SEGMENTS, results):
            assert g.generated_tokens <= engine.generation_limit(engine.count_tokens(seg), 0)
            assert "\n" not in g.text
            # a sampled 'Translation ...:' (the tiny vocabulary holds the word) is cut as commentary
            assert set(g.flags) <= BLOCKING_FLAGS | {FLAG_EXTRA_TEXT, FLAG_COMMENTARY}
    # the engine it came from still decodes greedily
    assert [g.text for g in engine.translate(SEGMENTS[:2], "en", "de")] == \
        [g.text for g in engine.translate(SEGMENTS[:2], "en", "de")]


def test_prefix_completion_and_alternatives(engine):
    source = "Save your changes before closing."
    [free] = engine.translate([source], "en", "de")
    continuation, words = engine.complete(source, "", "en", "de", alternatives=4)
    assert continuation.strip()[:10] == free.text[:10]
    assert 1 <= len(words) <= 4 and len(set(words)) == len(words)
    assert continuation.split()[0] == words[0].strip()  # the best next word is the continuation's
    prefix = free.text.split()[0]
    rest, _ = engine.complete(source, prefix, "en", "de", alternatives=0)
    assert rest and not rest.startswith(prefix)


def test_both_engines_complete_alike(tiny_model, tiny_gguf):
    ct2, llama = load("ctranslate2", tiny_model, tiny_gguf), load("llamacpp", tiny_model, tiny_gguf)
    for prefix in ("", "German", "German memory"):
        (text, words), (ct2_text, ct2_words) = (e.complete(SEGMENTS[0], prefix, "en", "de", 3) for e in (llama, ct2))
        assert text == ct2_text
        # the same likely next tokens, each continued for a few more tokens to finish its word on both engines
        assert words == ct2_words


def test_both_engines_answer_chat_turns_alike(tiny_model, tiny_gguf):
    """OpenAI clients' ordinary chat turns: the same greedy answer on both engines, cut at a stop string."""
    ct2, llama = load("ctranslate2", tiny_model, tiny_gguf), load("llamacpp", tiny_model, tiny_gguf)
    messages = [Message("user", "Hello world, hello again.")]
    streamed = []
    want, got = ct2.chat(messages, max_tokens=10), llama.chat(messages, max_tokens=10, on_text=streamed.append)
    assert got.text == want.text and got.prompt_tokens == want.prompt_tokens
    assert "".join(streamed) == got.text and got.finish_reason in ("stop", "length")
    stop = got.text[2:4]
    if stop.strip():
        cut = llama.chat(messages, max_tokens=10, stop=[stop])
        assert cut.text == got.text[:got.text.index(stop)] and cut.finish_reason == "stop"


def test_find_repetition():
    loop = [5, 6, 7, 8, 9]
    assert find_repetition([1, 2, 3] + loop * 5) == (3 + 5, 5)
    assert find_repetition([1, 2, 3, 4, 1, 2, 3, 4]) is None
    assert find_repetition([1, 2] + [9] * 10) == (3, 1)
    assert find_repetition([1, 2] + [9] * 5) is None


def test_runaway_repetition_is_cut_and_flagged(engine):
    g = engine._finish(ids(engine, "Hello world") + ids(engine, " again and") * 8, -1.0, 200, "Hello world")
    assert FLAG_REPETITION in g.flags
    assert g.text.count("again") == 1


def test_repetition_present_in_the_source_is_kept(engine):
    g = engine._finish(ids(engine, " hello" * 12), -1.0, 200, "hello " * 12)
    assert FLAG_REPETITION not in g.flags


def test_anonymisation_tokens_and_extra_text(engine):
    flags = []
    assert engine.postprocess("Ich bin [NAME].", "Who are you?", flags) == "Ich bin BayLing."
    assert engine.postprocess("Hallo [NAME]", "Hello [NAME]", flags) == "Hallo [NAME]"
    assert engine.postprocess("Zeile 1\\nZeile 2", "Line 1\nLine 2", flags) == "Zeile 1\nZeile 2"
    assert flags == []
    assert engine.postprocess("Datei\n\nNote: this means file", "File", flags) == "Datei"
    assert flags == [FLAG_EXTRA_TEXT]
    flags = [FLAG_LENGTH]
    assert engine.postprocess("Datei\nNote: this means", "File", flags) == "Datei"
    assert flags == [FLAG_EXTRA_TEXT]


def test_quotes_the_model_added_are_removed(engine):
    assert engine.postprocess('"Speichern"', "Save", []) == "Speichern"
    assert engine.postprocess("\u201eSpeichern\u201c", "Save", []) == "Speichern"
    assert engine.postprocess('"Speichern"', '"Save"', []) == '"Speichern"'  # the source had them
    assert engine.postprocess('"A" und "B"', "A and B", []) == '"A" und "B"'  # not one quoted whole


def test_characters_the_vocabulary_lacks(engine):
    """The tiny vocabulary has no 'ß', no '€' and no byte tokens: the unknown token, never a crash."""
    [g] = engine.translate(["Straße kostet 5 €"], "en", "de")
    assert isinstance(g.text, str)
    assert engine.count_tokens("Straße €") == len(ids(engine, "Straße €")) > 0


def test_missing_and_wrong_model_folders(tmp_path, tiny_checkpoint):
    with pytest.raises(ModelError, match="no such model folder"):
        Engine(tmp_path / "nope")
    with pytest.raises(ModelError, match="not a converted bayling-cat model"):
        Engine(tmp_path)
    with pytest.raises(ModelError, match="bayling-cat convert"):
        Engine(tiny_checkpoint)


def test_broken_gguf_is_one_clear_error(tmp_path):
    from bayling_cat.engines.llamacpp import Engine as LlamaEngine

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelError, match="broken.gguf: llama.cpp cannot load this GGUF file"):
        LlamaEngine(bad, device="cpu")
    with pytest.raises(ModelError, match="no such GGUF file"):
        LlamaEngine(tmp_path / "missing.gguf", device="cpu")


# -- the default model on both engines ----------------------------------------------------------------

@pytest.fixture(scope="module")
def default_engines(default_ct2):
    from bayling_cat.engines.llamacpp import Engine as LlamaEngine
    from bayling_cat.models import default_gguf

    return {"ctranslate2": Engine(default_ct2, device="cpu", threads=1),
            "llamacpp": LlamaEngine(default_gguf(), device="cpu", threads=1)}


def test_default_model_prompts_are_the_same_tokens(default_engines):
    ct2, llama = default_engines["ctranslate2"], default_engines["llamacpp"]
    assert (llama.info.template, llama.info.end_tokens, llama.info.add_bos) == \
        (ct2.info.template, ct2.info.end_tokens, ct2.info.add_bos)
    convs = ct2.requests(["Save the file.", "Ünïcode: 文件 — «quoted»"], "en", "de",
                         terms=[[("file", "Datei")], []])
    # a revision turn, as a base model takes it (the request rendered again, the informal examples)
    convs.append(convs[0] + [Message("assistant", "Speichern Sie die Datei."), Message("user", "less formal")])
    for conv in convs:
        text = ct2.template.render(conv)
        assert prompt_tokens(llama, text) == prompt_tokens(ct2, text)
    for seg in SEGMENTS:
        assert llama.count_tokens(seg) == ct2.count_tokens(seg)


@pytest.mark.parametrize("which", KINDS)
def test_default_model_translates_completes_and_bans(default_engines, which):
    engine = default_engines[which]
    results = engine.translate(SEGMENTS, "en", "de")
    assert all(g.text and "\n" not in g.text for g in results)
    assert any(FLAG_LENGTH not in g.flags for g in results)  # the end token stops real answers
    continuation, words = engine.complete("Open the settings.", "Öffnen", "en", "de", alternatives=3)
    assert continuation and 1 <= len(words) <= 3
    # each alternative is a whole next word: the best one is the continuation's first word, not a piece of it
    assert words[0].strip() == continuation.split()[0]
    word = next(w for g in results for w in g.text.split() if len(w) > 3 and w.isalpha())
    again = engine.generate(engine.requests(SEGMENTS, "en", "de"), SEGMENTS,
                            suppress_sequences=engine.banned_sequences([word]))
    assert not any(word in g.text.split() for g in again)


def test_a_sentencepiece_model_converts_alike_both_ways(tiny_spm_checkpoint, tmp_path):
    """BayLing-2's tokenizer kind (tokenizer.model, byte fallback): the GGUF gets SentencePiece's scores and
    token types, and both engines see the same prompt tokens and generate the same tokens."""
    from bayling_cat.convert import convert
    from bayling_cat.engines.llamacpp import Engine as LlamaEngine

    convert(str(tiny_spm_checkpoint), tmp_path / "ct2", quantization="float32")
    convert(str(tiny_spm_checkpoint), tmp_path / "gguf", quantization="f16", fmt="gguf")
    ct2 = Engine(tmp_path / "ct2", device="cpu", threads=1)
    llama = LlamaEngine(tmp_path / "gguf" / "gguf.gguf", device="cpu", threads=1)
    assert llama.info.template == "bayling" and llama.info.end_tokens == ["</s>"]
    for seg in SEGMENTS + ["Straße kostet 5 € — 文件"]:  # characters outside the vocabulary: byte tokens
        [conv] = ct2.requests([seg], "en", "de")
        text = ct2.template.render(conv)
        assert prompt_tokens(llama, text) == prompt_tokens(ct2, text)
        assert free_tokens(llama, conv, 16) == free_tokens(ct2, conv, 16)


# -- issue 25: U+FFFD and commentary in model output ---------------------------------------------------------

def test_a_replacement_character_the_source_lacks_is_flagged(engine):
    """Bytes that were not UTF-8 decode as U+FFFD: a lost character, written unflagged into an Arabic PO. The
    translation core's one cleaning step (sanitize) flags it, whatever the engine."""
    from bayling_cat.engines.base import FLAG_INVALID, sanitize

    flags = []
    text = engine.postprocess("\u0645\ufffd\u062d\u0628\u0627", "Hello", flags)
    assert sanitize(text, "Hello", flags) == "\u0645\ufffd\u062d\u0628\u0627"
    assert flags == [FLAG_INVALID]
    flags = []
    text = engine.postprocess("Fehler: \ufffd", "Error: \ufffd", flags)
    assert sanitize(text, "Error: \ufffd", flags) == "Fehler: \ufffd"  # the source has it
    assert flags == []


@pytest.mark.parametrize("answer,source,expected", [
    ("The translation of the given German text into English is: Open the file.", "Öffnen Sie die Datei.",
     "Open the file."),
    ("Here is the translation: Datei öffnen", "Open file", "Datei öffnen"),
    ("Sure! Here's the German translation:\nDatei öffnen", "Open file", "Datei öffnen"),
    ("Translation: \"Datei öffnen\"", "Open file", "Datei öffnen"),
    ("以下是翻译：打开文件", "Open file", "打开文件"),
])
def test_model_commentary_before_the_translation_is_cut_and_flagged(engine, answer, source, expected):
    from bayling_cat.engines.base import FLAG_COMMENTARY

    flags = []
    assert engine.postprocess(answer, source, flags) == expected
    assert FLAG_COMMENTARY in flags


@pytest.mark.parametrize("answer,source", [
    ("Übersetzung: fertig", "Translation: done"),  # the source itself speaks of translation
    ("Datei öffnen", "Open file"),
    ("Die Übersetzung des Vertrags liegt bei.", "The contract's translation is enclosed."),
    ("Hinweis: Speichern Sie zuerst.", "Note: save first."),
])
def test_text_that_only_looks_like_commentary_is_kept(engine, answer, source):
    flags = []
    assert engine.postprocess(answer, source, flags) == answer
    assert flags == []
