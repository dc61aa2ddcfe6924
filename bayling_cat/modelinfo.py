"""The metadata file a converted model folder carries, and checks that a folder is a usable model."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bayling_cat.errors import ModelError

METADATA_FILE = "bayling_cat.json"
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json", METADATA_FILE)


@dataclass
class ModelInfo:
    template: str
    bos_token: str | None
    add_bos: bool
    end_tokens: list[str]
    source: str
    quantization: str
    architecture: str = "LlamaForCausalLM"
    context_length: int = 2048
    chat_template: str | None = None
    eos_token: str | None = None
    name: str = ""
    converted_by: str = ""
    created: str = ""
    format: int = 1
    extra: dict = field(default_factory=dict)

    def write(self, folder: str | os.PathLike) -> None:
        path = Path(folder) / METADATA_FILE
        path.write_text(json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, folder: str | os.PathLike) -> "ModelInfo":
        path = Path(folder) / METADATA_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
            return cls(**known)
        except (OSError, ValueError, TypeError) as exc:
            raise ModelError(f"{path}: unreadable model metadata ({exc})") from None


def adaptation(info: "ModelInfo | None") -> dict | None:
    """What a model ``bayling-cat adapt`` made says about itself, in short (None for any other model): the base,
    the pairs it learned from, and its held-out chrF++ before and after. Shown wherever a translation says where
    it came from (/health, /v1/models, the workbench, reports, XLIFF)."""
    adapted = (getattr(info, "extra", None) or {}).get("adapted")
    if not isinstance(adapted, dict):
        return None
    held = adapted.get("held_out") or {}
    return {"base": adapted.get("base"), "pairs": (adapted.get("data") or {}).get("pairs"),
            "created": getattr(info, "created", None),
            "held_out_chrf": {"before": (held.get("before") or {}).get("chrf++"),
                              "after": (held.get("after") or {}).get("chrf++"), "gain": held.get("chrf++_gain")}}


def describe(name: str, info: "ModelInfo | None") -> str:
    """A model's name as people read it: "django-de (adapted from gemma-3-270m-int8)" for an adapted one."""
    about = adaptation(info)
    return f"{name} (adapted from {about['base']})" if about else name


def credit(name: str, info: "ModelInfo | None") -> str:
    """What files credit machine output to (XLIFF alt-trans and mtc:match origin, SDLXLIFF origin-system):
    bayling-cat, and an adapted model by name and base ("bayling-cat django-de (adapted from ...)")."""
    return f"bayling-cat {describe(name, info)}" if adaptation(info) else "bayling-cat"


def check_model_folder(folder: str | os.PathLike) -> Path:
    """Return the folder if it is a complete converted model, else raise a ModelError saying what to do."""
    path = Path(folder).expanduser()
    if not path.exists():
        raise ModelError(f"{path}: no such model folder")
    if path.is_file():
        if path.suffix == ".gguf":
            raise ModelError(f"{path}: a GGUF file must be converted first: bayling-cat convert {path} -o MODEL_DIR")
        raise ModelError(f"{path}: not a model folder")
    missing = [f for f in REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        if (path / "config.json").is_file() and not (path / "model.bin").is_file():
            raise ModelError(
                f"{path}: a Hugging Face checkpoint, not a converted model: "
                f"bayling-cat convert {path} -o MODEL_DIR"
            )
        raise ModelError(f"{path}: not a converted bayling-cat model (missing {', '.join(missing)})")
    return path


def folder_size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
