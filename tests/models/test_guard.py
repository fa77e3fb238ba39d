"""The activation guard's rule (models/guard.py), on comparisons built by hand."""

from __future__ import annotations

import numpy as np

from ftdemo.jobs.runner import added_labels
from ftdemo.models.compare import PairedComparison, paired_comparison
from ftdemo.models.guard import paired_activation


def _comparison(difference: float, low: float, high: float, p: float = 0.5, n: int = 30) -> PairedComparison:
    return PairedComparison(difference, low, high, p, n, 0.95, "wilcoxon")


LEVEL = _comparison(0.01, -0.08, 0.10)
WORSE = _comparison(-0.12, -0.20, -0.03, p=0.01)
BETTER = _comparison(0.12, 0.03, 0.20, p=0.01)


def test_no_active_model_activates_and_a_clear_win_activates():
    assert paired_activation(None) == (True, "no active model to compare with; activated")
    ok, reason = paired_activation(BETTER, active_version="v0001")
    assert ok and reason.endswith("clearly better; activated") and "the active model (v0001)" in reason


def test_the_same_labels_and_no_clear_difference_keep_the_candidate_waiting():
    ok, reason = paired_activation(LEVEL, 0.01, active_version="v0001")
    assert not ok and "not clearly different; kept as candidate" in reason


def test_more_labels_activate_unless_clearly_worse():
    ok, reason = paired_activation(LEVEL, 0.01, active_version="v0001", added_labels=120)
    assert ok and reason.endswith("trained on the same labels and 120 more labels, and not clearly worse: activated")
    assert paired_activation(LEVEL, added_labels=1)[1].endswith("and 1 more label, and not clearly worse: activated")
    ok, reason = paired_activation(WORSE, 0.01, active_version="v0001", added_labels=120)
    assert not ok and "clearly worse; kept as candidate" in reason
    # the interval alone holds it back, even where the exact test is not significant
    assert not paired_activation(_comparison(-0.05, -0.09, -0.01, p=0.2), added_labels=50)[0]


def test_added_labels_counts_new_labels_only_when_the_candidate_has_all_of_the_active_ones():
    snap = lambda ids: {"items": [[i, [0]] for i in ids]}  # noqa: E731
    assert added_labels(snap(range(100)), snap(range(60))) == 40
    assert added_labels(snap(range(100)), snap(range(100))) == 0  # the same labels
    assert added_labels(snap(range(1, 100)), snap(range(60))) == 0  # one of the active's examples is gone
    assert added_labels(snap(range(100)), None) == 0 and added_labels(snap(range(100)), {}) == 0  # no run known


def test_a_real_comparison_feeds_the_rule():
    rng = np.random.default_rng(0)
    active = rng.uniform(0.4, 0.9, 40)
    same = paired_comparison(active + rng.normal(0, 0.02, 40), active)
    assert not same.clearly_worse and paired_activation(same, added_labels=10)[0]
    assert not paired_activation(paired_comparison(active - 0.2, active), added_labels=10)[0]
