"""Confident learning on out-of-fold instant-model probabilities finds planted label errors (pure, no model)."""

import numpy as np
import pytest

from ftdemo.assist.instant import out_of_fold_probabilities
from ftdemo.assist.suspects import SUSPECTS_C, combine, find_suspects


def _clusters(n_per: int, centres: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(centres, 16)) * 3
    X = np.concatenate([m + rng.normal(size=(n_per, 16)) for m in means]).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True), np.repeat(np.arange(centres), n_per)


def test_planted_flips_come_first_with_the_original_label_suggested():
    X, Y = _clusters(60, 3)
    noisy = Y.copy()
    flips = np.array([3, 70, 150, 170])
    noisy[flips] = (Y[flips] + 1) % 3
    labels = ("a", "b", "c")
    probs, folds = out_of_fold_probabilities(X, noisy, task="single_label", labels=labels, C=SUSPECTS_C)
    assert folds == 5
    found = find_suspects(noisy, probs, task="single_label", labels=labels)
    top = found[:len(flips)]
    assert {s.row for s in top} == set(flips.tolist())
    for s in top:
        assert s.given == (labels[noisy[s.row]],) and s.suggested == (labels[Y[s.row]],)
        assert 0.5 < s.probability <= 1 and 0 < s.confidence <= 1
    assert [s.confidence for s in found] == sorted((s.confidence for s in found), reverse=True)
    assert find_suspects(noisy, probs, task="single_label", labels=labels, limit=2) == found[:2]


def test_multi_label_suspects_name_the_label_set_to_fix():
    X, groups = _clusters(50, 2, seed=1)
    Y = np.stack([groups == 0, groups == 1, np.zeros(len(groups), dtype=bool)], axis=1).astype(int)
    Y[:, 2] = (np.arange(len(Y)) % 2)  # a third label, independent of the clusters
    noisy = Y.copy()
    noisy[[5, 60], 0] = 1 - noisy[[5, 60], 0]
    labels = ("x", "y", "z")
    probs, _ = out_of_fold_probabilities(X, noisy, task="multi_label", labels=labels, C=SUSPECTS_C)
    found = find_suspects(noisy, probs, task="multi_label", labels=labels)
    rows = [s.row for s in found]
    assert {5, 60} <= set(rows)
    by_row = {s.row: s for s in found}
    # row 5 lost its "x", row 60 got one it should not have: the suggestion puts it right
    assert "x" not in by_row[5].given and "x" in by_row[5].suggested
    assert "x" in by_row[60].given and "x" not in by_row[60].suggested and "y" in by_row[60].suggested


def test_clean_separable_labels_raise_no_suspects_and_empty_input_is_fine():
    X, Y = _clusters(40, 2, seed=2)
    probs, _ = out_of_fold_probabilities(X, Y, task="single_label", labels=("a", "b"), C=SUSPECTS_C)
    assert find_suspects(Y, probs, task="single_label", labels=("a", "b")) == []
    assert find_suspects(np.zeros(0, dtype=int), np.zeros((0, 2)), task="single_label", labels=("a", "b")) == []


def test_combine_averages_the_models_that_scored_each_row():
    a = np.array([[0.9, 0.1], [0.2, 0.8], [0.5, 0.5]])
    b = np.array([[0.7, 0.3], [np.nan, np.nan], [0.1, 0.9]])  # row 1: not covered (labelled after a check)
    both = combine([a, b])
    assert np.allclose(both, [[0.8, 0.2], [0.2, 0.8], [0.3, 0.7]])
    with pytest.raises(ValueError, match="no model scored"):
        combine([b, b])
