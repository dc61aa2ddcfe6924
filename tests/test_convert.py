"""Conversion with bayling-cat's own code: errors, atomic output, template choice, BayLing-1 deltas."""

import errno
import json
import shutil

import pytest

torch = pytest.importorskip("torch")

from bayling_cat.convert import convert  # noqa: E402
from bayling_cat.engines.ctranslate2 import Engine  # noqa: E402
from bayling_cat.errors import ConversionError  # noqa: E402
from tests.conftest import build_tiny_llama  # noqa: E402

PROBES = ["Save your changes before closing.", "Open the settings"]


def leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if ".partial-" in p.name)


def test_missing_path(tmp_path):
    with pytest.raises(ConversionError, match="no such file or folder"):
        convert(str(tmp_path / "nothing-here"), tmp_path / "out")


def test_non_model_folder(tmp_path):
    (tmp_path / "notes").mkdir()
    with pytest.raises(ConversionError, match="no config.json"):
        convert(str(tmp_path / "notes"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_unsupported_architecture(tmp_path):
    src = tmp_path / "bert"
    src.mkdir()
    (src / "config.json").write_text(json.dumps({"architectures": ["BertForMaskedLM"], "model_type": "bert"}))
    with pytest.raises(ConversionError, match="architecture BertForMaskedLM is not supported"):
        convert(str(src), tmp_path / "out")


def test_hub_id_without_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(ConversionError, match="ICTNLP/bayling-2-7b: cannot download from the Hugging Face hub"):
        convert("ICTNLP/bayling-2-7b", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_gguf_that_is_not_gguf(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"GGUF but not really")
    with pytest.raises(ConversionError, match="broken.gguf: transformers cannot read this GGUF file"):
        convert(str(bad), tmp_path / "out")
    bad.write_bytes(b"PK\x03\x04 a zip file")
    with pytest.raises(ConversionError, match="broken.gguf: not a GGUF file"):
        convert(str(bad), tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_unknown_quantization(tiny_checkpoint, tmp_path):
    with pytest.raises(ConversionError, match="unknown quantization"):
        convert(str(tiny_checkpoint), tmp_path / "out", quantization="int4")


def test_existing_output_is_not_replaced_without_force(tiny_checkpoint, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="already exists"):
        convert(str(tiny_checkpoint), out)
    assert (out / "keep.txt").read_text() == "mine"
    convert(str(tiny_checkpoint), out, quantization="int8", force=True)
    assert not (out / "keep.txt").exists() and (out / "bayling_cat.json").is_file()


def test_full_disk_leaves_nothing_behind(tiny_checkpoint, tmp_path, monkeypatch):
    from ctranslate2.converters import TransformersConverter

    def no_space(self, output_dir, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(TransformersConverter, "convert", no_space)
    with pytest.raises(ConversionError, match="disk full"):
        convert(str(tiny_checkpoint), tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_template_choice(tiny_checkpoint, tmp_path):
    from transformers import AutoTokenizer

    from bayling_cat.convert import choose_template

    tok = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    assert choose_template("ICTNLP/bayling-2-7b", tok) == "bayling"
    assert choose_template("ICTNLP/bayling-2-llama-3-8b", tok) == "bayling-llama3"
    # no chat template and not BayLing: a base model, asked with few-shot examples
    assert choose_template("/models/some-llama", tok) == "fewshot"
    tok.chat_template = "{% for m in messages %}{{ m['content'] }}{% endfor %}"
    assert choose_template("/models/some-llama", tok) == "chat"


def test_explicit_template_and_int8(tiny_checkpoint, tmp_path):
    out = tmp_path / "llama3-style"
    with pytest.raises(ConversionError, match="lacks"):
        convert(str(tiny_checkpoint), out, template="bayling-llama3")  # no <|eot_id|> in this vocabulary
    info = convert(str(tiny_checkpoint), out, template="bayling", quantization="int8")
    assert info.quantization == "int8" and info.template == "bayling"
    assert Engine(out, device="cpu").translate(["Hello"], "en", "de")[0].generated_tokens > 0


def test_bayling1_delta_plus_base_equals_the_target(tmp_path, tiny_checkpoint, tiny_model):
    """A delta made as BayLing made theirs (target - base), added back by convert --base, gives the target."""
    from transformers import AutoModelForCausalLM

    base = build_tiny_llama(tmp_path / "llama-base", seed=1)
    target = AutoModelForCausalLM.from_pretrained(str(tiny_checkpoint), dtype=torch.float16)
    base_model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float16)
    with torch.no_grad():
        for name, p in target.state_dict().items():
            p.sub_(base_model.state_dict()[name])
    delta = tmp_path / "bayling-7b-diff"
    target.save_pretrained(str(delta))
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(tiny_checkpoint / f, delta / f)
    out = tmp_path / "from-delta"
    info = convert(str(delta), out, base=str(base), quantization="float32")
    assert info.template == "bayling" and info.bos_token == "<s>" and info.extra == {"base": str(base)}
    reference = Engine(tiny_model, device="cpu").translate(PROBES, "en", "de")
    rebuilt = Engine(out, device="cpu").translate(PROBES, "en", "de")
    # fp16 round trip of the delta: the first generated words agree with the fp32 original
    assert [r.text.split()[:2] for r in rebuilt] == [r.text.split()[:2] for r in reference]


def test_delta_with_the_wrong_base(tmp_path, tiny_checkpoint):
    from transformers import LlamaConfig, LlamaForCausalLM

    wrong = tmp_path / "wrong-base"
    LlamaForCausalLM(LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                 num_attention_heads=2)).save_pretrained(str(wrong))
    with pytest.raises(ConversionError, match="does not match the delta"):
        convert(str(tiny_checkpoint), tmp_path / "out", base=str(wrong))
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def test_template_comes_from_the_model_s_own_name_not_its_parent_folders(tiny_checkpoint, tmp_path):
    """~/work/bayling-cat/models/my-llama is "my-llama": a parent folder's "bayling" says nothing about it."""
    from transformers import AutoTokenizer

    src = tmp_path / "work" / "bayling-cat" / "models" / "my-llama"
    shutil.copytree(tiny_checkpoint, src)
    tok = AutoTokenizer.from_pretrained(str(src))
    tok.chat_template = CHATML
    tok.save_pretrained(str(src))
    info = convert(str(src), tmp_path / "out", quantization="float32")
    assert info.template == "chat" and info.chat_template == CHATML


def _chatml_tokenizer(with_template=True):
    """A tokenizer with ChatML's tokens and none of BayLing's (no </s>), like SmolLM2's or Qwen's."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    vocab = {"<unk>": 0, "<|im_start|>": 1, "<|im_end|>": 2, "hello": 3}
    fast = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="<unk>")),
                                   unk_token="<unk>", eos_token="<|im_end|>")
    if with_template:
        fast.chat_template = CHATML
    return fast


def test_template_names_a_model_gives_itself(tiny_checkpoint):
    from transformers import AutoTokenizer

    from bayling_cat.convert import choose_template, model_names, pick_template

    tok = AutoTokenizer.from_pretrained(str(tiny_checkpoint))
    # a hub snapshot folder is named by a commit hash: the config says what was saved
    names = model_names("/cache/models--x/snapshots/0123abcd", {"_name_or_path": "ICTNLP/bayling-2-7b"})
    assert names == ["0123abcd", "bayling-2-7b"] and choose_template("/cache/x", tok, names) == "bayling"
    assert model_names("/m/bayling-stuff/SmolLM2.Q4.gguf", gguf_name="SmolLM2 135M") == ["SmolLM2.Q4", "SmolLM2 135M"]
    # a name that says BayLing over a tokenizer without BayLing's tokens: its own chat template, said aloud
    said = []
    assert pick_template("ICTNLP/bayling-2-7b", _chatml_tokenizer(), say=said.append) == "chat"
    assert "lacks the 'bayling' template's tokens ['</s>']" in said[0]
    # nothing fits: the error says exactly what would
    with pytest.raises(ConversionError, match=r"lacks the 'bayling' template's tokens \['</s>'\]; pass --template "
                                              r"fewshot$"):
        pick_template("ICTNLP/bayling-2-7b", _chatml_tokenizer(with_template=False))
    # never from the folders around it: a base model, not BayLing
    assert choose_template("/work/bayling-cat/my-llama", tok) == "fewshot"


def test_an_explicit_template_the_tokenizer_cannot_serve_says_what_can(tiny_checkpoint, tmp_path):
    with pytest.raises(ConversionError, match=r"lacks the 'bayling-llama3' template's tokens .*; pass --template "
                                              r"bayling or --template fewshot$"):
        convert(str(tiny_checkpoint), tmp_path / "out", template="bayling-llama3")
    with pytest.raises(ConversionError, match=r"lacks the 'chat' template's tokens \['a chat template'\]"):
        convert(str(tiny_checkpoint), tmp_path / "out", template="chat")
    assert not (tmp_path / "out").exists()


def test_the_output_folder_may_not_replace_what_is_converted(tiny_checkpoint, tmp_path):
    src = tmp_path / "models" / "bayling-2-tiny"
    shutil.copytree(tiny_checkpoint, src)
    before = sorted(p.name for p in src.iterdir())
    for out in (src, tmp_path / "models", tmp_path):
        with pytest.raises(ConversionError, match="would replace the checkpoint it is converted from"):
            convert(str(src), out, force=True)
    link = tmp_path / "link"
    link.symlink_to(src)
    with pytest.raises(ConversionError, match="would replace the checkpoint"):
        convert(str(link), src, force=True)
    assert sorted(p.name for p in src.iterdir()) == before
