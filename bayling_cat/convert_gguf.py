"""Writing GGUF files for the llama.cpp engine: from a Hugging Face Llama checkpoint, or from another GGUF.

The ``gguf`` package (llama.cpp's own Python writer) writes the file; llama.cpp's quantizer
(``llama_model_quantize``, through llama-cpp-python) turns the f16 file into q8_0, q5_k_m or q4_k_m.
We write the Llama tensors and tokenizer ourselves rather than run llama.cpp's convert_hf_to_gguf.py: that
script is not on PyPI (only in llama.cpp's source tree), and BayLing needs only the Llama architecture.
The tensor names come from gguf's own name map, and the vocabulary types from its vocab helpers.

Every file carries bayling-cat's ModelInfo (template, BOS, end tokens, source) as JSON under
``bayling_cat.metadata``, so the engine needs nothing beside the file.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Callable

from bayling_cat.errors import ConversionError
from bayling_cat.ggufinfo import CHAT_TEMPLATE_KEY, METADATA_KEY, info_from_metadata, metadata_json
from bayling_cat.modelinfo import ModelInfo

GGUF_QUANTIZATIONS = ("q4_k_m", "q5_k_m", "q8_0", "f16")
# llama.cpp's llama_ftype for each
FTYPES = {"f16": 1, "q8_0": 7, "q4_k_m": 15, "q5_k_m": 17}
GGUF_ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM")

# BPE pre-tokenizers llama.cpp knows, by the regular expression a tokenizer.json splits with
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")

Progress = Callable[[str], None]


def _gguf():
    try:
        import gguf
    except ImportError:
        raise ConversionError("writing GGUF files needs the gguf package: pip install 'bayling-cat[convert]'") \
            from None
    logging.getLogger("gguf").setLevel(logging.ERROR)
    return gguf


def gguf_name(output: Path) -> Path:
    """The file inside an output folder: named like the folder, so that --model DIR finds it."""
    return output / f"{output.name}.gguf"


# -- from another GGUF --------------------------------------------------------------------------------------

def read_metadata(path: Path):
    """A GGUF's metadata as text (what llama.cpp's llama_model_meta_val_str gives) and its token strings."""
    gguf = _gguf()
    try:
        reader = gguf.GGUFReader(str(path), "r")
    except (ValueError, OSError, IndexError) as exc:
        raise ConversionError(f"{path}: not a readable GGUF file ({str(exc)[:200]})") from None
    meta, tokens = {}, []
    for field in reader.fields.values():
        if field.name == "tokenizer.ggml.tokens":
            tokens = list(field.contents())
            continue
        if not field.types or field.types[0] == gguf.GGUFValueType.ARRAY:
            continue
        meta[field.name] = str(field.contents())
    return reader, meta, tokens


def gguf_info(path: Path, template: str | None = None, name: str | None = None) -> ModelInfo:
    """What bayling-cat knows about a GGUF file, as the engine reads it."""
    from bayling_cat.errors import ModelError

    _, meta, tokens = read_metadata(path)
    known = set(tokens)
    try:
        info = info_from_metadata(path, meta, lambda i: tokens[i] if 0 <= i < len(tokens) else "",
                                  known.__contains__, template=template)
    except ModelError as exc:
        raise ConversionError(str(exc)) from None
    if name:
        info.name = name
    return info


def copy_gguf(source: Path, target: Path, info: ModelInfo, replace: dict | None = None) -> None:
    """Copy a GGUF with bayling-cat's metadata added (tensors byte for byte, but those ``replace`` gives anew:
    name -> (data as gguf.quants makes it, its GGMLQuantizationType); ``bayling-cat adapt`` replaces the
    tensors it adapted)."""
    gguf = _gguf()
    reader, _, _ = read_metadata(source)
    arch = str(reader.fields["general.architecture"].contents()) if "general.architecture" in reader.fields \
        else "llama"
    writer = gguf.GGUFWriter(str(target), arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name in (gguf.Keys.General.ARCHITECTURE, METADATA_KEY) or field.name.startswith("GGUF."):
            continue
        if field.name == CHAT_TEMPLATE_KEY and info.chat_template:
            continue
        val_type = field.types[0]
        sub_type = field.types[-1] if val_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), val_type, sub_type=sub_type)
    _add_bayling_metadata(writer, info)
    replace = replace or {}
    data = [(t.name, *replace.get(t.name, (t.data, t.tensor_type))) for t in reader.tensors]
    for name, array, kind in data:
        writer.add_tensor_info(name, array.shape, array.dtype, array.nbytes, kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for _, array, _ in data:
        writer.write_tensor_data(array, tensor_endianess=reader.endianess)
    writer.close()


def _add_bayling_metadata(writer, info: ModelInfo) -> None:
    writer.add_string(METADATA_KEY, metadata_json(info))
    if info.chat_template:
        writer.add_chat_template(info.chat_template)


# -- from a Hugging Face checkpoint -------------------------------------------------------------------------

def write_checkpoint(hf: Path, config: dict, info: ModelInfo, target: Path, progress: Progress) -> None:
    """Write a Llama checkpoint folder (config.json, weights, tokenizer files) as an f16 GGUF."""
    gguf = _gguf()
    arch = (config.get("architectures") or ["(none)"])[0]
    if arch not in GGUF_ARCHITECTURES:
        raise ConversionError(f"{hf}: --format gguf converts {', '.join(GGUF_ARCHITECTURES)} checkpoints, not "
                              f"{arch}; convert it with llama.cpp's convert_hf_to_gguf.py and pass the .gguf file")
    writer = gguf.GGUFWriter(str(target), arch="llama", use_temp_file=True)
    n_layers = int(config["num_hidden_layers"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    writer.add_name(info.name)
    writer.add_context_length(int(config.get("max_position_embeddings") or info.context_length))
    writer.add_embedding_length(int(config["hidden_size"]))
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(int(config["intermediate_size"]))
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_layer_norm_rms_eps(float(config.get("rms_norm_eps", 1e-6)))
    writer.add_rope_freq_base(float(config.get("rope_theta", 10000.0)))
    writer.add_rope_dimension_count(int(config.get("head_dim") or int(config["hidden_size"]) // heads))
    scaling = config.get("rope_scaling") or {}
    kind = scaling.get("rope_type") or scaling.get("type")
    if kind == "linear":
        writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
        writer.add_rope_scaling_factor(float(scaling["factor"]))
    elif kind not in (None, "default"):
        raise ConversionError(f"{hf}: rope scaling {kind!r} is not supported by --format gguf; convert it with "
                              "llama.cpp's convert_hf_to_gguf.py and pass the .gguf file")
    writer.add_file_type(FTYPES["f16"])
    n_vocab = int(config["vocab_size"])
    writer.add_vocab_size(n_vocab)
    _write_vocab(writer, hf, n_vocab)
    _add_bayling_metadata(writer, info)
    progress("writing the GGUF tensors (f16)")
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.LLAMA, n_layers)
    seen = 0
    for name, tensor in _checkpoint_tensors(hf):
        if name.endswith("rotary_emb.inv_freq"):
            continue
        new = names.get_name(name, try_suffixes=(".weight", ".bias"))
        if new is None:
            raise ConversionError(f"{hf}: unexpected tensor {name} for a Llama model")
        if name.endswith("q_proj.weight"):
            tensor = _permute(tensor, heads, heads)
        elif name.endswith("k_proj.weight"):
            tensor = _permute(tensor, heads, kv_heads)
        data = tensor.float().numpy()
        # norms stay float32 as llama.cpp expects; matrices go to f16
        data = data.astype("float32" if data.ndim == 1 else "float16")
        writer.add_tensor(new, data)
        seen += 1
    if not seen:
        raise ConversionError(f"{hf}: no weights found (*.safetensors or pytorch_model*.bin)")
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def _permute(weights, n_head: int, n_head_kv: int):
    """Hugging Face's Llama checkpoints order the rotary halves of q and k differently from llama.cpp (the same
    reordering as llama.cpp's converter)."""
    if n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def _checkpoint_tensors(hf: Path):
    import torch

    files = sorted(hf.glob("*.safetensors"))
    if files:
        from safetensors import safe_open

        for path in files:
            with safe_open(str(path), framework="pt") as fh:
                for name in fh.keys():
                    yield name, fh.get_tensor(name)
        return
    for path in sorted(hf.glob("pytorch_model*.bin")):
        state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
        for name, tensor in state.items():
            yield name, tensor
        del state


