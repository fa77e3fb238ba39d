"""The instant model: a linear classifier on the embeddings, usable from the first few labels per class.

Logistic regression (scikit-learn): softmax over the labels for single-label and pair tasks (a pair's
embedding is that of the two texts encoded together), one binary classifier per label for multi-label
(one-vs-rest). It fits a few thousand labelled 384-d embeddings in a fraction of a second, so it can be
refit after every few labels. Its quality is estimated honestly: stratified k-fold cross-validation on
the labels themselves (out-of-fold predictions), with the folds adapted to the smallest class.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftdemo.tasks import TaskType
from ftdemo.training.splits import fold_splits

DEFAULT_C = 10.0  # embeddings are unit vectors: sklearn's C=1 squeezes every probability towards uniform
MAX_FOLDS = 5
THRESHOLD = 0.5  # multi-label: a label is predicted at or above this probability
MAX_ITER = 200


def small_math() -> Any:
    """A context in which scikit-learn and numpy use one thread: their work here is small (a few thousand
    rows), and on a busy 2-core machine a second BLAS/OpenMP thread made a fit 30x slower, not faster."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _logreg(C: float, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    # balanced: early labels are often skewed, and a rare class should still be suggested
    return LogisticRegression(C=C, max_iter=MAX_ITER, class_weight="balanced", random_state=seed)


def _features(X: Any) -> Any:
    """Dense rows as float32; a scipy sparse matrix (the word model's TF-IDF) as it is."""
    from scipy import sparse

    return X if sparse.issparse(X) else np.asarray(X, dtype=np.float32)


@dataclass
class _Binary:
    """One label's classifier (multi-label), or a constant when the labels show only one side."""

    clf: Any = None
    constant: float = 0.0

    def proba(self, X: np.ndarray) -> np.ndarray:
        if self.clf is None:
            return np.full(X.shape[0], self.constant)
        return self.clf.predict_proba(X)[:, 1]


