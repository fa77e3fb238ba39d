"""AdaptConfig: every knob of one adaptation run (masked-language-model training on a dataset's own texts).

Validated like TrainConfig (ADAPT_RANGES is the one table the CLI and the forms read), and round-tripped
through adapt.json next to the adapted checkpoint. No torch here: the forms read it at start-up.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ftdemo.errors import InvalidInputError
from ftdemo.training.config import DEVICES, MAX_BATCH, MAX_THREADS, PRECISIONS, Range, _check, _check_types

ADAPT_RANGES: dict[str, Range] = {
    "epochs": Range(1, 50, "from 1 to 50"),
    "learning_rate": Range(0, 1, "between 0 and 1 (e.g. 1e-4)", low_open=True, high_open=True),
    "batch_size": Range(1, MAX_BATCH, f"from 1 to {MAX_BATCH}"),
    "max_length": Range(8, 8192, "between 8 and 8192 tokens"),
    "mlm_probability": Range(0, 1, "in (0, 1) (BERT: 0.15)", low_open=True, high_open=True),
    "head_warmup_ratio": Range(0, 1, "in [0, 1)", high_open=True),
    "warmup_ratio": Range(0, 1, "in [0, 1)", high_open=True),
    "weight_decay": Range(0, 1, "from 0 to 1"),
    "max_grad_norm": Range(0, 1000, "0 (off) or up to 1000"),
    "heldout_fraction": Range(0, 0.5, "in [0, 0.5]"),
    "max_texts": Range(0, 10_000_000, "0 (all) or a positive number of texts"),
    "seed": Range(0, 2 ** 32 - 1, f"from 0 to {2 ** 32 - 1} (32 bits)"),
    "num_threads": Range(0, MAX_THREADS, f"0 (all cores) or from 1 to {MAX_THREADS}"),
    "log_every": Range(1, 1_000_000, "from 1 to 1000000"),
}


@dataclass
class AdaptConfig:
    """How to adapt a base model to a dataset's texts (task-adaptive pre-training, Gururangan et al. 2020,
    "Don't Stop Pretraining"). The defaults suit the bundled MiniLM on thousands of short texts."""

    base_model: str = ""
    """Hub id or local directory to adapt; "" means the bundled all-MiniLM-L6-v2."""
    epochs: int = 1
    """Passes over the texts. One pass over tens of thousands of texts already moves the model."""
    learning_rate: float = 1e-4
    """Peak AdamW learning rate (after warmup), then linear decay to 0."""
    batch_size: int = 32
    """Texts per batch at most; batches are length-bucketed under a token budget like fine-tuning's."""
    max_length: int = 128
    """Texts are truncated to this many tokens (pairs: longest-first)."""
    mlm_probability: float = 0.15
    """Share of tokens chosen for prediction; of those 80% become [MASK], 10% a random token, 10% stay (BERT)."""
    whole_word_mask: bool = False
    """Choose whole words, not word pieces (all pieces of a chosen word become [MASK])."""
    head_warmup_ratio: float = 0.1
    """Share of the steps that train only the masked-LM head, the encoder frozen, when the base model has
    no such head (the bundled MiniLM): its fresh transform layer would otherwise send random gradients into
    the pre-trained encoder. 0 = off; skipped when the base model brings its own head."""
    warmup_ratio: float = 0.06
    """Share of the steps spent warming the learning rate up linearly from 0."""
    weight_decay: float = 0.01
    """AdamW decoupled weight decay; never applied to biases and LayerNorm weights."""
    max_grad_norm: float = 1.0
    """Gradient clipping threshold; 0 disables clipping."""
    heldout_fraction: float = 0.05
    """Share of the texts (by id hash, at most 2,000) kept out of training to measure the masked-LM loss and
    masked-token accuracy before and after, with the same masks both times. 0 = no measurement."""
    max_texts: int = 0
    """Train on at most this many texts (a fixed random subset); 0 = all of them."""
    seed: int = 42
    """Seeds masking, batch order and the new head's weights."""
    device: str = "auto"
    """"auto" picks CUDA, then Apple MPS, then CPU."""
    precision: str = "auto"
    """"auto": bf16 autocast on CUDA, fp32 elsewhere."""
    num_threads: int = 0
    """CPU threads for torch; 0 = all cores available to this process."""
    log_every: int = 10
    """Report the training loss to callbacks every this many steps."""

    def __post_init__(self) -> None:
        _check_types(self)
        self.device = self.device.lower()
        self.precision = self.precision.lower()
        for name, allowed in ADAPT_RANGES.items():
            value = getattr(self, name)
            _check(value in allowed, f"{name} must be {allowed.says}, got {value}")
        _check(self.device.split(":")[0] in DEVICES, f"device must be one of {', '.join(DEVICES)} (or cuda:N), got {self.device!r}")
        _check(self.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "AdaptConfig":
        """Inverse of to_dict; unknown keys are an error (a typo never falls back to a default)."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise InvalidInputError(f"unknown adaptation option(s): {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return cls(**data)

    def replace(self, **changes: Any) -> "AdaptConfig":
        return dataclasses.replace(self, **changes)
