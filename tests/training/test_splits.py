"""Splits: deterministic, stable as data grows, stratified, and sane on tiny data."""

from __future__ import annotations

import random

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training.splits import check_examples, hash_split, make_splits, trained_ids, unit_hash


def _data(n: int, labels=("a", "b", "c"), weights=(0.6, 0.3, 0.1), start: int = 0, seed: int = 0):
    rng = random.Random(seed)
    return [LabelledText(i, f"text {i}", None, (rng.choices(labels, weights)[0],)) for i in range(start, start + n)]


def test_unit_hash_is_deterministic_and_roughly_uniform():
    values = [unit_hash(i) for i in range(20_000)]
    assert values[:5] == [unit_hash(i) for i in range(5)]
    assert all(0 <= v < 1 for v in values)
    assert abs(sum(v < 0.1 for v in values) / len(values) - 0.1) < 0.01


def test_same_input_same_split_regardless_of_order():
    data = _data(500)
    a = make_splits(data, ["a", "b", "c"], "single_label").assignment()
    b = make_splits(list(reversed(data)), ["a", "b", "c"], "single_label").assignment()
    assert a == b


def test_adding_examples_never_moves_earlier_ones():
    old = _data(2000)
    new = old + _data(1000, start=5000, seed=1)
    before = make_splits(old, ["a", "b", "c"], "single_label").assignment()
    after = make_splits(new, ["a", "b", "c"], "single_label").assignment()
    assert {i: after[i] for i in before} == before


def test_relabelling_does_not_move_an_example():
    data = _data(300)
    swap = {"a": "b", "b": "a", "c": "c"}
    relabelled = [LabelledText(ex.id, ex.text, None, (swap[ex.labels[0]],)) for ex in data]
    # big classes need no repair, so every example stays in its id-hash bucket
    assert make_splits(data, ["a", "b", "c"], "single_label").assignment() == \
        make_splits(relabelled, ["a", "b", "c"], "single_label").assignment()


def test_fractions_per_class_are_close_to_target():
    data = _data(6000)
    splits = make_splits(data, ["a", "b", "c"], "single_label", val_fraction=0.1, test_fraction=0.2)
    for lab in ("a", "b", "c"):
        n = sum(ex.labels[0] == lab for ex in data)
        val = sum(ex.labels[0] == lab for ex in splits.validation) / n
        test = sum(ex.labels[0] == lab for ex in splits.test) / n
        assert abs(val - 0.1) < 0.04 and abs(test - 0.2) < 0.05, (lab, val, test)


def test_test_split_is_the_hash_bucket_for_large_data():
    data = _data(1000)
    splits = make_splits(data, ["a", "b", "c"], "single_label")
    assert {ex.id for ex in splits.test} == {ex.id for ex in data if hash_split(ex.id, 0.1, 0.1) == "test"}


def test_refuses_labels_with_fewer_than_two_examples_and_names_them():
    data = [LabelledText(i, "x", None, ("pos",)) for i in range(5)] + [LabelledText(9, "y", None, ("neg",))]
    with pytest.raises(InvalidInputError) as err:
        make_splits(data, ["pos", "neg", "neutral"], "single_label")
    message = str(err.value)
    assert "neg (1)" in message and "neutral (0)" in message and "pos" not in message.split(":")[-1]


@pytest.mark.parametrize("n_per_class", [2, 3, 4, 7])
def test_tiny_data_every_class_trains_and_validation_is_not_empty(n_per_class):
    for offset in range(0, 400, 37):  # many different id sets, i.e. many hash layouts
        data = [LabelledText(offset + i, "t", None, (lab,)) for i, lab in
                enumerate(lab for lab in ("x", "y") for _ in range(n_per_class))]
        splits = make_splits(data, ["x", "y"], "single_label")
        assert splits.validation, offset
        for lab in ("x", "y"):
            assert any(ex.labels == (lab,) for ex in splits.train), (offset, lab)
            if n_per_class >= 3:
                assert any(ex.labels == (lab,) for ex in splits.validation), (offset, lab)
        assert sum(splits.counts().values()) == len(data)


def test_multi_label_counts_positives_and_keeps_each_label_in_train():
    data = [LabelledText(i, "t", None, labs) for i, labs in enumerate(
        [("a",), ("a", "b"), ("b",), (), (), ("a",), ("b", "c"), ("c",), ()])]
    splits = make_splits(data, ["a", "b", "c"], TaskType.MULTI_LABEL)
    for lab in "abc":
        assert any(lab in ex.labels for ex in splits.train)
    assert splits.validation
    with pytest.raises(InvalidInputError, match="d \\(0\\)"):
        make_splits(data, ["a", "b", "c", "d"], TaskType.MULTI_LABEL)


@pytest.mark.parametrize("bad, message", [
    ([LabelledText(1, "t", None, ("a",)), LabelledText(1, "u", None, ("b",))], "appears twice"),
    ([LabelledText(1, "t", None, ("zzz",))], "'zzz' is not one of"),
    ([LabelledText(1, "t", None, ("a", "b"))], "exactly one label"),
])
def test_check_examples_rejects_bad_input(bad, message):
    with pytest.raises(InvalidInputError, match=message):
        check_examples(bad, ["a", "b"], "single_label")


def test_pair_examples_need_a_second_text():
    data = [LabelledText(i, "t", "u" if i else None, ("a" if i % 2 else "b",)) for i in range(4)]
    with pytest.raises(InvalidInputError, match="second text"):
        check_examples(data, ["a", "b"], "pair")


def test_trained_ids_are_the_runs_train_split_and_its_self_training_pool():
    items = [[i, ["a" if i % 2 else "b"]] for i in range(1, 61)]
    snapshot = {"labels": ["a", "b"], "items": items, "pool": [100, 101]}
    examples = [LabelledText(i, "", None, tuple(ls)) for i, ls in items]
    train = {ex.id for ex in make_splits(examples, ["a", "b"], "single_label", val_fraction=0.2, test_fraction=0.1).train}
    assert 30 < len(train) < 60
    plain = {"val_fraction": 0.2, "test_fraction": 0.1, "self_training_rounds": 0}
    assert trained_ids(snapshot, plain, "single_label") == train  # the pool was not trained on
    assert trained_ids(snapshot, {**plain, "self_training_rounds": 2}, "single_label") == train | {100, 101}
    assert trained_ids({"labels": ["a", "b"]}, plain, "single_label") is None  # a snapshot without items
    assert trained_ids({"labels": ["a", "b"], "items": [[1, ["a"]]]}, plain, "single_label") is None  # no split
