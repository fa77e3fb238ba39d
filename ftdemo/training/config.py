"""TrainConfig: every knob of one fine-tuning run, with documented defaults.

Validated in ``__post_init__`` with messages a user can act on: every option has a type and a range
(RANGES, the one table the CLI and the forms read too); ``to_dict`` / ``from_dict`` round-trip it
through metadata.json next to the saved model.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftdemo.errors import InvalidInputError

AUTO_EPOCHS_TARGET_STEPS, AUTO_EPOCHS_MIN, AUTO_EPOCHS_MAX = 100, 3, 20  # epochs=0 (see TrainConfig.epochs)

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
CLASS_WEIGHTS = ("none", "balanced")
# how self-training picks confident pseudo-labels (training/self_train.select_pseudo_labels), in words
PSEUDO_RULES: dict[str, str] = {
    "balanced_top_k": "per label, the most confident texts predicted as it, at most the same number for each",
    "threshold": "every text whose confidence reaches the threshold, most confident first",
}
MAX_EPOCHS = 200  # far past where early stopping ends a run; a bigger number only hangs the child process
MAX_BATCH = 4096
MAX_THREADS = 512  # more than any machine's cores; torch fails obscurely far above it
MAX_LAYERS = 256  # freeze_layers; the model itself refuses more than it has


@dataclass(frozen=True)
class Range:
    """The values an option may take, and how a message says them."""

    low: float
    high: float
    says: str  # completes "<option> must be ..."
    low_open: bool = False  # the bound itself is excluded
    high_open: bool = False

    def __contains__(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below  # NaN is neither


RANGES: dict[str, Range] = {
    "epochs": Range(0, MAX_EPOCHS, f"0 (automatic) or at least 1, and at most {MAX_EPOCHS}"),
    "learning_rate": Range(0, 1, "between 0 and 1 (e.g. 1e-4)", low_open=True, high_open=True),
    "batch_size": Range(1, MAX_BATCH, f"from 1 to {MAX_BATCH}"),
    "batch_tokens": Range(0, 2 ** 22, f"0 (automatic) or from 1 to {2 ** 22} tokens"),
    "max_batch_examples": Range(0, MAX_BATCH, f"0 (batch_size) or from 1 to {MAX_BATCH}"),
    "max_length": Range(8, 8192, "between 8 and 8192 tokens"),
    "weight_decay": Range(0, 1, "from 0 to 1"),
    "warmup_ratio": Range(0, 1, "in [0, 1)", high_open=True),
    "max_grad_norm": Range(0, 1000, "0 (off) or up to 1000"),
    "freeze_layers": Range(0, MAX_LAYERS, f"from 0 to {MAX_LAYERS}"),
    "layer_lr_decay": Range(0, 1, "in (0, 1] (1 = off)", low_open=True),
    "label_smoothing": Range(0, 1, "in [0, 1)", high_open=True),
    "early_stopping_patience": Range(0, MAX_EPOCHS, f"0 (never) or from 1 to {MAX_EPOCHS}"),
    "val_fraction": Range(0, 1, "between 0 and 1 (e.g. 0.1)", low_open=True, high_open=True),
    "test_fraction": Range(0, 1, "in [0, 1)", high_open=True),
    "seed": Range(0, 2 ** 32 - 1, f"from 0 to {2 ** 32 - 1} (32 bits)"),
    "num_threads": Range(0, MAX_THREADS, f"0 (all cores) or from 1 to {MAX_THREADS}"),
    "log_every": Range(1, 1_000_000, "from 1 to 1000000"),
    "multi_label_threshold": Range(0, 1, "between 0 and 1", low_open=True, high_open=True),
    "self_training_rounds": Range(0, 10, "0 (off) or from 1 to 10"),
    "pseudo_label_weight": Range(0, 1, "in (0, 1] (a gold label weighs 1)", low_open=True),
    "pseudo_label_threshold": Range(0.5, 1, "in [0.5, 1)", high_open=True),
    "pseudo_label_share": Range(0, 1, "in (0, 1]", low_open=True),
}


@dataclass
class TrainConfig:
    """How to fine-tune. The defaults are tuned for small labelled sets (hundreds to tens of
    thousands of short texts) on the bundled MiniLM; they also suit BERT-base on a GPU."""

    base_model: str = ""
    """Hub id (``bert-base-uncased``) or local directory; "" means the bundled all-MiniLM-L6-v2."""
    epochs: int = 0
    """Upper bound on passes over the training split; early stopping may end sooner. 0 = automatic:
    enough passes for about 100 optimizer steps, at least 3 and at most 20, because a small set needs
    many short epochs to learn at all and a larger one gains nothing from more (docs/benchmarks.md)."""
    learning_rate: float = 1e-4
    """Peak AdamW learning rate (after warmup). 1e-4 suits small encoders with few steps; use ~3e-5 for BERT-base."""
    batch_size: int = 32
    """Examples per training batch (at most; batches of long texts hold fewer, see ``batch_tokens``)."""
    batch_tokens: int = 0
    """Padded tokens per training batch (examples x longest length), the memory bound. 0: ``batch_size`` x
    the mean training length, so batches of longer-than-average texts hold fewer examples."""
    max_batch_examples: int = 0
    """Hard cap on examples per batch; 0 means ``batch_size``. Larger caps are a little faster, but a
    clipped step over many short texts makes each of them count less, which cost accuracy
    (docs/benchmarks.md)."""
    max_length: int = 256
    """Texts are truncated to this many tokens (pairs: longest-first)."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay; never applied to biases and LayerNorm weights."""
    warmup_ratio: float = 0.1
    """Fraction of all optimizer steps spent warming the learning rate up linearly from 0; then linear decay to 0."""
    max_grad_norm: float = 1.0
    """Gradient clipping threshold (L2 norm over all trainable parameters); 0 disables clipping."""
    class_weights: str = "none"
    """"balanced" weights the loss by inverse class frequency on the training split (multi-label: pos_weight)."""
    reinit_pooler: bool = True
    """Start the [CLS] pooler from random weights, like the new head: its pretrained weights served
    next-sentence prediction, or nothing (kept when the base model already is a sequence classifier)."""
    freeze_embeddings: bool = False
    """Keep the embedding tables fixed: no gradient or optimizer state for half of MiniLM's parameters,
    which is faster but cost accuracy on small sets (docs/benchmarks.md), so it is a speed option, off."""
    freeze_layers: int = 0
    """Freeze the lowest k transformer layers (0 = none); with frozen embeddings, backward then stops
    k layers early: a further speed option, off for the same reason."""
    layer_lr_decay: float = 1.0
    """Layer-wise LR decay: layer i from the top gets lr x decay**i (embeddings lowest). 1.0 = off."""
    label_smoothing: float = 0.0
    """Single-label/pair cross-entropy label smoothing (0 = off)."""
    early_stopping_patience: int = 2
    """Stop after this many epochs whose validation macro-F1 is clearly (more than one standard error)
    below the best so far; 0 = never. Dips within the noise of a small validation split do not count, and
    a split of under 50 rows (under ~500 labels) stops nothing: the run trains its whole schedule
    (training/stopping.py; measured in docs/benchmarks.md)."""
    val_fraction: float = 0.1
    """Share of examples (by id hash) in the validation split: model selection, thresholds, early stopping."""
    test_fraction: float = 0.1
    """Share in the test split: reported only, never used for training or selection. May be 0."""
    seed: int = 42
    """Seeds weight init of the new head, dropout, and batch order; the split does not depend on it."""
    device: str = "auto"
    """"auto" picks CUDA, then Apple MPS, then CPU."""
    precision: str = "auto"
    """"auto": bf16 autocast on CUDA (fp16 + GradScaler on cards without bf16), fp32 elsewhere."""
    num_threads: int = 0
    """CPU threads for torch; 0 = all physical cores available to this process."""
    log_every: int = 10
    """Report training loss to callbacks every this many steps (one device sync each time)."""
    multi_label_threshold: float = 0.5
    """Starting threshold for multi-label outputs; per-label thresholds are then tuned on validation."""
    tune_thresholds: bool = True
    """Multi-label: pick each label's threshold that maximises its validation F1."""
    self_training_rounds: int = 0
    """Self-training on the dataset's unlabelled texts (0 = off): after fine-tuning, the model labels them,
    the confident pseudo-labels join the gold ones at `pseudo_label_weight`, and a student is trained from
    the base model again; it is kept only if it is clearly better on validation (a paired comparison), and
    then teaches the next round. Pseudo-labels live only inside the run: never in the annotation history."""
    pseudo_label_weight: float = 0.5
    """Loss weight of a pseudo-labelled example (a gold label weighs 1)."""
    pseudo_label_rule: str = "balanced_top_k"
    """"balanced_top_k": per label, the most confident texts the model assigns it, the same number for each
    label (a model's favourite class cannot flood the training set); "threshold": every text whose confidence
    reaches `pseudo_label_threshold`."""
    pseudo_label_threshold: float = 0.9
    """Confidence a pseudo-label needs: the top probability (multi-label: every label's probability at least
    this far from undecided, p >= t or p <= 1 - t). Both rules apply it."""
    pseudo_label_share: float = 0.5
    """At most this share of the unlabelled pool becomes pseudo-labelled in a round (balanced_top_k: split
    evenly over the labels)."""

    def resolved_epochs(self, steps_per_epoch: int) -> int:
        """`epochs`, or for 0 the automatic choice given how many steps one pass takes."""
        if self.epochs:
            return self.epochs
        wanted = -(-AUTO_EPOCHS_TARGET_STEPS // max(1, steps_per_epoch))  # ceiling division
        return max(AUTO_EPOCHS_MIN, min(AUTO_EPOCHS_MAX, wanted))

    def estimated_steps(self, n_examples: int) -> int:
        """Optimizer steps a run on `n_examples` labelled examples plans, estimated before tokenizing: the
        training split's share in batches of at most the example cap, times the epochs that gives. Token-
        budget batches of long texts hold fewer examples, so a run may take somewhat more."""
        n_train = max(1, round(n_examples * (1 - self.val_fraction - self.test_fraction)))
        per_epoch = -(-n_train // self.resolved_max_batch_examples)  # ceiling division
        return per_epoch * self.resolved_epochs(per_epoch)

    def __post_init__(self) -> None:
        _check_types(self)
        self.device = self.device.lower()
        self.precision = self.precision.lower()
        self.class_weights = self.class_weights.lower()
        for name, allowed in RANGES.items():
            value = getattr(self, name)
            _check(value in allowed, f"{name} must be {allowed.says}, got {value}")
        self.pseudo_label_rule = self.pseudo_label_rule.lower()
        _check(self.pseudo_label_rule in PSEUDO_RULES,
               f"pseudo_label_rule must be one of {', '.join(PSEUDO_RULES)}, got {self.pseudo_label_rule!r}")
        _check(self.class_weights in CLASS_WEIGHTS, f"class_weights must be one of {', '.join(CLASS_WEIGHTS)}, got {self.class_weights!r}")
        _check(self.val_fraction + self.test_fraction <= 0.5,
               f"val_fraction + test_fraction must leave at least half the data for training, got "
               f"{self.val_fraction} + {self.test_fraction}")
        _check(self.device.split(":")[0] in DEVICES, f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {self.device!r}")
        _check(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    @property
    def resolved_max_batch_examples(self) -> int:
        return self.max_batch_examples or self.batch_size

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Inverse of to_dict. Unknown keys are an error so a typo never silently falls back to a default;
        values must have their option's type (a JSON client sending {"epochs": "3"} is told so)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidInputError(f"unknown training option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**data)

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise InvalidInputError(message)


def _check_types(cfg: TrainConfig) -> None:
    """Refuse a value of the wrong type, naming the option; a whole float (3.0, as some JSON clients
    send) becomes an int and an int becomes a float where the option is one. bool is never a number."""
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if f.type == "bool":
            _check(isinstance(value, bool), f"{f.name} must be true or false, got {value!r}")
        elif f.type == "str":
            _check(isinstance(value, str), f"{f.name} must be text, got {value!r}")
        elif f.type == "int":
            whole = isinstance(value, float) and math.isfinite(value) and value.is_integer()
            _check((isinstance(value, int) and not isinstance(value, bool)) or whole,
                   f"{f.name} must be a whole number, got {value!r}")
            setattr(cfg, f.name, int(value))
        elif f.type == "float":
            _check(isinstance(value, (int, float)) and not isinstance(value, bool),
                   f"{f.name} must be a number, got {value!r}")
            setattr(cfg, f.name, float(value))


def base_model_layers(base_model: str) -> int | None:
    """How many transformer layers a base model has (config.json's num_hidden_layers, or the name its
    architecture uses), read from this machine only: a local folder, the bundled checkpoint, or a Hub id
    already in the Hugging Face cache. None when it cannot be read offline; freeze_layers is then
    checked against the loaded model. Plain JSON: the Train form asks at start-up, before torch loads."""
    path = Path(base_model) / "config.json" if base_model else None
    if path is not None and not path.is_file():
        try:
            from huggingface_hub import try_to_load_from_cache

            cached = try_to_load_from_cache(base_model, "config.json")
        except (ValueError, OSError):  # not a valid Hub id either
            cached = None
        path = Path(cached) if isinstance(cached, str) else None
    try:
        config = json.loads(path.read_text(encoding="utf-8")) if path is not None else {}
    except (OSError, ValueError):
        return None
    for key in ("num_hidden_layers", "n_layers", "num_layers", "n_layer"):
        value = config.get(key) if isinstance(config, dict) else None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None
