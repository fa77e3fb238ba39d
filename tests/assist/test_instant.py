"""The instant model on separable toy embeddings: single-label, multi-label, pairs; honest CV quality."""

from __future__ import annotations

import numpy as np
import pytest

from ftdemo.assist.instant import InstantModel, labels_of


def _blobs(n_per: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, 16)) * 3
    y = np.repeat(np.arange(k), n_per)
    X = (centers[y] + rng.normal(size=(len(y), 16))).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


@pytest.mark.parametrize("task", ["single_label", "pair"])
def test_single_label_fit_predict_and_cv(task: str) -> None:
    X, y = _blobs(20, 3)
    m = InstantModel.fit(X, y, task=task, labels=["a", "b", "c"])
    probs = m.predict_proba(X)
    assert probs.shape == (60, 3) and np.allclose(probs.sum(axis=1), 1.0)
    assert m.predict_labels(X[:1]) == [("a",)]
    q = m.quality
    assert q["folds"] == 5 and q["n"] == 60 and q["accuracy"] > 0.9 and q["macro_f1"] > 0.9


def test_folds_follow_the_smallest_class_and_too_few_labels_give_none() -> None:
    X, y = _blobs(6, 2)
    y[:4] = 1  # class 0 keeps 2 examples
    assert InstantModel.cross_validate(X, y, task="single_label", labels=["a", "b"])["folds"] == 2
    one_each = InstantModel.cross_validate(X[[0, 6]], np.array([0, 1]), task="single_label", labels=["a", "b"])
    assert one_each["folds"] == 0 and one_each["macro_f1"] is None and one_each["accuracy"] is None


def test_unseen_labels_get_zero_and_one_class_is_constant() -> None:
    X, y = _blobs(10, 2)
    m = InstantModel.fit(X, y, task="single_label", labels=["a", "b", "c"])
    assert np.all(m.predict_proba(X)[:, 2] == 0)
    only = InstantModel.fit(X[:5], np.zeros(5, dtype=int), task="single_label", labels=["a", "b"])
    assert only.predict_labels(X[-1:]) == [("a",)] and only.quality["macro_f1"] is None


def test_multi_label_one_vs_rest() -> None:
    X, y = _blobs(20, 3)
    Y = np.stack([y == 0, (y == 1) | (y == 2), np.zeros_like(y, dtype=bool)], axis=1).astype(int)
    m = InstantModel.fit(X, Y, task="multi_label", labels=["x", "y", "never"])
    probs = m.predict_proba(X)
    assert probs.shape == (60, 3) and np.all(probs[:, 2] == 0)
    assert m.predict_labels(X[:1]) == [("x",)] and m.predict_labels(X[-1:]) == [("y",)]
    q = m.quality
    assert q["folds"] >= 2 and q["macro_f1"] > 0.9


def test_labels_of() -> None:
    p = np.array([[0.2, 0.7, 0.6]])
    assert labels_of(p, "single_label", ["a", "b", "c"]) == [("b",)]
    assert labels_of(p, "multi_label", ["a", "b", "c"]) == [("b", "c")]


def test_held_out_quality_scores_a_model_fitted_on_the_other_rows() -> None:
    X, y = _blobs(20, 2)
    held = np.zeros(40, dtype=bool)
    held[::4] = True
    y_flipped = y.copy()
    y_flipped[held] = 1 - y_flipped[held]  # the held-out answers are all wrong: a fair test scores them 0
    fair = InstantModel.fit(X, y_flipped, task="single_label", labels=["a", "b"], held_out=held).quality
    assert fair == {"accuracy": 0.0, "macro_f1": 0.0, "n": 10, "folds": 0, "method": "held-out"}
    assert InstantModel.fit(X, y_flipped, task="single_label", labels=["a", "b"]).quality["method"] == "cross-validated"
    few = InstantModel.held_out_quality(X, y, np.arange(40) < 4, task="single_label", labels=["a", "b"])
    assert few["macro_f1"] is None and few["n"] == 4  # fewer than MIN_HELD_OUT
    one_class_left = InstantModel.held_out_quality(X, y, y == 1, task="single_label", labels=["a", "b"])
    assert one_class_left["macro_f1"] is None
    with pytest.raises(ValueError, match="one flag per row"):
        InstantModel.fit(X, y, task="single_label", labels=["a", "b"], held_out=held[:5])
