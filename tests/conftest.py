"""Shared fixtures: a tiny random-weight Llama converted by bayling-cat's own code, and the real default model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"

CORPUS_TEXT = [
    "The file could not be saved.", "Click the button to open a new window.", "Save your changes before closing.",
    "Die Datei konnte nicht gespeichert werden.", "Klicken Sie auf die Schaltfläche.", "Hello world, hello again.",
    "Translation memory and glossary terms.", "Open the settings and choose a language.",
] * 4


def build_tokenizer(folder: Path):
    """A small Llama-like BPE tokenizer (Metaspace, byte fallback off) with <unk>, <s>, </s>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False,
                                  initial_alphabet=list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                        "0123456789.,:;!?'\"()[]#/-_ \n\u00e4\u00f6\u00fc"))
    tok.train_from_iterator(CORPUS_TEXT + ["### Instruction:", "### Response:", "Provide the German translation"],
                            trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(str(folder))
    return fast


def build_tiny_llama(folder: Path, seed: int = 0) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(folder)
    torch.manual_seed(seed)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         initializer_range=0.3)  # large enough that the answer depends on the input
    model = LlamaForCausalLM(config)
    model.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A random-weight Llama checkpoint named like a BayLing-2 model (so the bayling template is chosen)."""
    return build_tiny_llama(tmp_path_factory.mktemp("hf") / "bayling-2-tiny")


@pytest.fixture(scope="session")
def tiny_model(tiny_checkpoint, tmp_path_factory) -> Path:
    from bayling_cat.convert import convert

    out = tmp_path_factory.mktemp("ct2") / "tiny"
    convert(str(tiny_checkpoint), out, quantization="float32")
    return out


# what the first run of the session translates (tests/test_cli.py checks its output line by line)
FIRST_RUN_INPUT = "The file could not be saved.\n\n  Click Save to keep your changes.\nOpen the settings.\n"


@pytest.fixture(scope="session")
def default_first_run(tmp_path_factory):
    """The session's one conversion of the real default model (Gemma 3 270M, from its packages): the first
    translation with an empty BAYLING_CAT_HOME converts it, with Python listing every module it imports. Every
    test of the default model shares this home, so the model is converted once per session."""
    pytest.importorskip("torch")
    from bayling_cat.models import DEFAULT, default_gguf

    if default_gguf() is None:
        pytest.fail(f"the default model is not installed: {DEFAULT.install}")
    home = tmp_path_factory.mktemp("home")
    result = run_cli(["translate", "-", "--source-lang", "en", "--target-lang", "de"], stdin=FIRST_RUN_INPUT,
                     env_extra={"BAYLING_CAT_HOME": str(home)}, python_flags=["-X", "importtime"])
    return home, result


@pytest.fixture(scope="session")
def default_home(default_first_run) -> Path:
    """A BAYLING_CAT_HOME where the real default model is converted (by the session's first run)."""
    home, result = default_first_run
    if result.returncode != 0:
        pytest.fail(f"the first run with the default model failed: {result.stderr[-1000:]}")
    return home


def run_cli(args, stdin: str = "", env_extra: dict | None = None, python_flags=(), timeout=600):
    env = dict(os.environ)
    env.pop("BAYLING_CAT_MODEL", None)
    env.update(env_extra or {})
    return subprocess.run([sys.executable, *python_flags, "-m", "bayling_cat", *args], input=stdin,
                          capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope="session")
def tiny_gguf(tiny_checkpoint, tmp_path_factory) -> Path:
    """The same tiny random Llama converted for the llama.cpp engine (GGUF, f16): ``tiny_model``'s weights."""
    from bayling_cat.convert import convert

    out = tmp_path_factory.mktemp("gguf") / "tiny"
    convert(str(tiny_checkpoint), out, quantization="f16", fmt="gguf")
    return out / "tiny.gguf"


@pytest.fixture(scope="session")
def default_ct2(default_home) -> Path:
    """The default model converted for CTranslate2: the session's one conversion (its llama.cpp side is the
    packaged GGUF itself)."""
    from bayling_cat.models import DEFAULT_NAME

    return default_home / "models" / DEFAULT_NAME


@pytest.fixture(scope="session")
def tiny_spm_checkpoint(tmp_path_factory) -> Path:
    """A random-weight Llama with a SentencePiece tokenizer (tokenizer.model, byte fallback), the kind
    BayLing-2 and every LLaMA-1/2 model has."""
    import json

    import sentencepiece
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("spm") / "bayling-2-spm"
    folder.mkdir()
    corpus = folder.parent / "corpus.txt"
    corpus.write_text("\n".join(CORPUS_TEXT + ["### Instruction:", "### Response:", "Provide the German translation"]
                                * 3), encoding="utf-8")
    sentencepiece.SentencePieceTrainer.train(input=str(corpus), model_prefix=str(folder / "tokenizer"),
                                             vocab_size=400, model_type="bpe", byte_fallback=True,
                                             character_coverage=1.0, unk_id=0, bos_id=1, eos_id=2, pad_id=-1,
                                             minloglevel=2)
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>",
        "add_bos_token": True, "legacy": True}))
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512, bos_token_id=1,
                         eos_token_id=2, initializer_range=0.3)
    LlamaForCausalLM(config).save_pretrained(str(folder))
    return folder


@pytest.fixture
def xlf(tmp_path):
    """A copy of tests/data/inline-1.2.xlf in a folder of its own (the workbench keeps its session beside it)."""
    import shutil

    path = tmp_path / "doc" / "inline-1.2.xlf"
    path.parent.mkdir()
    shutil.copy(ROOT / "tests" / "data" / "inline-1.2.xlf", path)
    return path


@pytest.fixture
def tiny_env(tiny_model, tmp_path):
    """The environment of a command-line run on the tiny model, in a data folder of its own."""
    return {"BAYLING_CAT_HOME": str(tmp_path / "home"), "BAYLING_CAT_MODEL": str(tiny_model)}
