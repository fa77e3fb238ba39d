"""Metrics against small hand-checked cases."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftdemo.training.metrics import multi_label_metrics, single_label_metrics, tune_thresholds


def test_binary_metrics_by_hand():
    # truth:  a a b b ; predicted: a b b b  → accuracy 3/4
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7]])
    m = single_label_metrics([0, 0, 1, 1], probs, ["a", "b"])
    assert m["n"] == 4 and m["accuracy"] == 0.75
    # a: P=1, R=1/2, F1=2/3 ; b: P=2/3, R=1, F1=4/5 ; macro = (2/3 + 4/5)/2
    assert m["per_class"]["a"]["precision"] == 1.0 and m["per_class"]["a"]["recall"] == 0.5
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["confusion_matrix"] == [[1, 1], [0, 2]]
    # scores of b for the (a, a, b, b) rows: 0.1 0.6 | 0.8 0.7 → every b above every a: AUC 1
    assert m["roc_auc"] == 1.0
    json.dumps(m)  # plain JSON-able


def test_multiclass_auc_skips_classes_missing_from_truth_and_macro_f1_ignores_them():
    probs = np.array([[0.7, 0.2, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
    m = single_label_metrics([0, 1, 0], probs, ["x", "y", "z"])
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0  # z absent and never predicted
    assert m["per_class"]["z"]["support"] == 0 and "roc_auc" not in m["per_class"]["z"]
    assert m["roc_auc"] == 1.0
    assert m["confusion_matrix"] == [[2, 0, 0], [0, 1, 0], [0, 0, 0]]


def test_auc_undefined_with_a_single_class_and_empty_split():
    m = single_label_metrics([1, 1], np.array([[0.4, 0.6], [0.1, 0.9]]), ["a", "b"])
    assert m["roc_auc"] is None
    assert single_label_metrics([], np.zeros((0, 2)), ["a", "b"]) == {"n": 0}


def test_multi_label_metrics_by_hand():
    y = np.array([[1, 0], [1, 1], [0, 0]])
    probs = np.array([[0.8, 0.3], [0.6, 0.4], [0.2, 0.9]])
    m = multi_label_metrics(y, probs, ["a", "b"], thresholds=[0.5, 0.5])
    # predicted: [1,0] [1,0] [0,1] → rows right: 1st only → subset accuracy 1/3
    assert m["subset_accuracy"] == m["accuracy"] == pytest.approx(1 / 3)
    # a: tp 2 fp 0 fn 0 → F1 1 ; b: tp 0 fp 1 fn 1 → F1 0 ; micro: tp 2 fp 1 fn 1 → 2/3
    assert m["macro_f1"] == pytest.approx(0.5) and m["micro_f1"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"][1] == [[1, 1], [1, 0]]  # label b: [[tn, fp], [fn, tp]]
    assert m["per_class"]["b"]["threshold"] == 0.5
    lowered = multi_label_metrics(y, probs, ["a", "b"], thresholds=[0.5, 0.35])
    assert lowered["per_class"]["b"]["recall"] == 1.0
    json.dumps(m)


def test_tune_thresholds_finds_the_separating_cut_and_keeps_default_without_positives():
    y = np.array([[1, 0], [1, 0], [0, 0], [0, 0]])
    probs = np.array([[0.30, 0.9], [0.25, 0.1], [0.10, 0.2], [0.05, 0.3]])
    low, untouched = tune_thresholds(y, probs, default=0.5)
    assert 0.10 < low <= 0.25  # any cut between the negatives and positives; nearest 0.5 wins
    assert untouched == 0.5
