"""Conversion: a Hugging Face checkpoint, a hub id, a BayLing-1 delta plus its LLaMA base, or a GGUF file in;
a CTranslate2 model folder with tokenizer.json and bayling_cat.json out.

This is the only module that imports torch and transformers, and only inside the functions that need them.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from bayling_cat import __version__
from bayling_cat.errors import ConversionError
from bayling_cat.modelinfo import ModelInfo
from bayling_cat.models import is_hub_id
from bayling_cat.templates import TEMPLATE_NAMES

QUANTIZATIONS = ("int8", "int8_float32", "int8_float16", "int8_bfloat16", "int16", "float16", "bfloat16", "float32")
# Decoder-only architectures that CTranslate2 converts and that the templates serve.
ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
                 "GemmaForCausalLM", "Gemma2ForCausalLM", "Gemma3ForCausalLM")

Progress = Callable[[str], None]


def _quiet_libraries() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _import_conversion_libraries():
    try:
        import ctranslate2.converters  # noqa: F401
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError as exc:
        raise ConversionError(
            f"conversion needs the 'convert' extra ({exc.name} is missing): pip install 'bayling-cat[convert]'"
        ) from None
    _quiet_libraries()


def _disk_error(exc: OSError, where: Path) -> ConversionError:
    if exc.errno == errno.ENOSPC:
        return ConversionError(f"{where}: disk full while writing the converted model; free space and run again")
    blocking = next((p for p in where.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        return ConversionError(f"{where}: cannot create the model folder ({blocking} is a file, not a folder)")
    return ConversionError(f"{where}: {exc.strerror or exc}")


@contextmanager
def _staging(output_dir: Path, force: bool):
    """Build the model in a hidden sibling folder and move it into place only when complete."""
    if output_dir.exists() and (not output_dir.is_dir() or any(output_dir.iterdir())):
        if not force:
            raise ConversionError(f"{output_dir}: already exists and is not empty (use --force to replace it)")
    parent = output_dir.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}.partial-", dir=parent))
    except OSError as exc:
        raise _disk_error(exc, output_dir) from None
    try:
        yield stage
        if output_dir.exists():
            if output_dir.is_dir():
                shutil.rmtree(output_dir)
            else:
                output_dir.unlink()
        os.replace(stage / "model", output_dir)
    except OSError as exc:
        raise _disk_error(exc, output_dir) from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _refuse_overlap(output: Path, read: Path, what: str) -> None:
    """--force replaces the output folder: it must not be, or hold, what the conversion reads."""
    if output == read or output in read.parents:
        raise ConversionError(f"{output}: the output folder would replace {what} it is converted from ({read}); "
                              "choose another output folder")


def _download(repo_id: str, progress: Progress) -> Path:
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ConversionError("downloading needs huggingface_hub: pip install 'bayling-cat[convert]'") from None
    progress(f"downloading {repo_id} from the Hugging Face hub")
    try:
        return Path(snapshot_download(
            repo_id, allow_patterns=["*.json", "*.safetensors", "*.bin", "*.model", "*.txt", "*.jinja", "*.py"]))
    except Exception as exc:  # offline, unknown repo, gated repo: huggingface_hub has many error types
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConversionError(
            f"{repo_id}: cannot download from the Hugging Face hub ({reason[:200]}); check the network, or "
            "download the checkpoint elsewhere and pass its local folder"
        ) from None


def _locate(source: str, progress: Progress) -> Path:
    path = Path(source).expanduser()
    if path.exists():
        return path
    if is_hub_id(source):
        return _download(source, progress)
    raise ConversionError(f"{source}: no such file or folder (and not a hub id such as ICTNLP/bayling-2-7b)")


def _check_architecture(folder: Path) -> dict:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ConversionError(f"{folder}: not a Hugging Face checkpoint (no config.json) and not a .gguf file")
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{config_path}: unreadable ({exc})") from None
    arch = (config.get("architectures") or ["(none)"])[0]
    if arch not in ARCHITECTURES:
        raise ConversionError(f"{folder}: architecture {arch} is not supported (supported: {', '.join(ARCHITECTURES)})")
    return config


def _load_gguf(path: Path, work: Path, progress: Progress) -> tuple[Path, object]:
    """Dequantize a GGUF file with transformers and save it as an ordinary checkpoint in ``work``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    progress(f"reading {path.name} (GGUF) with transformers")
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise ConversionError("reading GGUF files needs the gguf package: pip install 'bayling-cat[convert]'") from None
    # float32 keeps small models exact; large ones are loaded in half precision to fit in memory.
    dtype = torch.float32 if path.stat().st_size < 2 * 1024**3 else torch.float16
    with open(path, "rb") as fh:
        if fh.read(4) != b"GGUF":
            raise ConversionError(f"{path}: not a GGUF file (it does not start with the GGUF magic bytes)")
    try:
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=dtype)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    except Exception as exc:  # a truncated or exotic file fails deep inside transformers in many ways
        raise ConversionError(f"{path}: transformers cannot read this GGUF file ({str(exc).splitlines()[0][:200]})") \
            from None
    arch = (getattr(model.config, "architectures", None) or [type(model).__name__])[0]
    if arch not in ARCHITECTURES:
        raise ConversionError(f"{path}: architecture {arch} is not supported (supported: {', '.join(ARCHITECTURES)})")
    # transformers marks GGUF-loaded models as quantized and refuses to save them; the weights are
    # already dequantized, so the marks can go.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    hf = work / "checkpoint"
    model.save_pretrained(str(hf))
    tokenizer.save_pretrained(str(hf))
    return hf, tokenizer