def _write_vocab(writer, hf: Path, n_vocab: int) -> None:
    """The tokenizer in llama.cpp's terms: SentencePiece ("llama") or byte-level BPE ("gpt2")."""
    gguf = _gguf()
    T = gguf.TokenType
    if (hf / "tokenizer.model").is_file():
        vocab = gguf.SentencePieceVocab(hf)
        tokens, scores, types = (list(x) for x in zip(*vocab.all_tokens()))
        model, merges = "llama", False
    else:
        path = hf / "tokenizer.json"
        if not path.is_file():
            raise ConversionError(f"{hf}: no tokenizer.model or tokenizer.json to write into the GGUF")
        data = json.loads(path.read_text(encoding="utf-8"))
        bpe = data.get("model") or {}
        if bpe.get("type") != "BPE":
            raise ConversionError(f"{hf}: a {bpe.get('type')} tokenizer; --format gguf writes BPE and SentencePiece "
                                  "tokenizers")
        texts = {i: t for t, i in bpe["vocab"].items()}
        kinds = {}
        for added in data.get("added_tokens") or []:
            texts[added["id"]] = added["content"]
            kinds[added["id"]] = T.CONTROL if added.get("special") else T.USER_DEFINED
        size = max(texts) + 1
        tokens = [texts.get(i, f"[PAD{i}]") for i in range(size)]
        types = [kinds.get(i, T.NORMAL if i in texts else T.UNUSED) for i in range(size)]
        blob = json.dumps([data.get("pre_tokenizer"), data.get("decoder")])
        if "ByteLevel" in blob:
            model, merges, scores = "gpt2", True, None
            writer.add_tokenizer_pre(_pre_tokenizer(hf, data.get("pre_tokenizer") or {}))
        else:
            # a SentencePiece-style BPE (Metaspace, byte fallback): llama.cpp merges by score, so each token's
            # score is minus the rank of the merge that makes it: the same merges in the same order
            model, merges = "llama", False
            scores = [0.0] * size
            ids = bpe["vocab"]
            for rank, merge in enumerate(bpe.get("merges") or []):
                left, right = merge.split(" ", 1) if isinstance(merge, str) else merge
                i = ids.get(left + right)
                if i is not None and scores[i] == 0.0:
                    scores[i] = -float(rank + 1)
            for i, text in enumerate(tokens):
                if re.fullmatch(r"<0x[0-9A-Fa-f]{2}>", text):
                    types[i] = T.BYTE
            unk = bpe.get("unk_token")
            if unk in ids:
                types[ids[unk]] = T.UNKNOWN
            writer.add_add_space_prefix(_adds_space_prefix(data))
    if len(tokens) < n_vocab:  # a padded embedding matrix: the rows beyond the tokenizer are unused
        extra = n_vocab - len(tokens)
        tokens += [f"[PAD{i}]" for i in range(len(tokens), n_vocab)]
        types += [T.UNUSED] * extra
        if scores is not None:
            scores += [-1000.0] * extra
    elif len(tokens) > n_vocab:
        raise ConversionError(f"{hf}: the tokenizer has {len(tokens)} tokens, the model's embeddings only {n_vocab}")
    writer.add_tokenizer_model(model)
    writer.add_token_list([t.encode("utf-8") if isinstance(t, str) else t for t in tokens])
    if scores is not None:
        writer.add_token_scores(scores)
    writer.add_token_types(types)
    special = gguf.SpecialVocab(hf, load_merges=merges, n_vocab=n_vocab)
    special.chat_template = None  # the template bayling-cat chose is written with its metadata
    special.add_to_gguf(writer, quiet=True)


