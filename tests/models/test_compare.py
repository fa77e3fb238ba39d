"""The paired comparison: its interval, its test and its words, against direct computations."""

import numpy as np
import pytest
from statsmodels.stats.contingency_tables import mcnemar

from ftdemo.models.compare import paired_comparison


def test_identical_models_are_level_and_not_clearly_different():
    scores = np.array([1, 0, 1, 1, 0, 1, 1, 1] * 5, dtype=float)
    c = paired_comparison(scores, scores)
    assert (c.difference, c.low, c.high, c.p_value, c.n) == (0.0, 0.0, 0.0, 1.0, 40)
    assert not c.clearly_better and not c.clearly_worse
    assert c.describe() == "level with the active model (± 0.0 points) on 40 examples: not clearly different"


def test_difference_interval_and_mcnemar_match_direct_computation():
    rng = np.random.default_rng(3)
    ref = (rng.random(400) < 0.7).astype(float)
    cand = ref.copy()
    flip = rng.choice(400, 60, replace=False)
    cand[flip[:45]] = 1.0  # mostly fixes the reference's mistakes
    cand[flip[45:]] = 0.0
    c = paired_comparison(cand, ref, seed=1)
    assert c.difference == pytest.approx((cand - ref).mean())
    assert c.low < c.difference < c.high
    table = [[int(((cand == 1) & (ref == 1)).sum()), int(((cand == 1) & (ref == 0)).sum())],
             [int(((cand == 0) & (ref == 1)).sum()), int(((cand == 0) & (ref == 0)).sum())]]
    assert c.p_value == pytest.approx(mcnemar(table, exact=True).pvalue)
    assert c.test == "mcnemar"
    # the same rows resampled together: the interval is the percentile bootstrap of the mean difference
    boot = np.random.default_rng(1)
    d = cand - ref
    means = d[boot.integers(0, 400, size=(2000, 400))].mean(axis=1)
    assert (c.low, c.high) == pytest.approx(tuple(np.quantile(means, [0.025, 0.975])))


def test_a_clear_win_and_a_small_noisy_one():
    ref = np.zeros(200)
    cand = np.r_[np.ones(60), np.zeros(140)]
    clear = paired_comparison(cand, ref)
    assert clear.clearly_better and clear.p_value < 1e-6
    assert clear.describe().startswith("better than the active model by 30.0 ± ")
    assert clear.describe().endswith("on 200 examples: clearly better")
    small = paired_comparison(np.r_[1, 1, 0, 1, 0, 1], np.r_[1, 0, 1, 1, 0, 0])
    assert small.difference > 0 and not small.clearly_better  # one more right out of 6 proves nothing
    assert "not clearly different" in small.describe()
    assert paired_comparison(ref, cand).clearly_worse


def test_continuous_scores_use_wilcoxon_and_bad_shapes_are_refused():
    rng = np.random.default_rng(0)
    ref = rng.random(50)
    c = paired_comparison(ref + 0.1, ref)
    assert c.test == "wilcoxon" and c.clearly_better and c.difference == pytest.approx(0.1)
    assert paired_comparison([], []).describe() == "no common examples to compare with the active model on"
    with pytest.raises(ValueError, match="same rows"):
        paired_comparison([1, 0], [1])
