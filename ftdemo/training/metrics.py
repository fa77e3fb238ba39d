"""Evaluation metrics as plain JSON-able dicts, computed with scikit-learn.

scikit-learn is imported inside the functions so this module (and the engine that
imports it) loads on a GPU box without it; computing metrics there needs it installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

THRESHOLD_GRID = tuple(round(x, 2) for x in np.arange(0.05, 0.951, 0.05))


def _sklearn() -> Any:
    try:
        import sklearn.metrics as skm
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("computing metrics needs scikit-learn: pip install scikit-learn") from err
    return skm


def _per_class(skm: Any, y_true: np.ndarray, y_pred: np.ndarray, labels: Sequence[str]) -> dict[str, dict[str, float]]:
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=list(range(len(labels))) if y_true.ndim == 1 else None, zero_division=0)
    return {lab: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
            for i, lab in enumerate(labels)}


def _ovr_auc(skm: Any, onehot: np.ndarray, probs: np.ndarray) -> tuple[float | None, dict[int, float]]:
    """One-vs-rest ROC-AUC per column where it is defined (the column has both classes); macro mean."""
    per: dict[int, float] = {}
    for j in range(probs.shape[1]):
        col = onehot[:, j]
        if 0 < col.sum() < len(col):
            per[j] = float(skm.roc_auc_score(col, probs[:, j]))
    return (float(np.mean(list(per.values()))) if per else None), per


def single_label_metrics(y_true: Sequence[int], probs: np.ndarray, labels: Sequence[str]) -> dict[str, Any]:
    """Metrics for single-label and pair tasks.

    y_true: class indices; probs: (n, k) softmax probabilities. Macro-F1 averages over the
    classes present in y_true or predicted (scikit-learn's default), so a class the split
    happens not to contain does not count as a zero. roc_auc is the macro one-vs-rest AUC
    over classes with both positives and negatives (for two classes, the usual binary AUC).
    """
    skm = _sklearn()
    y = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if len(y) == 0:
        return {"n": 0}
    pred = probs.argmax(axis=1)
    onehot = np.eye(len(labels), dtype=int)[y]
    auc, per_auc = _ovr_auc(skm, onehot, probs)
    per_class = _per_class(skm, y, pred, labels)
    for j, value in per_auc.items():
        per_class[labels[j]]["roc_auc"] = value
    return {
        "n": int(len(y)),
        "accuracy": float(skm.accuracy_score(y, pred)),
        "macro_f1": float(skm.f1_score(y, pred, average="macro", zero_division=0)),
        "weighted_f1": float(skm.f1_score(y, pred, average="weighted", zero_division=0)),
        "roc_auc": auc,
        "per_class": per_class,
        "confusion_matrix": skm.confusion_matrix(y, pred, labels=list(range(len(labels)))).tolist(),
    }


def multi_label_metrics(y_true: np.ndarray, probs: np.ndarray, labels: Sequence[str],
                        thresholds: Sequence[float]) -> dict[str, Any]:
    """Metrics for multi-label tasks at the given per-label thresholds.

    y_true: (n, k) 0/1; probs: (n, k) sigmoid probabilities. "accuracy" is scikit-learn's
    accuracy_score on multi-label input, i.e. subset accuracy (all labels right), also
    reported under that name. Confusion matrices are per label: [[tn, fp], [fn, tp]].
    """
    skm = _sklearn()
    y = np.asarray(y_true, dtype=int).reshape(-1, len(labels))
    probs = np.asarray(probs, dtype=float).reshape(-1, len(labels))
    if len(y) == 0:
        return {"n": 0}
    pred = (probs >= np.asarray(thresholds, dtype=float)[None, :]).astype(int)
    auc, per_auc = _ovr_auc(skm, y, probs)
    per_class = _per_class(skm, y, pred, labels)
    for j, lab in enumerate(labels):
        per_class[lab]["threshold"] = float(thresholds[j])
        if j in per_auc:
            per_class[lab]["roc_auc"] = per_auc[j]
    subset = float(skm.accuracy_score(y, pred))
    # macro over labels that occur (as truth or prediction), like the single-label case
    active = [j for j in range(len(labels)) if y[:, j].any() or pred[:, j].any()]
    macro = float(np.mean([skm.f1_score(y[:, j], pred[:, j], zero_division=0) for j in active])) if active else 0.0
    return {
        "n": int(len(y)),
        "accuracy": subset,
        "subset_accuracy": subset,
        "micro_f1": float(skm.f1_score(y, pred, average="micro", zero_division=0)),
        "macro_f1": macro,
        "hamming_loss": float(skm.hamming_loss(y, pred)),
        "roc_auc": auc,
        "per_class": per_class,
        "confusion_matrix": skm.multilabel_confusion_matrix(y, pred).tolist(),
    }


def tune_thresholds(y_true: np.ndarray, probs: np.ndarray, default: float = 0.5,
                    grid: Sequence[float] = THRESHOLD_GRID) -> list[float]:
    """Per-label threshold maximising that label's F1 on (validation) data.

    A label without positives in y_true keeps `default`; among equally good thresholds the
    one nearest `default` wins, so a tiny validation set does not push thresholds to extremes.
    """
    skm = _sklearn()
    y = np.asarray(y_true, dtype=int)
    probs = np.asarray(probs, dtype=float)
    out: list[float] = []
    for j in range(y.shape[1]):
        if not y[:, j].any():
            out.append(float(default))
            continue
        scored = [(skm.f1_score(y[:, j], (probs[:, j] >= t).astype(int), zero_division=0), -abs(t - default), t)
                  for t in grid]
        out.append(float(max(scored)[2]))
    return out


def row_scores(task: Any, targets: Sequence[Sequence[int]], probs: np.ndarray,
               thresholds: Sequence[float] | None = None) -> np.ndarray:
    """One score per row, what a paired comparison of two models on the same rows takes: 1.0 / 0.0 for a
    right / wrong top label; multi-label: the row's F1 between the true and the predicted label sets at
    `thresholds` (1.0 when both are empty), so a row half right counts half."""
    if len(targets) == 0:
        return np.zeros(0)
    if not getattr(task, "is_multi_label", False):
        return (probs.argmax(axis=1) == np.array([t[0] for t in targets])).astype(float)
    k = probs.shape[1]
    truth = np.zeros((len(targets), k), dtype=bool)
    for row, t in enumerate(targets):
        truth[row, list(t)] = True
    pred = probs >= np.asarray(thresholds if thresholds is not None else [0.5] * k)[None, :]
    both = (truth & pred).sum(axis=1)
    sizes = truth.sum(axis=1) + pred.sum(axis=1)
    return np.where(sizes == 0, 1.0, 2 * both / np.maximum(sizes, 1))
