"""Ranking strategies: uncertainty ordering, diverse covers clusters, default switches, seeds reproduce."""

from __future__ import annotations

import numpy as np
import pytest

from ftdemo.assist import strategies as S
from ftdemo.assist.similar import top_k


def _clusters(k: int = 6, per: int = 40, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(k, 8)) * 5
    which = np.repeat(np.arange(k), per)
    X = (centers[which] + rng.normal(size=(len(which), 8)) * 0.3).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True), which


def test_uncertainty_orders_by_margin_entropy_and_threshold_distance() -> None:
    p = np.array([[0.9, 0.1, 0.0], [0.4, 0.35, 0.25], [0.6, 0.4, 0.0]])
    assert np.argsort(-S.uncertainty(p, "single_label")).tolist() == [1, 2, 0]
    assert np.argmax(S.uncertainty(p, "pair", measure="entropy")) == 1
    multi = np.array([[0.95, 0.02], [0.55, 0.1], [0.9, 0.3]])
    assert np.argsort(-S.uncertainty(multi, "multi_label")).tolist() == [1, 2, 0]
    assert np.argmax(S.uncertainty(multi, "multi_label", thresholds=[0.9, 0.5])) == 2


def test_diverse_takes_one_per_cluster_and_uncovered_first() -> None:
    X, which = _clusters()
    picks = S.diverse(X, 6, seed=0)
    assert sorted(which[picks].tolist()) == list(range(6))
    labelled = X[which == 3][:2]
    again = S.diverse(X, 6, seed=0, X_labelled=labelled)
    assert which[again[-1]] == 3  # the covered cluster comes last


def test_default_is_diverse_until_every_label_has_enough_then_uncertain() -> None:
    X, which = _clusters()
    probs = np.tile([0.99, 0.01], (len(X), 1))
    probs[17] = [0.5, 0.5]
    early = S.rank("default", X_pool=X, probs_pool=probs, label_counts={"a": 5, "b": 4}, task="single_label",
                   k=6, seed=0)
    assert sorted(which[early].tolist()) == list(range(6))
    policy = S.DefaultPolicy(min_per_label=5, explore=0.0)
    later = S.rank("default", X_pool=X, probs_pool=probs, label_counts={"a": 5, "b": 5}, task="single_label",
                   k=6, seed=0, policy=policy)
    assert later[0] == 17


def test_default_explores_a_share_at_random() -> None:
    X, _ = _clusters(per=200)
    probs = np.random.default_rng(1).dirichlet([1, 1], size=len(X))
    best = S.rank("uncertain", X_pool=X, probs_pool=probs, task="single_label", k=200, seed=0)
    mixed = S.rank("default", X_pool=X, probs_pool=probs, label_counts=[9, 9], task="single_label", k=200, seed=0,
                   policy=S.DefaultPolicy(explore=0.5))
    outside = len(set(mixed.tolist()) - set(best.tolist()))
    assert 50 < outside < 150 and len(set(mixed.tolist())) == 200


@pytest.mark.parametrize("strategy", S.STRATEGIES)
def test_seeds_reproduce_and_no_model_falls_back(strategy: str) -> None:
    X, _ = _clusters()
    probs = np.random.default_rng(2).dirichlet([1, 1, 1], size=len(X))
    a = S.rank(strategy, X_pool=X, probs_pool=probs, label_counts=[9, 9, 9], k=20, seed=3)
    b = S.rank(strategy, X_pool=X, probs_pool=probs, label_counts=[9, 9, 9], k=20, seed=3)
    assert np.array_equal(a, b) and len(set(a.tolist())) == len(a) == 20
    assert len(S.rank(strategy, X_pool=X, probs_pool=None, k=5, seed=0)) == 5
    with pytest.raises(ValueError, match="unknown strategy"):
        S.rank("best", X_pool=X, k=5)


def test_similar_top_k() -> None:
    X, which = _clusters()
    idx, scores = top_k(X, X[5], 10, exclude=5)
    assert 5 not in idx.tolist() and np.all(which[idx] == which[5]) and np.all(np.diff(scores) <= 1e-6)
    assert len(top_k(X[:3], X[0], 10)[0]) == 3 and len(top_k(X[:0], X[0], 3)[0]) == 0
