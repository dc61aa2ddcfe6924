"""LoRA fine-tuning of the base model on the training examples (torch, transformers and peft: conversion-side
libraries; the translation runtime never imports this module).

Only the answer's tokens are scored: the decoder runs over prompt and answer, and the output layer (on a
small model with a large vocabulary, most of the arithmetic) is applied to the answer positions alone.
Examples of similar length are batched together, at most ``batch_tokens`` tokens (padding included) per
forward pass, so memory stays bounded whatever the data; gradients are accumulated to ``batch_size``
examples per optimizer step.

A checkpoint (the LoRA weights, the optimizer, the step) is written every few minutes and on Ctrl-C into
the checkpoint folder; the same command again resumes from it when the data and the options are the same.
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bayling_cat.errors import UserError

# the linear layers LoRA adapts: attention and MLP projections of Llama, Mistral, Gemma 3, Qwen and the like
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class TrainOptions:
    epochs: float = 2.0
    max_steps: int | None = None  # at most this many optimizer steps (a quick trial, the tests)
    learning_rate: float = 3e-4
    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    batch_size: int = 16  # examples per optimizer step
    batch_tokens: int = 2048  # tokens per forward pass, padding included (bounds memory)
    warmup: float = 0.06  # share of the steps with a rising learning rate
    seed: int = 1

    def key(self) -> dict:
        return asdict(self)


class Interrupted(Exception):
    """Ctrl-C during training: the checkpoint is written; the same command resumes."""


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda: torch sees no CUDA GPU on this machine (a CUDA build of torch is needed: "
                        "docs/adapt.md)")
    return device


def load_weights(source: Path | str):
    """The base model's weights for training, in float32: a Hugging Face checkpoint (folder or hub id) or a
    GGUF file (dequantized by transformers), and its Hugging Face tokenizer (saved beside the merged model for
    the CTranslate2 converter)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(str(source)).expanduser()
    try:
        if path.is_file():
            model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
            model.hf_quantizer = None  # dequantized already; transformers would refuse to save it otherwise
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            if hasattr(model, "is_quantized"):
                model.is_quantized = False
        else:
            model = AutoModelForCausalLM.from_pretrained(str(source), dtype=torch.float32)
            tokenizer = AutoTokenizer.from_pretrained(str(source))
    except (OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"{source}: cannot load the base model's weights for training "
                        f"({str(exc).splitlines()[0][:200]})") from None
    return model, tokenizer


def batches(lengths: list[int], options: TrainOptions, epoch: int) -> list[list[int]]:
    """One epoch's micro-batches (indices into the examples): similar lengths together, at most
    ``batch_tokens`` tokens each, in an order drawn from the seed and the epoch."""
    rng = random.Random(options.seed * 1000 + epoch)
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    out, current = [], []
    for i in order:
        width = max([lengths[j] for j in current] + [lengths[i]])
        if current and (width * (len(current) + 1) > options.batch_tokens or len(current) >= options.batch_size):
            out.append(current)
            current = []
        current.append(i)
    if current:
        out.append(current)
    rng.shuffle(out)
    return out


def steps(batches_: list[list[int]], batch_size: int) -> list[list[list[int]]]:
    """Micro-batches grouped into optimizer steps of about ``batch_size`` examples."""
    out, current, count = [], [], 0
    for b in batches_:
        current.append(b)
        count += len(b)
        if count >= batch_size:
            out.append(current)
            current, count = [], 0
    if current:
        out.append(current)
    return out


@dataclass
class Plan:
    """Every optimizer step of the run, each a list of micro-batches."""

    steps: list[list[list[int]]]
    epochs: int

    @classmethod
    def make(cls, lengths: list[int], options: TrainOptions) -> "Plan":
        whole = math.ceil(options.epochs)
        plan: list = []
        for epoch in range(whole):
            epoch_steps = steps(batches(lengths, options, epoch), options.batch_size)
            if epoch == whole - 1 and options.epochs < whole:  # a fraction of an epoch
                epoch_steps = epoch_steps[:max(1, round(len(epoch_steps) * (options.epochs - epoch)))]
            plan += epoch_steps
        if options.max_steps is not None:
            plan = plan[:options.max_steps]
        return cls(plan, whole)


