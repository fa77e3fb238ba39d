"""The instant model: a linear classifier on the embeddings, usable from the first few labels per class.

Logistic regression (scikit-learn): softmax over the labels for single-label and pair tasks (a pair's
embedding is that of the two texts encoded together), one binary classifier per label for multi-label
(one-vs-rest). It fits a few thousand labelled 384-d embeddings in a fraction of a second, so it can be
refit after every few labels. Its quality is estimated honestly: stratified k-fold cross-validation on
the labels themselves (out-of-fold predictions), with the folds adapted to the smallest class; or, when
the embeddings come from a fine-tune that learned some of those labels, on the labels it did not learn
(`held_out`): cross-validating there would score rows whose answers are built into the features.
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
CROSS_VALIDATED, HELD_OUT = "cross-validated", "held-out"  # quality["method"]: how the scores were made
MIN_HELD_OUT = 5  # fewer held-out rows than this: no score ("not enough labels yet")


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
    _X: np.ndarray | None = None  # kept for the lazy quality estimate
    _Y: np.ndarray | None = None
    _held_out: np.ndarray | None = None  # (n,) bool: score on these rows instead of cross-validating
    _quality: dict[str, Any] | None = None
    _oof: np.ndarray | None = None  # (n, L) the scoring's out-of-sample probabilities; NaN rows where none

    @classmethod
    def fit(cls, X: np.ndarray, Y: np.ndarray, *, task: TaskType | str, labels: Sequence[str], seed: int = 0,
            C: float = DEFAULT_C, held_out: np.ndarray | None = None) -> "InstantModel":
        """Fit on embeddings X (n, d) and labels Y: (n,) label indices (single-label, pair) or (n, L) 0/1
        (multi-label). `.quality` is estimated on first use: cross-validated, or with `held_out` (an (n,)
        bool mask) by a model fitted on the other rows and scored on those (`held_out_quality`)."""
        task = TaskType.parse(task)
        X = _features(X)
        Y = np.asarray(Y)
        if X.shape[0] != len(Y):
            raise ValueError("InstantModel.fit(): X and Y differ in length")
        if X.shape[0] == 0:
            raise ValueError("InstantModel.fit(): no labelled examples")
        if held_out is not None:
            held_out = np.asarray(held_out, dtype=bool)
            if held_out.shape != (len(Y),):
                raise ValueError("InstantModel.fit(): held_out needs one flag per row")
        model = cls(task=task, labels=tuple(labels), seed=int(seed), C=float(C), n=X.shape[0], _X=X, _Y=Y,
                    _held_out=held_out)
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
        """{accuracy, macro_f1, n, folds, method} on the training labels, cross-validated or on the held-out
        rows given to `fit` (None scores when too few)."""
        if self._quality is None:
            kw = {"task": self.task, "labels": self.labels, "seed": self.seed, "C": self.C}
            self._quality, self._oof = (_cross_validated(self._X, self._Y, **kw) if self._held_out is None
                                        else _held_out_scored(self._X, self._Y, self._held_out, **kw))
        return self._quality

    @property
    def scored(self) -> bool:
        """Whether `quality` has been computed (it cross-validates: a caller in a hurry checks first)."""
        return self._quality is not None

    def out_of_fold(self, row: int) -> np.ndarray | None:
        """Probabilities (L,) for row `row` of the training set from a model that never saw its label, made
        while scoring (the fold that held it out, or the held-out rows' model); None before `quality` was
        computed and for rows the scoring had no such model for. What to suggest for an example whose label
        the model learned, e.g. one whose label was just undone: the model itself would hand it back."""
        if self._oof is None or not 0 <= row < len(self._oof) or np.isnan(self._oof[row]).any():
            return None
        return self._oof[row]

    @staticmethod
    def cross_validate(X: np.ndarray, Y: np.ndarray, *, task: TaskType | str, labels: Sequence[str],
                       seed: int = 0, C: float = DEFAULT_C) -> dict[str, Any]:
        """Out-of-fold accuracy (subset accuracy for multi-label) and macro-F1 over the labels that occur
        (folds as `out_of_fold_probabilities` makes them; fewer than 2 possible: the scores are None, "not
        enough labels yet")."""
        return _cross_validated(X, Y, task=task, labels=labels, seed=seed, C=C)[0]

    @staticmethod
    def held_out_quality(X: np.ndarray, Y: np.ndarray, held_out: np.ndarray, *, task: TaskType | str,
                         labels: Sequence[str], seed: int = 0, C: float = DEFAULT_C) -> dict[str, Any]:
        """Accuracy and macro-F1 (as `cross_validate` computes them) of a model fitted on the rows outside
        `held_out` and scored on the rows inside; `n` counts the held-out rows. The scores are None when
        fewer than MIN_HELD_OUT rows are held out or the rest show fewer than two labels."""
        return _held_out_scored(X, Y, held_out, task=task, labels=labels, seed=seed, C=C)[0]


def _cross_validated(X: Any, Y: np.ndarray, *, task: TaskType | str, labels: Sequence[str], seed: int,
                     C: float) -> tuple[dict[str, Any], np.ndarray | None]:
    """(`cross_validate`'s scores, the out-of-fold probabilities they rest on or None)."""
    task = TaskType.parse(task)
    Y = np.asarray(Y)
    probs, folds = out_of_fold_probabilities(X, Y, task=task, labels=labels, seed=seed, C=C)
    if probs is None:
        return {"accuracy": None, "macro_f1": None, "n": len(Y), "folds": 0, "method": CROSS_VALIDATED}, None
    return {**_scores(Y, probs, task), "n": len(Y), "folds": folds, "method": CROSS_VALIDATED}, probs


def _held_out_scored(X: Any, Y: np.ndarray, held_out: np.ndarray, *, task: TaskType | str, labels: Sequence[str],
                     seed: int, C: float) -> tuple[dict[str, Any], np.ndarray | None]:
    """(`held_out_quality`'s scores, probabilities (n, L) of the held-out rows, NaN elsewhere, or None)."""
    task = TaskType.parse(task)
    X, Y, held_out = _features(X), np.asarray(Y), np.asarray(held_out, dtype=bool)
    out = {"accuracy": None, "macro_f1": None, "n": int(held_out.sum()), "folds": 0, "method": HELD_OUT}
    train = ~held_out
    seen = (Y[train].sum(axis=0) > 0).sum() if task.is_multi_label else len(np.unique(Y[train]))
    if held_out.sum() < MIN_HELD_OUT or seen < 2:
        return out, None
    probs = np.full((len(Y), len(labels)), np.nan)
    probs[held_out] = InstantModel.fit(X[train], Y[train], task=task, labels=labels, seed=seed,
                                       C=C).predict_proba(X[held_out])
    return {**out, **_scores(Y[held_out], probs[held_out], task)}, probs


def _scores(Y: np.ndarray, probs: np.ndarray, task: TaskType) -> dict[str, float]:
    """Accuracy (subset accuracy for multi-label) and macro-F1 over the labels that occur in `Y`."""
    from sklearn.metrics import accuracy_score, f1_score

    pred = (probs >= THRESHOLD).astype(int) if task.is_multi_label else probs.argmax(axis=1)
    if task.is_multi_label:
        present = np.flatnonzero(Y.sum(axis=0) > 0)
        macro = f1_score(Y[:, present], pred[:, present], average="macro", zero_division=0)
    else:
        macro = f1_score(Y.astype(int), pred, average="macro", labels=np.unique(Y.astype(int)), zero_division=0)
    return {"accuracy": round(float(accuracy_score(Y.astype(int), pred)), 4), "macro_f1": round(float(macro), 4)}


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
