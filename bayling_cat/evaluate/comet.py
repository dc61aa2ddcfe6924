"""COMET scores from a model the user already has on disk (``--comet PATH``), through unbabel-comet (the
optional ``comet`` extra). Nothing is ever downloaded at run time: the Hugging Face libraries are put
offline before COMET loads, so a model whose encoder is not cached fails with one line instead."""

from __future__ import annotations

import os
from pathlib import Path

from bayling_cat.errors import UserError


def checkpoint(path: Path) -> Path:
    """The .ckpt file of a local COMET model: the file itself, or checkpoints/model.ckpt in its folder (the
    layout of a downloaded Unbabel/wmt22-comet-da)."""
    path = Path(path).expanduser()
    if path.is_file() and path.suffix == ".ckpt":
        return path
    if path.is_dir() and (path / "checkpoints" / "model.ckpt").is_file():
        return path / "checkpoints" / "model.ckpt"
    raise UserError(f"{path}: not a local COMET model (expected a .ckpt file or a folder holding "
                    "checkpoints/model.ckpt, e.g. a downloaded Unbabel/wmt22-comet-da); nothing is downloaded")


class Comet:
    """Checked when created (before any translation); loaded on the first scores, after the translation
    models are gone, so that a GPU never holds both."""

    def __init__(self, path: Path):
        self.path = path
        self.checkpoint = checkpoint(path)
        self.model = None
        try:
            import comet  # noqa: F401 - only whether it is installed
        except ImportError:
            raise UserError("--comet needs unbabel-comet: pip install 'bayling-cat[comet]'") from None

    def load(self):
        import comet

        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        try:
            return comet.load_from_checkpoint(str(self.checkpoint))
        except Exception as exc:  # noqa: BLE001 - torch, lightning and hub errors alike: one line
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
            raise UserError(f"{self.path}: cannot load the COMET model offline ({first})") from None

    def scores(self, sources, hypotheses, references) -> list[float]:
        """One score (0..1) per segment."""
        import torch

        if self.model is None:
            self.model = self.load()
        data = [{"src": s, "mt": h, "ref": r} for s, h, r in zip(sources, hypotheses, references)]
        out = self.model.predict(data, batch_size=16, gpus=1 if torch.cuda.is_available() else 0,
                                 progress_bar=False)
        return [float(x) for x in out.scores]
