"""Nearest neighbours by cosine similarity over L2-normalised embeddings (a dot product)."""

from __future__ import annotations

import numpy as np


def top_k(matrix: np.ndarray, query: np.ndarray, k: int, *, exclude: int | None = None
          ) -> tuple[np.ndarray, np.ndarray]:
    """(row indices, cosine scores) of the k rows of `matrix` most similar to `query`, best first.

    Both must be normalised; `exclude` leaves one row out (the query example itself)."""
    if len(matrix) == 0 or k <= 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=np.float32)
    scores = matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
    if exclude is not None and 0 <= exclude < len(scores):
        scores[exclude] = -np.inf
    k = min(int(k), len(scores) - (1 if exclude is not None and 0 <= exclude < len(scores) else 0))
    if k <= 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=np.float32)
    top = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    top = top[np.argsort(-scores[top], kind="stable")]
    return top.astype(int), scores[top].astype(np.float32)