def _adds_space_prefix(data: dict) -> bool:
    blob = json.dumps([data.get("normalizer"), data.get("pre_tokenizer")])
    if '"Prepend"' in blob:
        return True
    m = re.search(r'"prepend_scheme": "(\w+)"', blob)
    if m:
        return m.group(1) != "never"
    m = re.search(r'"add_prefix_space": (true|false)', blob)
    return m is None or m.group(1) == "true"


def _pre_tokenizer(hf: Path, pre: dict) -> str:
    """llama.cpp's name for a byte-level BPE pre-tokenizer (it reimplements each one by name)."""
    blob = json.dumps(pre)
    regexes = re.findall(r'"Regex": "((?:[^"\\]|\\.)*)"', blob)
    regexes = [json.loads(f'"{r}"') for r in regexes]
    if LLAMA3_SPLIT in regexes:
        return "llama-bpe"
    if QWEN2_SPLIT in regexes:
        return "qwen2"
    if '"Digits"' in blob and '"individual_digits": true' in blob and '"ByteLevel"' in blob and not regexes:
        return "smollm"
    if pre.get("type") == "ByteLevel" and pre.get("use_regex", True):
        return "gpt-2"
    raise ConversionError(f"{hf}: llama.cpp does not know this tokenizer's pre-tokenizer; convert the checkpoint "
                          "with llama.cpp's convert_hf_to_gguf.py and pass the .gguf file")


# -- quantization -------------------------------------------------------------------------------------------

def quantize(source: Path, target: Path, quantization: str, progress: Progress) -> None:
    """llama.cpp's quantizer, as llama-cpp-python exposes it."""
    from bayling_cat.engines.llamacpp import import_llama_cpp
    from bayling_cat.errors import UserError

    try:
        llama_cpp = import_llama_cpp()
    except UserError as exc:
        raise ConversionError(f"quantizing to {quantization} needs llama.cpp's quantizer: {exc}") from None
    from bayling_cat.engines.base import cpu_cores
    from bayling_cat.engines.llamacpp import _init_backend, _last_log

    _init_backend(llama_cpp)
    progress(f"quantizing to {quantization} with llama.cpp")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = FTYPES[quantization]
    params.nthread = cpu_cores()
    params.allow_requantize = True  # a quantized GGUF source (the default model is Q4_1)
    rc = llama_cpp.llama_model_quantize(str(source).encode("utf-8"), str(target).encode("utf-8"), params)
    if rc != 0 or not target.is_file():
        raise ConversionError(f"{source}: llama.cpp could not quantize it to {quantization} ({_last_log()})")