def _apply_delta(delta: Path, base: Path, work: Path, progress: Progress) -> Path:
    """BayLing-1 weights = LLaMA-1 base + published delta, parameter by parameter (fp16)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _check_architecture(delta)
    _check_architecture(base)
    progress(f"loading the delta {delta} and the base {base}")
    target = AutoModelForCausalLM.from_pretrained(str(delta), dtype=torch.float16, low_cpu_mem_usage=True)
    base_model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float16, low_cpu_mem_usage=True)
    base_state = base_model.state_dict()
    progress("adding the delta to the base weights")
    with torch.no_grad():
        for name, param in target.state_dict().items():
            if name not in base_state or base_state[name].shape != param.shape:
                raise ConversionError(f"{base}: does not match the delta {delta} (parameter {name}); "
                                      "--base must be the original LLaMA weights the delta was made from")
            param.add_(base_state[name])
    del base_model, base_state
    hf = work / "checkpoint"
    target.save_pretrained(str(hf))
    AutoTokenizer.from_pretrained(str(delta)).save_pretrained(str(hf))
    return hf


def _own_name(source: str) -> str:
    """The model's own name in SOURCE: a hub id's repository name, a folder's last component, a GGUF file's stem.
    Never a parent folder: ~/work/bayling-cat/models/my-llama is "my-llama"."""
    path = Path(source).expanduser()
    if not path.exists() and is_hub_id(source):
        return source.rstrip("/").split("/")[-1]
    try:
        path = path.resolve()
    except (OSError, RuntimeError):
        pass
    return path.stem if path.suffix.lower() == ".gguf" else path.name


def model_names(source: str, config: dict | None = None, gguf_name: str | None = None) -> list[str]:
    """Every name the model gives itself: SOURCE's own name, the config's ``_name_or_path`` (the hub id or
    folder it was saved from; its last component) and a GGUF file's ``general.name``."""
    names = [_own_name(source)]
    saved_from = str((config or {}).get("_name_or_path") or "").rstrip("/\\")
    if saved_from:
        names.append(re.split(r"[/\\]", saved_from)[-1])
    if gguf_name:
        names.append(gguf_name)
    return [n for n in names if n]


def _gguf_name(path: Path) -> str | None:
    try:
        from gguf import GGUFReader

        field = GGUFReader(str(path)).get_field("general.name")
        return str(field.contents()) if field is not None else None
    except Exception:  # no gguf package, or metadata it cannot read: the file name still counts
        return None


