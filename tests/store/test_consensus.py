import pytest

from ftdemo.store.consensus import AnnotatorState, consensus

ORDER = ["a", "b", "c"]


def st(kind, labels, i):
    return AnnotatorState(kind, tuple(labels), i)


def test_no_label_states_are_unlabelled():
    c = consensus({"x": st("skip", [], 1), "y": st("clear", [], 2)}, multi_label=False, label_order=ORDER)
    assert not c.is_labelled and c.labels == ()


def test_single_label_majority_and_tie_break_by_recency():
    c = consensus({"x": st("label", "a", 1), "y": st("label", "b", 2), "z": st("label", "a", 3)},
                  multi_label=False, label_order=ORDER)
    assert c.labels == ("a",) and c.annotators == 3 and c.agreement == pytest.approx(2 / 3)
    tie = consensus({"x": st("label", "a", 5), "y": st("label", "b", 9)}, multi_label=False, label_order=ORDER)
    assert tie.labels == ("b",) and tie.is_conflict


def test_multi_label_keeps_labels_chosen_by_at_least_half():
    c = consensus({"x": st("label", ["a", "b"], 1), "y": st("label", ["b"], 2), "z": st("label", ["c", "b"], 3)},
                  multi_label=True, label_order=ORDER)
    assert c.labels == ("b",)
    one = consensus({"x": st("label", ["c", "a"], 1)}, multi_label=True, label_order=ORDER)
    assert one.labels == ("a", "c") and one.agreement == 1.0 and not one.is_conflict