class Trainer:
    """The LoRA model on its device, the optimizer, and the checkpoint folder."""

    def __init__(self, model, examples, options: TrainOptions, device: str, checkpoint: Path, fingerprint: dict):
        import torch
        from peft import LoraConfig, get_peft_model

        self.torch = torch
        torch.manual_seed(options.seed)
        present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        targets = [t for t in TARGET_MODULES if t in present]
        if not targets:
            raise UserError(f"the base model has none of the layers LoRA adapts ({', '.join(TARGET_MODULES)})")
        config = LoraConfig(r=options.rank, lora_alpha=options.alpha, lora_dropout=options.dropout,
                            target_modules=targets, bias="none", task_type="CAUSAL_LM")
        model.config.use_cache = False
        self.model = get_peft_model(model, config).to(device)
        self.device = device
        self.examples = examples
        self.options = options
        self.plan = Plan.make([e.length for e in examples], options)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=options.learning_rate, weight_decay=0.0)
        total = len(self.plan.steps)
        warm = max(1, int(total * options.warmup))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
        self.checkpoint = checkpoint
        self.fingerprint = fingerprint
        self.step = 0
        self.losses: list[float] = []
        self.seconds = 0.0
        self._stop = False  # set by Ctrl-C: the step running finishes, then the checkpoint is written

    # -- checkpoint ---------------------------------------------------------------------------------------

    def resume(self) -> bool:
        """Load the checkpoint if it was made from the same examples and options; True if it was. A checkpoint
        that cannot be read is taken as none (training starts afresh)."""
        folder = self.checkpoint
        if not (folder / "state.json").is_file():  # a kill between the two renames of save(): the previous one
            folder = self.checkpoint.with_name(self.checkpoint.name + ".old")
        try:
            state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return False
        if state.get("fingerprint") != self.fingerprint:
            return False
        from peft import set_peft_model_state_dict

        torch = self.torch
        try:
            adapter = torch.load(folder / "adapter.pt", map_location=self.device)
            optimizer = torch.load(folder / "optimizer.pt", map_location=self.device)
            rng = torch.load(folder / "rng.pt")
            # the optimizer first: its checks fail before anything is changed; the weights last
            self.optimizer.load_state_dict(optimizer)
            self.scheduler.load_state_dict(state["scheduler"])
            set_peft_model_state_dict(self.model, adapter)
        except (OSError, RuntimeError, ValueError, KeyError, EOFError):
            return False  # a damaged checkpoint: training starts afresh
        torch.set_rng_state(rng["cpu"])
        if rng.get("cuda") is not None and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])
        self.step, self.losses, self.seconds = state["step"], state["losses"], state["seconds"]
        return True

    def save(self) -> None:
        """The checkpoint, written beside and then renamed over the last one (a kill mid-write leaves the
        previous checkpoint whole)."""
        import os
        import shutil

        from peft import get_peft_model_state_dict

        torch = self.torch
        tmp = self.checkpoint.with_name(self.checkpoint.name + ".writing")
        try:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            torch.save(get_peft_model_state_dict(self.model), tmp / "adapter.pt")
            torch.save(self.optimizer.state_dict(), tmp / "optimizer.pt")
            # the random state (CPU and CUDA) as the next step starts: dropout goes on as it would have
            torch.save({"cpu": torch.get_rng_state(),
                        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None},
                       tmp / "rng.pt")
            state = {"fingerprint": self.fingerprint, "step": self.step, "steps": len(self.plan.steps),
                     "losses": self.losses, "seconds": self.seconds, "scheduler": self.scheduler.state_dict()}
            (tmp / "state.json").write_text(json.dumps(state), encoding="utf-8")
            old = self.checkpoint.with_name(self.checkpoint.name + ".old")
            shutil.rmtree(old, ignore_errors=True)
            if self.checkpoint.exists():
                os.replace(self.checkpoint, old)
            os.replace(tmp, self.checkpoint)
            shutil.rmtree(old, ignore_errors=True)
        except (OSError, RuntimeError) as exc:  # a full disk: torch.save raises RuntimeError
            shutil.rmtree(tmp, ignore_errors=True)
            raise UserError(f"{self.checkpoint}: cannot write the training checkpoint "
                            f"({str(exc).splitlines()[0][:200]})") from None

    @property
    def done(self) -> bool:
        return self.step >= len(self.plan.steps)

    # -- training -----------------------------------------------------------------------------------------

    def loss(self, batch: list[int]):
        """Summed cross-entropy of the answers' tokens in one micro-batch, and how many tokens it scored."""
        torch = self.torch
        rows = [self.examples[i] for i in batch]
        width = max(r.length for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        positions, labels = [], []
        for n, r in enumerate(rows):
            seq = r.prompt + r.answer
            ids[n, :len(seq)] = torch.tensor(seq)
            mask[n, :len(seq)] = 1
            start = len(r.prompt)
            # the hidden state at position p predicts token p + 1
            positions += [(n, p) for p in range(start - 1, len(seq) - 1)]
            labels += r.answer
        causal = self.model.get_base_model()
        hidden = causal.get_decoder()(input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
                                      ).last_hidden_state
        rows_i = torch.tensor([p[0] for p in positions], device=self.device)
        cols_i = torch.tensor([p[1] for p in positions], device=self.device)
        logits = causal.get_output_embeddings()(hidden[rows_i, cols_i])
        cap = getattr(causal.config, "final_logit_softcapping", None)
        if cap:
            logits = torch.tanh(logits / cap) * cap
        target = torch.tensor(labels, device=self.device)
        return torch.nn.functional.cross_entropy(logits.float(), target, reduction="sum"), len(labels)

    def run(self, on_step=lambda step, loss: None, save_every: float = 300.0) -> None:
        """Train to the end of the plan from the current step; ``on_step(step, loss)`` after each step. Ctrl-C
        lets the step running finish (a step is never half applied), writes the checkpoint and raises
        Interrupted."""
        import signal
        import threading

        self.model.train()
        self._stop = False
        handler = None
        if threading.current_thread() is threading.main_thread():
            handler = signal.signal(signal.SIGINT, lambda *_: setattr(self, "_stop", True))
        try:
            self._steps(on_step, save_every)
        finally:
            if handler is not None:
                signal.signal(signal.SIGINT, handler)

    def _steps(self, on_step, save_every: float) -> None:
        last_save = time.monotonic()
        try:
            while not self.done:
                if self._stop:
                    raise KeyboardInterrupt
                started = time.monotonic()
                rng = self.torch.get_rng_state()  # put back if the step is cut short (below)
                micro = self.plan.steps[self.step]
                tokens = sum(sum(len(self.examples[i].answer) for i in b) for b in micro)
                total = 0.0
                for b in micro:
                    loss, _ = self.loss(b)
                    (loss / tokens).backward()
                    total += float(loss.detach())
                self.torch.nn.utils.clip_grad_norm_([p for p in self.model.parameters() if p.requires_grad], 1.0)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad(set_to_none=True)
                self.step += 1
                self.losses.append(round(total / tokens, 4))
                self.seconds += time.monotonic() - started
                on_step(self.step, total / tokens)
                if time.monotonic() - last_save > save_every and not self.done:
                    self.save()
                    last_save = time.monotonic()
        except KeyboardInterrupt:
            # Ctrl-C outside the main thread cuts a step short: its gradients are dropped, the weights were not
            # touched yet, and the random state goes back to the step's start, so the step runs again as it was
            if "rng" in locals() and not self._stop:
                self.torch.set_rng_state(rng)
            self.save()
            raise Interrupted() from None
        self.save()

    # -- after training -----------------------------------------------------------------------------------

    def deltas(self) -> dict[str, "object"]:
        """What LoRA adds to each adapted weight, by the weight's name in the base checkpoint (float32 numpy
        arrays, [out, in]): what a GGUF copy of the base gets added to its tensors."""
        out = {}
        for name, module in self.model.get_base_model().named_modules():
            if hasattr(module, "get_delta_weight") and hasattr(module, "lora_A") and "default" in module.lora_A:
                delta = module.get_delta_weight("default").detach().float().cpu().numpy()
                out[f"{name}.weight"] = delta
        return out

    def merged(self):
        """The base model with the LoRA weights merged in (a plain transformers model, on the CPU)."""
        self.model.eval()
        return self.model.merge_and_unload().to("cpu")