def _missing_tokens(template: str, tokenizer, hf: Path | None = None) -> list[str]:
    """What ``tokenizer`` lacks for ``template`` (empty: the template fits)."""
    if template == "chat" and not getattr(tokenizer, "chat_template", None):
        return ["a chat template"]
    try:
        bos, add_bos, ends = _token_info(template, tokenizer, hf)
    except ConversionError:
        return ["an end-of-sequence token"]
    vocab = tokenizer.get_vocab()
    return [t for t in ends + ([bos] if add_bos and bos else []) if t not in vocab]


def fitting_templates(tokenizer, hf: Path | None = None) -> list[str]:
    return [t for t in TEMPLATE_NAMES if not _missing_tokens(t, tokenizer, hf)]


def _what_to_pass(tokenizer, hf: Path | None) -> str:
    fits = fitting_templates(tokenizer, hf)
    if not fits:
        return "no template fits this tokenizer (none of its end tokens or chat template are there)"
    return "pass " + " or ".join(f"--template {t}" for t in fits)


def _load_tokenizer(hf: Path):
    """A checkpoint's tokenizer, or one line saying why it has none that can be used."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(hf))
    except (OSError, ValueError) as exc:
        raise ConversionError(f"{hf}: no usable tokenizer ({str(exc).splitlines()[0][:200]})") from None


def choose_template(source: str, tokenizer, names: list[str] | None = None, hf: Path | None = None) -> str:
    """BayLing-2 models: the ``### Instruction:`` template; BayLing on Llama-3: headers; others: chat template.

    Decided from the model's own names (``model_names``), never from the folders around it.
    """
    names = [n.lower() for n in (names or [_own_name(source)])]
    if any("bayling" in n for n in names):
        if any("llama-3" in n or "llama3" in n for n in names) or "<|eot_id|>" in tokenizer.get_vocab():
            return "bayling-llama3"
        return "bayling"
    if getattr(tokenizer, "chat_template", None):
        return "chat"
    # a base model (no chat template): few-shot translation prompts (fewshot.py)
    if not _missing_tokens("fewshot", tokenizer, hf):
        return "fewshot"
    raise ConversionError(f"{source}: the tokenizer has no chat template and the name {names[0]!r} is not a "
                          f"BayLing model's; {_what_to_pass(tokenizer, hf)}")


def pick_template(source: str, tokenizer, names: list[str] | None = None, hf: Path | None = None,
                  explicit: str | None = None, say: Progress = lambda message: None) -> str:
    """The template to convert with: ``explicit`` (--template) or ``choose_template``'s, checked against the
    tokenizer. A BayLing name over a tokenizer without that template's tokens falls back to the tokenizer's
    own chat template (saying so); otherwise the error says exactly which --template would fit."""
    chosen = explicit or choose_template(source, tokenizer, names, hf)
    missing = _missing_tokens(chosen, tokenizer, hf)
    if not missing:
        return chosen
    if explicit is None and not _missing_tokens("chat", tokenizer, hf):
        say(f"the name says BayLing but the tokenizer lacks the {chosen!r} template's tokens {missing}: using its "
            "own chat template (pass --template to choose another)")
        return "chat"
    raise ConversionError(f"{source}: the tokenizer lacks the {chosen!r} template's tokens {missing}; "
                          + _what_to_pass(tokenizer, hf))


def _token_info(template: str, tokenizer, hf: Path | None) -> tuple[str | None, bool, list[str]]:
    vocab = tokenizer.get_vocab()
    eos = tokenizer.eos_token
    if template == "bayling":
        # bayling-7b-diff sets bos (and unk) to </s> in special_tokens_map.json; LLaMA's BOS is <s>.
        bos = "<s>" if "<s>" in vocab else tokenizer.bos_token
        ends = ["</s>"] + ([eos] if eos and eos != "</s>" and eos != bos else [])
        return bos, True, ends
    if template == "bayling-llama3":
        return "<|begin_of_text|>", True, ["<|eot_id|>", "<|end_of_text|>"]
    ends = [eos] if eos else []
    # a base model's prompt starts with BOS when its tokenizer adds one (Gemma's does)
    add_bos = template == "fewshot" and bool(tokenizer.bos_token) and getattr(tokenizer, "add_bos_token", True)
    gen_config = hf / "generation_config.json" if hf is not None else None
    if gen_config is not None and gen_config.is_file():
        ids = json.loads(gen_config.read_text(encoding="utf-8")).get("eos_token_id")
        for i in ids if isinstance(ids, list) else [ids] if ids is not None else []:
            token = tokenizer.convert_ids_to_tokens(int(i))
            if token and token not in ends:
                ends.append(token)
    if not ends:
        raise ConversionError(f"{hf}: the tokenizer names no end-of-sequence token")
    return tokenizer.bos_token, bool(add_bos), ends


def convert(source: str, output_dir: str | os.PathLike, quantization: str = "int8", template: str | None = None,
            base: str | None = None, force: bool = False, name: str | None = None,
            progress: Progress = lambda message: None, fmt: str = "ctranslate2") -> ModelInfo:
    """Convert ``source`` into a CTranslate2 model folder at ``output_dir`` and return its metadata.

    ``fmt="gguf"``: a folder holding one GGUF file for the llama.cpp engine instead (see convert_to_gguf)."""
    if fmt == "gguf":
        return convert_to_gguf(source, output_dir, quantization, template, base, force, name, progress)
    if fmt != "ctranslate2":
        raise ConversionError(f"unknown format {fmt!r} (known: ctranslate2, gguf)")
    if quantization not in QUANTIZATIONS:
        raise ConversionError(f"unknown quantization {quantization!r} (known: {', '.join(QUANTIZATIONS)})")
    if template is not None and template not in TEMPLATE_NAMES:
        raise ConversionError(f"unknown template {template!r} (known: {', '.join(TEMPLATE_NAMES)})")
    output = Path(output_dir).expanduser().resolve()
    _import_conversion_libraries()
    from ctranslate2.converters import TransformersConverter
    from transformers import AutoTokenizer

    located = _locate(source, progress)
    base_path = _locate(base, progress) if base else None
    for what, path in (("the checkpoint", located), ("the base", base_path)):
        if path is not None:
            _refuse_overlap(output, path.resolve(), what)
    with _staging(output, force) as stage:
        work = stage / "work"
        work.mkdir()
        if located.is_file():
            if located.suffix.lower() != ".gguf":
                raise ConversionError(f"{located}: not a .gguf file or a checkpoint folder")
            hf, tokenizer = _load_gguf(located, work, progress)
        elif base_path is not None:
            hf = _apply_delta(located, base_path, work, progress)
            tokenizer = AutoTokenizer.from_pretrained(str(hf))
        else:
            _check_architecture(located)
            hf = located
            tokenizer = _load_tokenizer(hf)
        config = _check_architecture(hf)
        own = config if hf is located else _check_architecture(located) if located.is_dir() else {}
        names = model_names(source, own, _gguf_name(located) if located.is_file() else None)
        chosen = pick_template(source, tokenizer, names, hf, explicit=template, say=progress)
        bos, add_bos, ends = _token_info(chosen, tokenizer, hf)

        progress(f"converting to CTranslate2 ({quantization})")
        out = stage / "model"
        try:  # an OSError (full disk) goes to _staging, which names the folder and cleans up
            TransformersConverter(str(hf), low_cpu_mem_usage=True).convert(str(out), quantization=quantization,
                                                                           force=True)
        except (ValueError, NotImplementedError, RuntimeError, KeyError) as exc:
            raise ConversionError(f"{source}: CTranslate2 cannot convert it ({str(exc).splitlines()[0][:200]})") \
                from None
        tok_dir = work / "tokenizer"
        tokenizer.save_pretrained(str(tok_dir))
        if not (tok_dir / "tokenizer.json").is_file():
            raise ConversionError(f"{source}: no fast tokenizer (tokenizer.json) can be made from this checkpoint")
        shutil.copyfile(tok_dir / "tokenizer.json", out / "tokenizer.json")
        info = ModelInfo(
            template=chosen, bos_token=bos, add_bos=add_bos, end_tokens=ends, source=str(source),
            quantization=quantization, architecture=config["architectures"][0],
            context_length=int(config.get("max_position_embeddings") or 2048),
            chat_template=getattr(tokenizer, "chat_template", None) if chosen == "chat" else None,
            eos_token=tokenizer.eos_token, name=name or output.name, converted_by=f"bayling-cat {__version__}",
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            extra={"base": str(base)} if base else {},
        )
        info.write(out)  # written last: a folder without it is never taken for a model
        shutil.rmtree(work)
    progress(f"model ready in {output}")
    return info


def convert_to_gguf(source: str, output_dir: str | os.PathLike, quantization: str = "q4_k_m",
                    template: str | None = None, base: str | None = None, force: bool = False, name: str | None = None,
                    progress: Progress = lambda message: None) -> ModelInfo:
    """Convert ``source`` into ``output_dir/<folder name>.gguf`` for the llama.cpp engine: a Hugging Face Llama
    checkpoint (folder, hub id, BayLing-1 delta + base) is written as f16 and quantized with llama.cpp's
    quantizer; a GGUF source keeps its tensors and tokenizer, gains bayling-cat's metadata and is
    requantized."""
    from bayling_cat.convert_gguf import GGUF_QUANTIZATIONS, copy_gguf, gguf_info, quantize, write_checkpoint
    from bayling_cat.ggufinfo import is_gguf

    if quantization not in GGUF_QUANTIZATIONS:
        raise ConversionError(f"unknown GGUF quantization {quantization!r} (known: {', '.join(GGUF_QUANTIZATIONS)})")
    if template is not None and template not in TEMPLATE_NAMES:
        raise ConversionError(f"unknown template {template!r} (known: {', '.join(TEMPLATE_NAMES)})")
    output = Path(output_dir).expanduser().resolve()
    located = _locate(source, progress)
    base_path = _locate(base, progress) if base else None
    stamp = dict(converted_by=f"bayling-cat {__version__}",
                 created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                 extra={"base": str(base)} if base else {})
    with _staging(output, force) as stage:
        work = stage / "work"
        work.mkdir()
        (stage / "model").mkdir()
        target = stage / "model" / f"{output.name}.gguf"
        plain = work / "f16.gguf"
        if located.is_file():
            if not is_gguf(located):
                raise ConversionError(f"{located}: not a .gguf file or a checkpoint folder")
            info = gguf_info(located, template, name or output.name)
            info.source, info.quantization = str(source), quantization
            for key, value in stamp.items():
                setattr(info, key, value)
            progress(f"copying {located.name} with bayling-cat's metadata")
            copy_gguf(located, plain, info)
        else:
            _import_conversion_libraries()
            if base_path is not None:
                hf = _apply_delta(located, base_path, work, progress)
            else:
                _check_architecture(located)
                hf = located
            tokenizer = _load_tokenizer(hf)
            config = _check_architecture(hf)
            chosen = template or choose_template(source, tokenizer)
            bos, add_bos, ends = _token_info(chosen, tokenizer, hf)
            missing = [t for t in ends + ([bos] if add_bos and bos else []) if t not in tokenizer.get_vocab()]
            if missing:
                raise ConversionError(f"{source}: the tokenizer lacks the {chosen!r} template's tokens {missing}")
            info = ModelInfo(
                template=chosen, bos_token=bos, add_bos=add_bos, end_tokens=ends, source=str(source),
                quantization=quantization, architecture=config["architectures"][0],
                context_length=int(config.get("max_position_embeddings") or 2048),
                chat_template=getattr(tokenizer, "chat_template", None) if chosen == "chat" else None,
                eos_token=tokenizer.eos_token, name=name or output.name, **stamp)
            try:  # an OSError (full disk) goes to _staging, which names the folder and cleans up
                write_checkpoint(hf, config, info, plain, progress)
            except (ValueError, KeyError, RuntimeError) as exc:
                raise ConversionError(f"{source}: cannot write it as GGUF ({str(exc).splitlines()[0][:200]})") \
                    from None
        if quantization == "f16" and not located.is_file():
            os.replace(plain, target)
        else:
            quantize(plain, target, quantization, progress)
        shutil.rmtree(work)
    progress(f"model ready in {output / target.name}")
    return info
