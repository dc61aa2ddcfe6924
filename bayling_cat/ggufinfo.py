"""What a GGUF file tells bayling-cat about its model: the same ModelInfo a converted CTranslate2 folder carries
in bayling_cat.json.

A GGUF written by ``bayling-cat convert --format gguf`` stores that ModelInfo as JSON under the metadata key
``bayling_cat.metadata`` (the chat template stays in the standard ``tokenizer.chat_template``). Any other GGUF
(the default Gemma file, SmolLM2's, a community BayLing conversion) is read from its standard keys: the chat template,
the BOS/EOS/EOT token ids, the context length and ``general.name``.

No llama.cpp and no gguf package here: callers pass the metadata as strings and a way to name a token id.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Mapping

from bayling_cat.errors import ModelError
from bayling_cat.modelinfo import ModelInfo
from bayling_cat.templates import TEMPLATE_NAMES

METADATA_KEY = "bayling_cat.metadata"
CHAT_TEMPLATE_KEY = "tokenizer.chat_template"
GGUF_MAGIC = b"GGUF"


def is_gguf(path: str | Path) -> bool:
    """A file that starts with GGUF's magic bytes."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == GGUF_MAGIC
    except OSError:
        return False


def metadata_json(info: ModelInfo) -> str:
    """ModelInfo as stored in a converted GGUF; the chat template lives in the standard key instead."""
    data = asdict(info)
    data.pop("chat_template", None)
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _int(meta: Mapping[str, str], key: str) -> int | None:
    value = meta.get(key)
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def info_from_metadata(path: Path, meta: Mapping[str, str], token_text: Callable[[int], str],
                       has_token: Callable[[str], bool], template: str | None = None) -> ModelInfo:
    """The ModelInfo of the GGUF file at ``path`` from its metadata (key -> value as text).

    ``token_text(id)`` names a token, ``has_token(text)`` says whether the vocabulary has that token;
    ``template`` overrides the template the metadata would choose (convert --template)."""
    arch = meta.get("general.architecture", "llama")
    context = _int(meta, f"{arch}.context_length") or 2048
    chat_template = meta.get(CHAT_TEMPLATE_KEY) or None
    stored = meta.get(METADATA_KEY)
    if stored and template is None:
        try:
            data = json.loads(stored)
            known = {k: v for k, v in data.items() if k in ModelInfo.__dataclass_fields__}
            info = ModelInfo(**known)
        except (ValueError, TypeError) as exc:
            raise ModelError(f"{path}: unreadable {METADATA_KEY} metadata ({exc})") from None
        if info.template == "chat":
            info.chat_template = chat_template
        return info

    def named(key):
        i = _int(meta, key)
        return token_text(i) if i is not None and i >= 0 else None

    bos, eos, eot = named("tokenizer.ggml.bos_token_id"), named("tokenizer.ggml.eos_token_id"), \
        named("tokenizer.ggml.eot_token_id")
    name = meta.get("general.name") or path.stem
    said = f"{name} {path.name}".lower()
    # the same choice as convert.choose_template, from what a GGUF carries
    if template is None:  # a base model without a chat template (the default Gemma 3 270M) gets few-shot prompts
        template = ("bayling-llama3" if "llama-3" in said or "llama3" in said or has_token("<|eot_id|>")
                    else "bayling") if "bayling" in said else "chat" if chat_template else "fewshot"
    if template and template.startswith("bayling"):
        if template == "bayling-llama3":
            bos, add_bos, ends = "<|begin_of_text|>", True, ["<|eot_id|>", "<|end_of_text|>"]
        else:
            bos = "<s>" if has_token("<s>") else bos
            add_bos = True
            ends = ["</s>"] + ([eos] if eos and eos not in ("</s>", bos) else [])
    elif template == "chat" and chat_template:
        add_bos = False
        ends = [t for t in dict.fromkeys([eos, eot]) if t]
    elif template == "fewshot":  # a base model: BOS as its tokenizer says (Gemma adds it), its own end tokens
        add_bos = bool(bos) and str(meta.get("tokenizer.ggml.add_bos_token", "true")).lower() != "false"
        ends = [t for t in dict.fromkeys([eos, eot]) if t]
    else:
        raise ModelError(f"{path}: this GGUF has no chat template and is not a BayLing model: convert it with "
                         f"bayling-cat convert {path} --format gguf --template bayling -o DIR")
    if template not in TEMPLATE_NAMES:
        raise ModelError(f"unknown template {template!r} (known: {', '.join(TEMPLATE_NAMES)})")
    if not ends:
        raise ModelError(f"{path}: the GGUF names no end-of-sequence token")
    missing = [t for t in ends + ([bos] if add_bos and bos else []) if not has_token(t)]
    if missing:
        raise ModelError(f"{path}: the vocabulary lacks the {template!r} template's tokens {missing}")
    file_type = _int(meta, "general.file_type")
    return ModelInfo(template=template, bos_token=bos, add_bos=add_bos, end_tokens=ends, source=str(path),
                     quantization=FILE_TYPES.get(file_type, f"gguf type {file_type}") if file_type is not None
                     else "gguf", architecture=arch, context_length=context,
                     chat_template=chat_template if template == "chat" else None, eos_token=eos, name=name)


# llama.cpp's llama_ftype values (general.file_type) for the names users know
FILE_TYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 10: "q2_k",
              11: "q3_k_s", 12: "q3_k_m", 13: "q3_k_l", 14: "q4_k_s", 15: "q4_k_m", 16: "q5_k_s", 17: "q5_k_m",
              18: "q6_k", 32: "bf16"}
