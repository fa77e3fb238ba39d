"""The learning-curve arithmetic of `bench label-efficiency` on hand-made curves."""

from __future__ import annotations

import math

import pytest

from ftdemo.benchmarks.learning_curves import (
    area,
    at_budget,
    labels_to_reach,
    mean_curve,
    mean_se,
    points,
    summarise,
)


def curve(*pairs, finetune=None):
    ft = finetune or {}
    return [{"labels": n, "instant_accuracy": acc, "finetune_accuracy": ft.get(n)} for n, acc in pairs]


def test_mean_and_standard_error_over_seeds():
    mean, se = mean_se([0.7, 0.8, 0.9])
    assert mean == pytest.approx(0.8) and se == pytest.approx(0.1 / math.sqrt(3))
    assert mean_se([0.5]) == (0.5, None)  # one seed: no spread to speak of
    assert mean_se([None, None]) == (None, None) and mean_se([0.4, None]) == (0.4, None)


def test_mean_curve_averages_point_by_point_and_keeps_missing_fine_tunes_null():
    a = curve((50, 0.6), (100, 0.7), finetune={100: 0.8})
    b = curve((50, 0.8), (100, 0.9), finetune={100: 0.9})
    out = mean_curve([a, b])
    assert [p["labels"] for p in out] == [50, 100]
    assert out[0]["instant_accuracy"] == pytest.approx(0.7) and out[0]["instant_accuracy_se"] == pytest.approx(0.1)
    assert out[0]["finetune_accuracy"] is None and out[0]["finetune_accuracy_se"] is None
    assert out[1]["finetune_accuracy"] == pytest.approx(0.85)
    with pytest.raises(ValueError):
        mean_curve([a, curve((50, 0.6), (200, 0.7))])


def test_area_is_a_mean_accuracy_over_the_budget_range():
    assert area([(0, 0.5), (100, 0.5)]) == pytest.approx(0.5)  # flat: its height
    # 50..100 at 0.6 -> 0.8 (area 35), 100..200 at 0.8 -> 0.9 (area 85): 120 over a range of 150
    assert area([(50, 0.6), (100, 0.8), (200, 0.9)]) == pytest.approx(120 / 150)
    assert area([(600, 0.8)]) == 0.8 and area([]) is None


def test_labels_to_reach_interpolates_between_the_budgets_around_the_crossing():
    xy = [(50, 0.6), (100, 0.7), (200, 0.9)]
    assert labels_to_reach(xy, 0.8) == pytest.approx(150)
    assert labels_to_reach(xy, 0.7) == 100  # reached exactly at a budget
    assert labels_to_reach(xy, 0.5) == 50  # already there at the first budget: "at most 50"
    assert labels_to_reach(xy, 0.95) is None  # never
    # a dip after reaching it does not move the answer: the first crossing counts
    assert labels_to_reach([(50, 0.6), (100, 0.9), (200, 0.7)], 0.8) == pytest.approx(50 + 50 * 2 / 3)


def test_summary_measures_every_strategy_against_random_at_its_largest_budget():
    curves = {
        "random": curve((50, 0.6), (100, 0.7), (600, 0.8), (1000, 0.85), finetune={600: 0.86, 1000: 0.88}),
        "default": curve((50, 0.65), (100, 0.75), (600, 0.86), (1000, 0.87), finetune={600: 0.89, 1000: 0.9}),
        "diverse": curve((50, 0.55), (100, 0.6), (600, 0.7), (1000, 0.8)),
    }
    out = summarise(curves)
    assert out["random_target"] == {"labels": 1000, "accuracy": 0.85}
    assert out["labels_to_match_random"]["random"] == 1000
    # default crosses 0.85 between 100 (0.75) and 600 (0.86): 100 + 500 * 0.10/0.11, rounded up to a whole label
    assert out["labels_to_match_random"]["default"] == math.ceil(100 + 500 * 0.10 / 0.11)
    assert out["labels_to_match_random"]["diverse"] is None
    assert out["auc"]["default"] > out["auc"]["random"] > out["auc"]["diverse"]
    # fine-tunes: only where trained; default was already past random's 0.88 at its first fine-tune budget
    assert out["random_target_finetune"] == {"labels": 1000, "accuracy": 0.88}
    assert out["labels_to_match_random_finetune"] == {"random": 1000, "default": 600, "diverse": None}
    assert out["auc_finetune"]["diverse"] is None and out["auc_finetune"]["random"] == pytest.approx(0.87)
    assert points(curves["diverse"], "finetune_accuracy") == []
    assert at_budget(curves["default"], 600, "finetune_accuracy") == 0.89 and at_budget(curves["default"], 7, "x") is None


def test_summary_without_random_fine_tunes_has_no_fine_tune_target():
    out = summarise({"random": curve((50, 0.6)), "default": curve((50, 0.7))})
    assert out["random_target_finetune"] is None
    assert out["labels_to_match_random_finetune"] == {"random": None, "default": None}
