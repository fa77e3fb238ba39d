"""The fine-tune check (training/crossfit.py) on the tiny model and learnable toy tasks: every example is
scored by the fine-tune that did not train on it, a planted wrong label stands out, and a stop is a stop."""

from __future__ import annotations

import numpy as np
import pytest

from ftdemo.errors import InvalidInputError, TrainingCancelled
from ftdemo.tasks import LabelledText, TaskType
from ftdemo.training.crossfit import crossfit
from ftdemo.training.splits import fold_splits, targets

from .conftest import toy_multi, toy_single


def test_every_example_is_scored_out_of_fold_and_a_flipped_label_is_not_believed(fast_config):
    rows = toy_single(120)
    flipped = {3, 40, 77}  # a keyword says otherwise: the folds that hold these out must disagree with them
    rows = [LabelledText(ex.id, ex.text, None, (("pos" if ex.labels[0] == "neg" else "neg"),))
            if ex.id in flipped else ex for ex in rows]
    events = []
    result = crossfit(rows, ["neg", "pos"], "single_label", fast_config(), folds=3, callbacks=[events.append])
    assert result.ids == [ex.id for ex in rows] and result.probabilities.shape == (120, 2) and result.folds == 3
    assert np.allclose(result.probabilities.sum(axis=1), 1.0, atol=1e-5)
    Y = targets(rows, ["neg", "pos"], TaskType.SINGLE_LABEL)
    given = result.probabilities[np.arange(120), Y]
    assert all(given[i] < 0.5 for i in flipped)  # the fine-tunes that held them out side with the keyword
    assert result.accuracy > 0.85 and len(result.fold_seconds) == 3
    ends = [e for e in events if e.kind == "end"]
    assert [(e.metrics["fold"], e.metrics["folds"]) for e in ends] == [(1, 3), (2, 3), (3, 3)]
    assert result.metrics()["examples"] == 120


def test_the_folds_are_the_instant_models_and_multi_label_works(fast_config):
    rows = toy_multi(200)
    labels = ["sport", "money", "food"]
    Y = targets(rows, labels, TaskType.MULTI_LABEL)
    assert [len(h) for _, h in fold_splits(Y, task="multi_label", seed=0, max_folds=4)] == [50, 50, 50, 50]
    result = crossfit(rows, labels, "multi_label", fast_config(epochs=10), folds=4)
    assert result.probabilities.shape == (200, 3) and ((result.probabilities >= 0) & (result.probabilities <= 1)).all()
    assert result.accuracy > 0.6  # whole label sets right, out of fold (chance: 1/8)


def test_too_few_labels_and_bad_folds_are_refused_and_a_stop_saves_nothing(fast_config):
    rows = toy_single(40)
    with pytest.raises(InvalidInputError, match="folds must be from 2 to 10"):
        crossfit(rows, ["neg", "pos"], "single_label", fast_config(), folds=11)
    one_neg = [ex for ex in rows if ex.labels == ("pos",)] + [rows[0]]
    with pytest.raises(InvalidInputError, match="at least 2 labelled examples of every label"):
        crossfit(one_neg, ["neg", "pos"], "single_label", fast_config(), folds=5)
    with pytest.raises(TrainingCancelled):
        crossfit(rows, ["neg", "pos"], "single_label", fast_config(), folds=2, should_stop=lambda: True)