@dataclass
class InstantModel:
    """A fitted instant model; build it with `InstantModel.fit`."""

    task: TaskType
    labels: tuple[str, ...]
    seed: int = 0
    C: float = DEFAULT_C
    n: int = 0
    _clf: Any = None  # single-label / pair: a LogisticRegression over the labels seen
    _classes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))
    _binaries: list[_Binary] = field(default_factory=list)  # multi-label: one per label
    _X: np.ndarray | None = None  # kept for the lazy cross-validation
    _Y: np.ndarray | None = None
    _quality: dict[str, Any] | None = None

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, *, task: TaskType | str, labels: Sequence[str], seed: int = 0,
            C: float = DEFAULT_C) -> "InstantModel":
        """Fit on embeddings X (n, d) and labels Y: (n,) label indices (single-label, pair) or (n, L) 0/1
        (multi-label). `.quality` cross-validates on first use."""
        task = TaskType.parse(task)
        X = _features(X)
        Y = np.asarray(Y)
        if X.shape[0] != len(Y):
            raise ValueError("InstantModel.fit(): X and Y differ in length")
        if X.shape[0] == 0:
            raise ValueError("InstantModel.fit(): no labelled examples")
        model = cls(task=task, labels=tuple(labels), seed=int(seed), C=float(C), n=X.shape[0], _X=X, _Y=Y)
        with warnings.catch_warnings(), small_math():
            warnings.simplefilter("ignore")  # lbfgs convergence notes on tiny, separable label sets
            if task.is_multi_label:
                model._binaries = [model._fit_binary(X, Y[:, j]) for j in range(len(model.labels))]
            else:
                y = Y.astype(int)
                model._classes = np.unique(y)
                if len(model._classes) > 1:
                    model._clf = _logreg(model.C, model.seed).fit(X, y)
        return model

    def _fit_binary(self, X: np.ndarray, y: np.ndarray) -> _Binary:
        y = y.astype(int)
        if y.min() == y.max():
            return _Binary(constant=float(y[0]))
        return _Binary(clf=_logreg(self.C, self.seed).fit(X, y))

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """(n, L) probabilities in label order: softmax (single-label, pair; 0 for labels never seen in
        training) or independent sigmoids (multi-label)."""
        X = _features(X)
        with small_math():
            return self._proba(X)

    def _proba(self, X: np.ndarray) -> np.ndarray:
        if self.task.is_multi_label:
            return np.stack([b.proba(X) for b in self._binaries], axis=1) if X.shape[0] else \
                np.zeros((0, len(self.labels)))
        out = np.zeros((X.shape[0], len(self.labels)))
        if self._clf is None:  # one class seen so far: it is all the model knows
            out[:, self._classes[0]] = 1.0
        elif X.shape[0]:
            out[:, self._clf.classes_] = self._clf.predict_proba(X)
        return out

    def predict_labels(self, X: np.ndarray) -> list[tuple[str, ...]]:
        """The predicted label set per row: the most probable label, or for multi-label every label at or
        above THRESHOLD."""
        return labels_of(self.predict_proba(X), self.task, self.labels)

    @property
    def quality(self) -> dict[str, Any]:
        """Cross-validated {accuracy, macro_f1, n, folds} on the training labels (None scores when too few)."""
        if self._quality is None:
            self._quality = self.cross_validate(self._X, self._Y, task=self.task, labels=self.labels,
                                                seed=self.seed, C=self.C)
        return self._quality

    @staticmethod
    def cross_validate(X: np.ndarray, Y: np.ndarray, *, task: TaskType | str, labels: Sequence[str],
                       seed: int = 0, C: float = DEFAULT_C) -> dict[str, Any]:
        """Out-of-fold accuracy (subset accuracy for multi-label) and macro-F1 over the labels that occur
        (folds as `out_of_fold_probabilities` makes them; fewer than 2 possible: the scores are None, "not
        enough labels yet")."""
        from sklearn.metrics import accuracy_score, f1_score

        task = TaskType.parse(task)
        Y = np.asarray(Y)
        probs, folds = out_of_fold_probabilities(X, Y, task=task, labels=labels, seed=seed, C=C)
        if probs is None:
            return {"accuracy": None, "macro_f1": None, "n": len(Y), "folds": 0}
        pred = (probs >= THRESHOLD).astype(int) if task.is_multi_label else probs.argmax(axis=1)
        if task.is_multi_label:
            present = np.flatnonzero(Y.sum(axis=0) > 0)
            macro = f1_score(Y[:, present], pred[:, present], average="macro", zero_division=0)
        else:
            macro = f1_score(Y.astype(int), pred, average="macro", labels=np.unique(Y.astype(int)), zero_division=0)
        return {"accuracy": round(float(accuracy_score(Y.astype(int), pred)), 4), "macro_f1": round(float(macro), 4),
                "n": len(Y), "folds": folds}


def out_of_fold_probabilities(X: Any, Y: np.ndarray, *, task: TaskType | str, labels: Sequence[str],
                              seed: int = 0, C: float = DEFAULT_C, max_folds: int = MAX_FOLDS
                              ) -> tuple[np.ndarray | None, int]:
    """Each labelled row's probabilities (n, L) from an instant model fitted on the other folds
    (`fold_splits`), and the number of folds; (None, 0) when fewer than 2 folds are possible. `X`: the
    embeddings, or any features a logistic regression takes (the word model's sparse TF-IDF rows).

    Out-of-fold probabilities are what both the honest quality estimate and confident learning (label-error
    suspects) need: a model never judges the labels it was fitted on."""
    task = TaskType.parse(task)
    Y = np.asarray(Y)
    splits = fold_splits(Y, task=task, seed=seed, max_folds=max_folds)
    if not splits:
        return None, 0
    probs = np.zeros((len(Y), len(labels)))
    for train, test in splits:
        probs[test] = InstantModel.fit(X[train], Y[train], task=task, labels=labels, seed=seed, C=C).predict_proba(X[test])
    return probs, len(splits)


def labels_of(probs: np.ndarray, task: TaskType | str, labels: Sequence[str],
              threshold: float = THRESHOLD) -> list[tuple[str, ...]]:
    """Probabilities (n, L) → label sets: argmax, or every label at or above `threshold` (multi-label)."""
    task = TaskType.parse(task)
    if task.is_multi_label:
        return [tuple(lab for lab, p in zip(labels, row) if p >= threshold) for row in probs]
    return [(labels[int(np.argmax(row))],) for row in probs]
