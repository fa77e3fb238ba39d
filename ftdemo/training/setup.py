"""Run-time pieces of a training run: precision, threads, model, freezing, optimizer, schedule.

Each is a small function over a model or a config, so the loop in loop.py reads top to bottom.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Sequence
from typing import Any

import torch

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import TaskType

_LAYER = re.compile(r"\.(?:layer|layers|block|blocks|h)\.(\d+)\.")


def resolve_precision(precision: str, device: torch.device) -> str:
    """Pick fp32 / bf16 / fp16 for autocast. auto: bf16 on CUDA cards that have it, else fp16; fp32 off CUDA."""
    if precision == "auto":
        if device.type != "cuda":
            return "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp16" and device.type != "cuda":
        raise InvalidInputError("precision 'fp16' needs a CUDA GPU; use 'fp32' (or 'bf16' on a CPU that supports it)")
    return precision


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """Mixed-precision context for the forward pass; a no-op in fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


def card_token_budget(total_memory: int, hidden: int, layers: int, precision: str) -> int:
    """Padded tokens a training batch may hold on a GPU with `total_memory` bytes: a quarter of the card
    for the activations backward keeps, about 34 bytes x hidden size per token and layer in bf16/fp16
    (Korthikanti et al. 2022, "Reducing Activation Recomputation"; SDPA keeps no attention matrix),
    twice that in fp32. The rest holds the weights, AdamW's state and the allocator's slack."""
    per_token = (34 if precision in ("bf16", "fp16") else 68) * max(1, hidden) * max(1, layers)
    return max(1, int(0.25 * total_memory / per_token))


def cpu_threads(requested: int = 0) -> int:
    """Threads for CPU math: the request, else every core this process may run on.

    torch's default can exceed the cores a container grants (it reads the host), and
    oversubscribed threads thrash; the affinity mask is what we may actually use.
    """
    if requested:
        return requested
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS / Windows
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def torch_threads(device: torch.device, requested: int = 0) -> Iterator[None]:
    """On a CPU, torch's thread count is `cpu_threads(requested)` for the block; after it, whatever it was.
    torch's setting is process-wide, and a run in a thread of the app must not leave it changed."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(cpu_threads(requested))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def load_classifier(base_model: str, labels: Sequence[str], task: TaskType) -> Any:
    """A sequence classifier with our label maps and problem type in its config, SDPA attention.

    Safetensors only and no remote code: a base model is data, never something to execute.
    ignore_mismatched_sizes lets a previous classifier (other labels) serve as the base. The weights
    are always fp32, whatever dtype the checkpoint was saved in (transformers would keep a bf16 or fp16
    file's): they are the master copy AdamW updates, and bf16/fp16 reach the math only through autocast.
    """
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from ftdemo.models.loading import FROM_PRETRAINED

    problem = "multi_label_classification" if task.is_multi_label else "single_label_classification"
    try:
        config = AutoConfig.from_pretrained(
            base_model, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={lab: i for i, lab in enumerate(labels)}, problem_type=problem, trust_remote_code=False)
        with FROM_PRETRAINED:  # see models/loading.py: concurrent loads corrupt transformers' global state
            return AutoModelForSequenceClassification.from_pretrained(
                base_model, config=config, attn_implementation="sdpa", use_safetensors=True, trust_remote_code=False,
                ignore_mismatched_sizes=True, dtype=torch.float32)
    except (OSError, ValueError) as err:
        raise InvalidInputError(
            f"cannot load base model {base_model!r} (needs a local folder or, online, a Hub id with "
            f"safetensors weights): {str(err).splitlines()[0] if str(err) else type(err).__name__}") from err


def reinit_pooler(model: Any) -> bool:
    """Start the pooler (dense + tanh over [CLS]) from fresh random weights, like the new head; True if done.

    A BERT pooler was trained for next-sentence prediction, or for nothing at all in sentence-
    embedding checkpoints trained with mean pooling (the bundled MiniLM). Re-initialising it helps
    small-data fine-tuning (Zhang et al. 2021, "Revisiting Few-sample BERT Fine-tuning"; measured
    here in docs/benchmarks.md). Left alone: checkpoints that already are
    sequence classifiers (an earlier ftdemo version as the base: its pooler learnt the task) and
    models without a BERT-style pooler (RoBERTa's and DistilBERT's heads are new anyway).
    """
    if any(str(arch).endswith("ForSequenceClassification") for arch in (model.config.architectures or [])):
        return False
    base = getattr(model, getattr(model, "base_model_prefix", ""), None)
    dense = getattr(getattr(base, "pooler", None), "dense", None)
    if not isinstance(dense, torch.nn.Linear):
        return False
    with torch.no_grad():
        dense.weight.normal_(0.0, float(getattr(model.config, "initializer_range", 0.02)))
        if dense.bias is not None:
            dense.bias.zero_()
    return True


def layer_index(name: str, num_layers: int) -> int:
    """Depth of a parameter: 0 embeddings, 1..L transformer layers, L+1 pooler/head."""
    match = _LAYER.search("." + name)
    if match:
        return int(match.group(1)) + 1
    return 0 if "embed" in name else num_layers + 1


def freeze(model: Any, *, embeddings: bool, layers: int) -> int:
    """Freeze the embeddings and/or the lowest `layers` layers; returns the trainable parameter count.

    A model whose config does not say how many layers it has gets no layer freezing (a layer
    setting must never make an unusual architecture fail); asking for more layers than a model
    has is an error.
    """
    num_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if num_layers and layers > num_layers:
        raise InvalidInputError(f"freeze_layers={layers} but the model has only {num_layers} layers")
    layers = layers if num_layers else 0
    for name, param in model.named_parameters():
        depth = layer_index(name, num_layers)
        if (embeddings and depth == 0) or 1 <= depth <= layers:
            param.requires_grad_(False)
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def param_groups(model: Any, *, lr: float, weight_decay: float, layer_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: no weight decay for biases and norm weights (1-D tensors); layer-wise LR decay.

    Decaying a LayerNorm gain or a bias towards 0 only fights the normalisation; every
    matrix (including embeddings) is decayed as in BERT's recipe.
    """
    num_layers = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    groups: dict[tuple[float, float], list[torch.nn.Parameter]] = {}
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        scale = layer_decay ** (num_layers + 1 - layer_index(name, num_layers))
        decay = 0.0 if param.ndim < 2 or "norm" in name.lower() else weight_decay
        groups.setdefault((lr * scale, decay), []).append(param)
    return [{"params": ps, "lr": group_lr, "weight_decay": wd} for (group_lr, wd), ps in groups.items()]


def make_optimizer(groups: list[dict[str, Any]], device: torch.device) -> torch.optim.Optimizer:
    """AdamW, fused where torch has a fused kernel for the device (CUDA and, since torch 2.4, CPU).

    The fused step is the fastest AdamW on both (docs/benchmarks.md); other devices get foreach
    (one kernel per parameter group, not per tensor).
    """
    if device.type in ("cuda", "cpu"):
        try:
            return torch.optim.AdamW(groups, fused=True)
        except (RuntimeError, TypeError):  # pragma: no cover - old torch builds
            pass
    return torch.optim.AdamW(groups, foreach=True)


def warmup_linear(optimizer: torch.optim.Optimizer, warmup_steps: int, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warmup from 0 to the peak over warmup_steps, then linear decay to 0 at total_steps."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
