"""Sentence embeddings of examples: mean-pooled last hidden states, L2-normalised, float32.

The encoder is the transformer body of a model loaded by the project's one loader
(`ftdemo.models.inference.load_model_dir`): the bundled MiniLM (a sentence-embedding checkpoint
trained with mean pooling, so meaningful before any label exists) or a fine-tuned version, whose
body has learnt the task. Tokenisation is the serving path's (`inference.encode`), capped at
EMBED_MAX_LENGTH tokens: the first words carry a short text's meaning, and attention is quadratic.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ftdemo.models import inference

EMBED_MAX_LENGTH = 128
DEFAULT_BATCH = 64


@dataclass(frozen=True)
class Encoder:
    """A loaded encoder: the model body, and the LoadedModel whose tokenizer (capped) feeds it."""

    loaded: Any  # inference.LoadedModel with backend_tokenizer truncating at max_length
    body: Any  # the transformer without its head (model.base_model)
    max_length: int

    @property
    def dim(self) -> int:
        return int(self.body.config.hidden_size)

    @property
    def device(self) -> torch.device:
        return self.loaded.device


def load_encoder(model: str | Path, device: str = "auto", *, max_length: int = EMBED_MAX_LENGTH) -> Encoder:
    """The encoder of a save_pretrained directory: a fine-tuned version (its classifier's body) or a base
    checkpoint without a classification head (the loader adds a random head, which is never used)."""
    # the base checkpoint has no head: transformers warns that one was initialised; here that is expected
    quiet = logging.getLogger("transformers")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        loaded = inference.load_model_dir(model, device=device)
    finally:
        quiet.setLevel(level)
    cap = max(8, min(int(max_length), loaded.max_length))
    loaded = dataclasses.replace(loaded, backend_tokenizer=inference.serving_tokenizer(loaded.tokenizer, cap),
                                 max_length=cap)
    return Encoder(loaded=loaded, body=loaded.model.base_model, max_length=cap)


def _pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over non-pad tokens, then L2 normalisation: padding never changes a text's embedding."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    summed = (hidden * m).sum(dim=1)
    mean = summed / m.sum(dim=1).clamp(min=1.0)
    return torch.nn.functional.normalize(mean.float(), dim=-1)


def embed(encoder: Encoder, texts: list[str], pairs: list[str | None] | None = None, *,
          batch_size: int = DEFAULT_BATCH) -> np.ndarray:
    """Embeddings (n, d) float32 of `texts` (pairs: each text encoded with its pair, as the classifier
    reads it), in input order. Batches are sorted by length so padding stays small."""
    n = len(texts)
    if pairs is not None and len(pairs) != n:
        raise ValueError("embed(): texts and pairs differ in length")
    out = np.zeros((n, encoder.dim), dtype=np.float32)
    if n == 0:
        return out
    sizes = [len(t) + (len(pairs[i] or "") if pairs is not None else 0) for i, t in enumerate(texts)]
    order = np.argsort(sizes, kind="stable")
    # encode() batches texts with and without a pair apart: group by that first
    groups = [order] if pairs is None else [
        np.array([i for i in order if pairs[i] is not None], dtype=int),
        np.array([i for i in order if pairs[i] is None], dtype=int)]
    with torch.inference_mode():
        for group in groups:
            for start in range(0, len(group), max(1, batch_size)):
                idx = group[start:start + batch_size]
                batch = inference.encode(encoder.loaded, [texts[i] for i in idx],
                                         [pairs[i] for i in idx] if pairs is not None else None)
                inputs = batch.model_inputs(encoder.device)
                hidden = encoder.body(**inputs).last_hidden_state
                out[idx] = _pool(hidden, batch.tensors["attention_mask"].to(hidden.device)).cpu().numpy()
    return out
