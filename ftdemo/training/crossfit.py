"""The fine-tune check: k fine-tunes, each scoring the labelled examples it did not train on (engine only).

Out-of-fold probabilities of fine-tuned models, for the label-error suspects: a fine-tune reads negations
and word order that the sentence embeddings of the instant model blur, so averaged with the instant and
the word model it finds more of the wrong labels (`bench label-noise --oof instant,words,finetune`).
The folds are the instant model's (`training.splits.fold_splits`, stratified, seeded by the config), each
fine-tune uses the config as a run would (its validation split taken from the fold's training part, no
test split), and every held-out example is scored by the model of its fold.

No database and no UI, like loop.py: torch, transformers, numpy and scikit-learn only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training.config import TrainConfig
from ftdemo.training.loop import Callback, ProgressEvent, train
from ftdemo.training.splits import DEFAULT_FOLDS, MAX_FOLDS, fold_splits, targets


@dataclass(frozen=True)
class CrossFitResult:
    """Out-of-fold probabilities (n, L) in the order of the examples given and of `labels`, with the number
    of folds, the out-of-fold accuracy (multi-label: of whole label sets) and seconds per fold."""

    ids: list[int]
    labels: list[str]
    probabilities: np.ndarray
    folds: int
    accuracy: float
    fold_seconds: list[float]

    def metrics(self) -> dict[str, Any]:
        return {"folds": self.folds, "examples": len(self.ids), "out_of_fold_accuracy": round(self.accuracy, 4),
                "fold_seconds": [round(s, 1) for s in self.fold_seconds]}


def crossfit(examples: Sequence[LabelledText], labels: Sequence[str], task: TaskType | str, config: TrainConfig,
             *, folds: int = DEFAULT_FOLDS, callbacks: Sequence[Callback] = (),
             should_stop: Callable[[], bool] | None = None) -> CrossFitResult:
    """Fine-tune `folds` times, each time on all but one fold, and score that fold. Progress events are the
    fine-tunes' own, with `metrics["fold"]` and `["folds"]` added so a progress bar can say which one runs.

    Raises InvalidInputError when a label has too few examples for 2 folds (or for a fold's own validation
    split), TrainingCancelled when should_stop() turns true."""
    from ftdemo.models.selection import row_probabilities

    task, labels = TaskType.parse(task), list(labels)
    if not 2 <= folds <= MAX_FOLDS:
        raise InvalidInputError(f"folds must be from 2 to {MAX_FOLDS}, not {folds}")
    examples = list(examples)
    Y = targets(examples, labels, task)
    splits = fold_splits(Y, task=task, seed=config.seed, max_folds=folds)
    if not splits:
        raise InvalidInputError("a fine-tune check needs at least 2 labelled examples of every label (of each "
                                "label used, for multi-label); label more examples first")
    cfg = replace(config, test_fraction=0.0)  # the held-out fold is the test; keep every other row for training
    probs = np.zeros((len(examples), len(labels)))
    seconds: list[float] = []
    for f, (fit, held) in enumerate(splits):
        t0 = time.perf_counter()
        tagged = [_tagged(cb, f + 1, len(splits)) for cb in callbacks]
        result = train([examples[i] for i in fit], labels, task, cfg, callbacks=tagged, should_stop=should_stop)
        part = row_probabilities(result.model, result.tokenizer, [examples[i] for i in held], task,
                                 max_length=cfg.max_length)
        probs[held] = _in_label_order(part, list(result.labels), labels)
        seconds.append(time.perf_counter() - t0)
        del result  # one fold's model in memory at a time
    pred = (probs >= 0.5).astype(int) if task.is_multi_label else probs.argmax(axis=1)
    right = (pred == Y).all(axis=1) if task.is_multi_label else pred == Y
    return CrossFitResult([ex.id for ex in examples], labels, probs, len(splits), float(right.mean()), seconds)


def _tagged(callback: Callback, fold: int, folds: int) -> Callback:
    def tag(event: ProgressEvent) -> None:
        callback(replace(event, metrics={**(event.metrics or {}), "fold": fold, "folds": folds}))
    return tag


def _in_label_order(probs: np.ndarray, model_labels: list[str], labels: list[str]) -> np.ndarray:
    """A model's probabilities (n, k) in `labels`' order (a label it never learned: 0)."""
    if model_labels == labels:
        return probs
    out = np.zeros((len(probs), len(labels)))
    where = {lab: j for j, lab in enumerate(model_labels)}
    for j, lab in enumerate(labels):
        if lab in where:
            out[:, j] = probs[:, where[lab]]
    return out
