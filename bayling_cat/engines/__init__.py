"""Engines: one module per backend behind the interface in ``base.py``, and the factory that picks one.

``ctranslate2.py`` is the CTranslate2 engine (batches, CUDA, CPU int8); ``llamacpp.py`` the llama.cpp engine
(GGUF files, one segment at a time on a CPU or Apple Metal). Nothing above this package knows which backend
runs: the CLI and the server call ``choose_engine`` and ``create_engine``. Neither backend's library is
imported until that backend is chosen.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from bayling_cat.errors import ModelError, UserError

ENGINE_NAMES = ("auto", "ctranslate2", "llamacpp")  # what --engine takes; "cluster" comes from --cluster
BATCH, INTERACTIVE = "batch", "interactive"  # what the engine is loaded for: documents, or a CAT tool waiting


@dataclass(frozen=True)
class EngineChoice:
    name: str  # "ctranslate2", "llamacpp" or "cluster"
    reason: str
    files: object  # models.ModelFiles (for a cluster: the --model value, resolved when the actors start)

    def describe(self) -> str:
        return f"engine {self.reason}" if self.name == "cluster" else f"engine {self.name} ({self.reason})"


@dataclass(frozen=True)
class ClusterSettings:
    """Where a cluster engine's model actors run (``--cluster``, ``--workers``, ...)."""

    address: str
    workers: int = 2
    gpus_per_worker: float = 0
    ship_model: bool = False



def llamacpp_installed() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


def cuda_for_ctranslate2() -> bool:
    try:
        import ctranslate2

        return ctranslate2.get_cuda_device_count() > 0
    except Exception:  # a broken CUDA install reads as no GPU here; CTranslate2 says more when it loads
        return False


def _can_convert() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("torch", "transformers"))


def choose_engine(engine: str, model: str | None, device: str = "auto", purpose: str = BATCH,
                  beam_size: int = 1, cluster: ClusterSettings | None = None) -> EngineChoice:
    """Which backend runs ``model`` and why (the decision table of docs/engines.md)."""
    from bayling_cat.models import model_files

    if engine not in ENGINE_NAMES:
        raise UserError(f"unknown engine {engine!r} (known: {', '.join(ENGINE_NAMES)})")
    if cluster is not None:  # the model is resolved (converted if need be) when the actors start
        if engine == "llamacpp":
            raise UserError("--cluster runs the CTranslate2 engine on its workers: leave out --engine llamacpp")
        return EngineChoice("cluster", f"ctranslate2 on a Ray cluster ({cluster.address}), {cluster.workers} model "
                                       "actors", model)
    files = model_files(model)
    if engine == "llamacpp":
        if files.gguf is None:
            raise ModelError(f"{files.ct2}: a CTranslate2 model; the llama.cpp engine runs GGUF files: "
                             f"bayling-cat convert SOURCE --format gguf -o DIR (then --model DIR)")
        if beam_size > 1:
            raise UserError(f"--beam-size {beam_size}: the llama.cpp engine decodes greedily or samples; beam search "
                            "needs --engine ctranslate2")
        return EngineChoice("llamacpp", "asked for with --engine", files)
    if engine == "ctranslate2":
        if files.ct2 is None and not files.default:
            raise ModelError(f"{files.gguf}: a GGUF file; the CTranslate2 engine needs it converted: "
                             f"bayling-cat convert {files.gguf} -o MODEL_DIR (or use --engine llamacpp)")
        return EngineChoice("ctranslate2", "asked for with --engine", files)
    has_ct2 = files.ct2 is not None
    can_ct2 = has_ct2 or files.default  # the default model is converted on first use
    llama = files.gguf is not None and llamacpp_installed()
    if device == "metal":
        if not llamacpp_installed():
            raise UserError('device metal needs the llama.cpp engine: CMAKE_ARGS="-DGGML_METAL=on" '
                            'pip install "bayling-cat[llamacpp]"')
        if files.gguf is None:
            raise ModelError(f"{files.ct2}: device metal runs GGUF models only: bayling-cat convert SOURCE "
                             "--format gguf -o DIR")
        return EngineChoice("llamacpp", "Apple Metal: CTranslate2 has no Metal backend", files)
    if not can_ct2:
        if beam_size > 1:
            raise UserError(f"--beam-size {beam_size}: {files.gguf} is a GGUF model, and the llama.cpp engine has no "
                            "beam search; convert it for CTranslate2 or use --beam-size 1")
        if files.gguf is not None and not llamacpp_installed():
            from bayling_cat.engines.llamacpp import INSTALL_HINT

            raise UserError(f"{files.gguf}: a GGUF model needs the llama.cpp engine: {INSTALL_HINT} "
                            f"(or convert it for CTranslate2: bayling-cat convert {files.gguf} -o DIR)")
        return EngineChoice("llamacpp", "the model is a GGUF file", files)
    if files.gguf is None:
        return EngineChoice("ctranslate2", "the model is a CTranslate2 folder", files)
    if beam_size > 1:
        return EngineChoice("ctranslate2", f"beam search (--beam-size {beam_size}) runs on CTranslate2", files)
    if device == "cuda" or (device == "auto" and cuda_for_ctranslate2()):
        return EngineChoice("ctranslate2", "CUDA GPU: CTranslate2 batches best there", files)
    if purpose == BATCH:
        if has_ct2:
            return EngineChoice("ctranslate2", "a document batch on the CPU, and the CTranslate2 model is there",
                                files)
        # the default model: bayling-cat converts it on first use, when the conversion libraries are there
        if not llama or _can_convert():
            return EngineChoice("ctranslate2", "a document batch on the CPU (the default model is converted for "
                                               "CTranslate2 on first use)", files)
        return EngineChoice("llamacpp", "a document batch, but torch is not installed to convert the default "
                                        "model for CTranslate2; llama.cpp runs its GGUF as it is", files)
    if llama:
        return EngineChoice("llamacpp", "interactive use on the CPU: llama.cpp answers one segment sooner", files)
    return EngineChoice("ctranslate2", "llama-cpp-python is not installed (pip install \"bayling-cat[llamacpp]\" "
                                       "for faster single segments)", files)


def create_engine(choice: EngineChoice, device: str = "auto", device_index: int | list[int] = 0,
                  compute_type: str = "auto", threads: int = 0, inter_threads: int = 1, decoding=None,
                  progress=lambda message: None, cluster: ClusterSettings | None = None):
    """Load the chosen backend on the chosen model (a cluster's: its actors started on the cluster)."""
    files = choice.files
    if choice.name == "cluster":
        from bayling_cat.engines.cluster import ClusterEngine
        from bayling_cat.models import resolve_model

        folder = resolve_model(files, progress=progress)  # for a cluster, ``files`` is the --model value
        return ClusterEngine(folder, address=cluster.address, workers=cluster.workers,
                             gpus_per_worker=cluster.gpus_per_worker, threads=threads or 1,
                             ship_model=cluster.ship_model, compute_type=compute_type, decoding=decoding, say=progress)
    if choice.name == "llamacpp":
        from bayling_cat.engines.llamacpp import Engine as LlamaEngine

        return LlamaEngine(files.gguf, device=device, threads=threads, inter_threads=inter_threads,
                           decoding=decoding)
    from bayling_cat.engines.ctranslate2 import Engine
    from bayling_cat.models import ensure_default_model

    folder = files.ct2 if files.ct2 is not None else ensure_default_model(progress, files.packaged)
    return Engine(folder, device=device, device_index=device_index, compute_type=compute_type, threads=threads,
                  inter_threads=inter_threads, decoding=decoding)
