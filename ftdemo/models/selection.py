"""Which of two models is better on the same labelled rows: per-row scores and their paired comparison.

The activation guard (guard.paired_activation) decides on a PairedComparison of the candidate and the
active model over the *same* current validation rows. This module makes the per-row scores: the
probabilities a model gives each row (`row_probabilities`, for a model in memory or a loaded version),
mapped by label *name*, so that a model trained before a label was added or retired is still scored
on every row (a label it does not know counts as predicted with probability 0), and then one number
per row (`row_scores`): the probability the model gives the true label ("p_true", the default), or 1/0
for right/wrong ("correct"). On a few dozen validation rows two fine-tunes differ in right/wrong on a
handful of rows only, too few for any test; the probabilities differ on every row, and in the selection
benchmark they told the better version apart where right/wrong could not (docs/benchmarks.md).
Multi-label rows: exact match of the thresholded set, or the mean over labels of the probability given
to the right side of each label.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ftdemo.models.compare import PairedComparison, paired_comparison
from ftdemo.tasks import LabelledText, TaskType

SCORES = ("correct", "p_true")
SCORE_WORDS = {"correct": "accuracy", "p_true": "probability of the true label"}  # what a user reads
DEFAULT_SCORE = "p_true"
BATCH_ROWS = 64


def row_probabilities(model: Any, tokenizer: Any, rows: Sequence[LabelledText], task: TaskType | str, *,
                      max_length: int = 256) -> np.ndarray:
    """(n, k) probabilities of a classifier for `rows` in input order: softmax, or sigmoid for multi-label.

    Rows go through in length-sorted batches under inference mode, on the model's own device."""
    import torch

    kind = TaskType.parse(task)
    k = int(model.config.num_labels)
    out = np.zeros((len(rows), k), dtype=np.float64)
    if not rows:
        return out
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i].text) + len(rows[i].text_pair or ""))
    try:
        with torch.inference_mode():
            for start in range(0, len(order), BATCH_ROWS):
                part = order[start:start + BATCH_ROWS]
                texts = [rows[i].text for i in part]
                pairs = [rows[i].text_pair or "" for i in part] if kind.has_pair else None
                enc = tokenizer(texts, pairs, padding=True, truncation=True, max_length=max_length,
                                return_tensors="pt").to(device)
                logits = model(**enc).logits.float()
                probs = torch.sigmoid(logits) if kind.is_multi_label else torch.softmax(logits, dim=-1)
                out[part] = probs.cpu().numpy()
    finally:
        model.train(was_training)
    return out


def row_scores(probs: np.ndarray, model_labels: Sequence[str], rows: Sequence[LabelledText],
               labels: Sequence[str], task: TaskType | str, *, score: str = DEFAULT_SCORE,
               thresholds: Mapping[str, float] | None = None) -> np.ndarray:
    """One score per row of a model whose outputs are `model_labels`, judged against the rows' gold labels
    over the current label set `labels` (a label the model lacks: probability 0; one the dataset retired:
    ignored)."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose one of: {', '.join(SCORES)}")
    kind = TaskType.parse(task)
    index = {lab: j for j, lab in enumerate(model_labels)}
    cols = np.zeros((len(rows), len(labels)), dtype=np.float64)  # the model's probabilities on `labels`
    for c, lab in enumerate(labels):
        if lab in index and len(rows):
            cols[:, c] = probs[:, index[lab]]
    gold = np.zeros((len(rows), len(labels)), dtype=bool)
    position = {lab: c for c, lab in enumerate(labels)}
    for r, ex in enumerate(rows):
        for lab in ex.labels:
            if lab in position:
                gold[r, position[lab]] = True
    if kind.is_multi_label:
        cut = np.array([float((thresholds or {}).get(lab, 0.5)) for lab in labels])
        if score == "correct":
            return ((cols >= cut) == gold).all(axis=1).astype(np.float64)
        return np.where(gold, cols, 1 - cols).mean(axis=1) if labels else np.zeros(len(rows))
    if score == "correct":
        # a model's own argmax over *its* labels: a label the dataset no longer has is a wrong answer
        own = probs.argmax(axis=1) if len(rows) else np.zeros(0, dtype=int)
        said = [model_labels[j] for j in own]
        return np.array([float(s in ex.labels) for s, ex in zip(said, rows)], dtype=np.float64)
    return (cols * gold).sum(axis=1)


def compare_models(candidate: np.ndarray, active: np.ndarray, *, seed: int = 0) -> PairedComparison:
    """candidate − active on the same rows (equal-length per-row scores); see models.compare."""
    return paired_comparison(candidate, active, seed=seed)


def accuracy_interval(correct: np.ndarray, level: float = 0.95) -> dict[str, Any]:
    """Accuracy of 1/0 per-row scores with its Wilson score interval (sound at 0 and 1 and on few rows):
    {"accuracy", "low", "high", "n", "level"}; accuracy None when there are no rows."""
    from scipy.stats import norm

    values = np.asarray(correct, dtype=np.float64).ravel()
    n = int(values.size)
    if n == 0:
        return {"accuracy": None, "low": None, "high": None, "n": 0, "level": level}
    p, z = float(values.mean()), float(norm.ppf(1 - (1 - level) / 2))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return {"accuracy": p, "low": max(0.0, float(centre - half)), "high": min(1.0, float(centre + half)),
            "n": n, "level": level}


def describe_accuracy(audit: dict[str, Any] | None) -> str:
    """'0.812 (0.75–0.86) on 64 audit examples', or '' when there is no audit score."""
    if not audit or audit.get("accuracy") is None:
        return ""
    n = int(audit["n"])
    return (f"{audit['accuracy']:.3f} ({audit['low']:.2f}–{audit['high']:.2f}) on {n} audit "
            f"example{'s' if n != 1 else ''}")
