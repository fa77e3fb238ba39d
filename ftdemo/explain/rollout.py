"""Attention rollout (Abnar & Zuidema, 2020): how much each input token flows into each position.

Raw attention at layer l mixes layer l-1's *positions*, which already mix the
input. Rollout accounts for that: add the residual connection as identity
(A' = 0.5·A + 0.5·I), renormalise rows, and multiply the layers together,
R = A'_L · … · A'_1. Row 0 of R is the [CLS] position's mix of input tokens.
Pure numpy.
"""

from __future__ import annotations

import numpy as np


def add_residual(attention: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """[..., T, T] → (1-residual)·A + residual·I with rows renormalised to sum to 1."""
    a = np.asarray(attention, dtype=np.float64)
    eye = np.eye(a.shape[-1])
    mixed = (1.0 - residual) * a + residual * eye
    return mixed / mixed.sum(axis=-1, keepdims=True)


def rollout(attentions: np.ndarray, residual: float = 0.5) -> np.ndarray:
    """[L, T, T] head-averaged (or [L, H, T, T], averaged here) → [T, T] rolled-out attention.

    Rows of the result sum to 1 (a product of row-stochastic matrices). With
    identity attention in every layer the result is the identity.
    """
    a = np.asarray(attentions, dtype=np.float64)
    if a.ndim == 4:
        a = a.mean(axis=1)
    if a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(f"expected [layers, tokens, tokens], got shape {a.shape}")
    result = np.eye(a.shape[-1])
    for layer in add_residual(a, residual):
        result = layer @ result  # later layers read the mix the earlier ones produced
    return result
