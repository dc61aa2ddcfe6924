"""The adapted model as a model folder both engines load: CTranslate2 (``model.bin`` and the rest) and a GGUF
file beside it, both carrying the base model's prompt metadata plus what the adaptation was.

CTranslate2: the merged weights are saved as a Hugging Face checkpoint and converted by bayling-cat's own
``convert``; the base's ``tokenizer.json`` and prompt metadata are kept, so the adapted model encodes a
prompt token for token as the base does (and as training did).

GGUF from a GGUF base (the default model): the base file is copied tensor for tensor, and each adapted
weight is replaced by the base's own dequantized tensor plus the LoRA difference, stored as Q8_0 (the
difference is small: requantizing it to the base's 4-bit types would wash most of it out). Tensor names
come from gguf's own name map; llama-architecture GGUFs store the query and key rows permuted, and the
difference is permuted the same way. GGUF from a Hugging Face base: the merged checkpoint through
``convert --format gguf``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bayling_cat.errors import ConversionError
from bayling_cat.modelinfo import ModelInfo


def write_ctranslate2(merged, hf_tokenizer, base_folder: Path, info: ModelInfo, work: Path, out: Path,
                      quantization: str, say=lambda m: None) -> None:
    """The merged model converted for CTranslate2 into ``out``, with the base's tokenizer and ``info``."""
    from bayling_cat.convert import convert

    hf = work / "merged"
    merged.save_pretrained(str(hf))
    hf_tokenizer.save_pretrained(str(hf))
    convert(str(hf), out, quantization=quantization, template=info.template, name=info.name, force=True,
            progress=say)
    shutil.copyfile(base_folder / "tokenizer.json", out / "tokenizer.json")
    info.write(out)


def write_gguf(weights: Path, merged_checkpoint: Path, deltas: dict, info: ModelInfo, target: Path,
               say=lambda m: None) -> None:
    """The adapted model as one GGUF file at ``target``; its metadata names its own quantization (the CTranslate2
    folder's is in ``info``)."""
    from dataclasses import replace

    from bayling_cat.ggufinfo import is_gguf

    if Path(weights).is_file() and is_gguf(Path(weights)):
        from bayling_cat.convert_gguf import gguf_info

        say(f"writing {target.name}: the base GGUF with {len(deltas)} adapted tensors (Q8_0)")
        mixed = f"{gguf_info(Path(weights)).quantization}+q8_0"  # the base's own types, the adapted tensors Q8_0
        _patched_copy(Path(weights), deltas, replace(info, quantization=mixed), target)
        return
    info = replace(info, quantization="q8_0")
    from bayling_cat.convert import convert_to_gguf

    folder = target.parent / ".gguf-work"
    convert_to_gguf(str(merged_checkpoint), folder, "q8_0", template=info.template, name=info.name, force=True,
                    progress=say)
    built = next(folder.glob("*.gguf"))
    from bayling_cat.convert_gguf import copy_gguf

    copy_gguf(built, target, info)  # the adaptation's metadata with the base's prompt metadata
    shutil.rmtree(folder)


def _patched_copy(base: Path, deltas: dict, info: ModelInfo, target: Path) -> None:
    import numpy as np

    from bayling_cat.convert_gguf import _gguf, _permute, copy_gguf, read_metadata

    gguf = _gguf()
    reader, meta, _ = read_metadata(base)
    arch_name = meta.get("general.architecture", "llama")
    arch = next((a for a, n in gguf.MODEL_ARCH_NAMES.items() if n == arch_name), None)
    blocks = int(meta.get(f"{arch_name}.block_count", 0))
    if arch is None or not blocks:
        raise ConversionError(f"{base}: unknown GGUF architecture {arch_name!r}: cannot place the adapted weights")
    names = gguf.get_tensor_name_map(arch, blocks)
    heads = int(meta.get(f"{arch_name}.attention.head_count", 0) or 0)
    kv_heads = int(meta.get(f"{arch_name}.attention.head_count_kv", 0) or heads)
    wanted = {}
    for hf_name, delta in deltas.items():
        name = names.get_name(hf_name, try_suffixes=(".weight",))
        if name is None:
            raise ConversionError(f"{base}: no GGUF tensor for the adapted weight {hf_name}")
        if arch_name == "llama" and name.endswith(("attn_q.weight", "attn_k.weight")):
            delta = _permute(delta, heads, kv_heads if name.endswith("attn_k.weight") else heads)
        wanted[name] = delta
    q8 = gguf.GGMLQuantizationType.Q8_0
    replace = {}
    for tensor in reader.tensors:
        if tensor.name in wanted:
            weight = gguf.quants.dequantize(tensor.data, tensor.tensor_type).astype(np.float32)
            delta = wanted.pop(tensor.name)
            if weight.shape != delta.shape:
                raise ConversionError(f"{base}: {tensor.name} is {weight.shape}, the adapted weight {delta.shape}")
            replace[tensor.name] = (gguf.quants.quantize(weight + delta, q8), q8)
    if wanted:
        raise ConversionError(f"{base}: holds no tensor {sorted(wanted)[0]} for an adapted weight")
    copy_gguf(base, target, info, replace)
