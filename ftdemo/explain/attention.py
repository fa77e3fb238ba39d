"""Views of raw attention: one layer/head, [CLS] attention, and an all-heads overview.

Arrays follow the transformers layout without the batch axis: one layer is
[heads, tokens, tokens] with rows = queries ("from") and columns = keys ("to");
all layers stacked are [layers, heads, tokens, tokens]. Pure numpy.
"""

from __future__ import annotations

import numpy as np

from ftdemo.errors import InvalidInputError


def resolve_layer(layer: int, num_layers: int) -> int:
    """A layer index that may be negative (-1 = last) → 0-based, or a clear error."""
    if not -num_layers <= layer < num_layers:
        raise InvalidInputError(
            f"layer {layer} does not exist: this model has {num_layers} layers "
            f"(use 0–{num_layers - 1}, or -1 for the last)"
        )
    return layer % num_layers


def resolve_head(head: int | None, num_heads: int) -> int | None:
    """None (average of heads) or a 0-based head index, or a clear error."""
    if head is None:
        return None
    if not 0 <= head < num_heads:
        raise InvalidInputError(
            f"head {head} does not exist: each layer has {num_heads} heads "
            f"(use 0–{num_heads - 1}, or leave it empty for the average)"
        )
    return head


def select_head(layer_attention: np.ndarray, head: int | None) -> np.ndarray:
    """[heads, T, T] → [T, T]: one head, or the mean over heads (rows still sum to 1)."""
    a = np.asarray(layer_attention, dtype=np.float64)
    if a.ndim != 3:
        raise ValueError(f"expected [heads, tokens, tokens], got shape {a.shape}")
    return a.mean(axis=0) if head is None else a[head]


def cls_attention(matrix: np.ndarray, query: int = 0) -> np.ndarray:
    """The row of attention from [CLS] (token 0) to every token: what the classifier's input reads."""
    return np.asarray(matrix, dtype=np.float64)[query]


def cls_entropy(attentions: np.ndarray, query: int = 0) -> np.ndarray:
    """[L, H, T, T] → [L, H]: entropy of each head's [CLS] row, divided by log(T).

    0 means the head looks at one token, 1 that it spreads evenly; a compact map to
    pick an interesting layer/head from before asking for its full matrix.
    """
    a = np.asarray(attentions, dtype=np.float64)
    rows = np.clip(a[:, :, query, :], 1e-12, 1.0)
    n = rows.shape[-1]
    ent = -(rows * np.log(rows)).sum(axis=-1)
    return ent / np.log(n) if n > 1 else np.zeros_like(ent)
