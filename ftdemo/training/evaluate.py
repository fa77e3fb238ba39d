"""Evaluation helpers for the engine: probabilities for a split, and its metrics."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ftdemo.tasks import TaskType
from ftdemo.training import metrics as M
from ftdemo.training import setup
from ftdemo.training.data import Features, token_budget_batches


@torch.inference_mode()
def predict(model: Any, features: Features, batch_of: Callable, budget: int, device: torch.device,
            precision: str, task: TaskType) -> tuple[np.ndarray, float]:
    """Probabilities for every row (input order) and the mean unweighted loss.

    Rows are sorted by length into batches 4x the training budget (no activations are
    kept for backward); logits stay on the device until one copy at the end.
    """
    n, k = len(features), model.config.num_labels
    if n == 0:
        return np.zeros((0, k)), float("nan")
    model.eval()
    logits = torch.empty(n, k, device=device)
    for batch in token_budget_batches(features.lengths, 4 * budget):
        inputs = batch_of(features, batch)
        inputs.pop("labels")
        with setup.autocast(device, precision):
            out = model(**inputs).logits
        logits.index_copy_(0, torch.tensor(batch, device=device), out.float())
    logits = logits.cpu()
    if task.is_multi_label:
        target = torch.from_numpy(multi_hot(features, k)).float()
        return torch.sigmoid(logits).numpy(), float(F.binary_cross_entropy_with_logits(logits, target))
    target = torch.tensor([t[0] for t in features.targets])
    return torch.softmax(logits, -1).numpy(), float(F.cross_entropy(logits, target))


def split_metrics(task: TaskType, features: Features, probs: np.ndarray, labels: list[str],
                  thresholds: Sequence[float]) -> dict[str, Any]:
    """Metrics of one split for the task (thresholds only matter for multi-label)."""
    if task.is_multi_label:
        return M.multi_label_metrics(multi_hot(features, len(labels)), probs, labels, thresholds)
    return M.single_label_metrics([t[0] for t in features.targets], probs, labels)


def multi_hot(features: Features, k: int) -> np.ndarray:
    """(n, k) 0/1 matrix of the label indices in features.targets."""
    out = np.zeros((len(features), k), dtype=np.int64)
    for row, targets in enumerate(features.targets):
        out[row, targets] = 1
    return out
