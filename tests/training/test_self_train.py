"""Self-training: which pool texts become pseudo-labels (pure), and the rounds on the tiny random BERT."""

from __future__ import annotations

import numpy as np
import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText
from ftdemo.training.config import TrainConfig
from ftdemo.training.self_train import select_pseudo_labels, train_with_pool

from .conftest import toy_single


def cfg(**changes: object) -> TrainConfig:
    return TrainConfig(**{"self_training_rounds": 1, **changes})


def test_threshold_rule_takes_confident_rows_most_confident_first_up_to_the_share():
    probs = np.array([[0.95, 0.05], [0.6, 0.4], [0.02, 0.98], [0.91, 0.09], [0.5, 0.5]])
    chosen = select_pseudo_labels(probs, "single_label", cfg(pseudo_label_rule="threshold", pseudo_label_threshold=0.9,
                                                             pseudo_label_share=1.0))
    assert chosen == [(2, (1,)), (0, (0,)), (3, (0,))]
    capped = select_pseudo_labels(probs, "single_label", cfg(pseudo_label_rule="threshold", pseudo_label_share=0.4))
    assert capped == [(2, (1,)), (0, (0,))]  # 40% of 5 rows


def test_balanced_top_k_keeps_the_favourite_class_from_crowding_out_the_others():
    probs = np.array([[0.99, 0.01]] * 8 + [[0.05, 0.95]] * 2 + [[0.5, 0.5]] * 10)
    chosen = select_pseudo_labels(probs, "single_label", cfg(pseudo_label_share=0.4))  # 8 rows, 4 per label
    per_label = [sum(1 for _, labs in chosen if labs == (k,)) for k in (0, 1)]
    assert per_label == [4, 2]  # label 0 stops at its share; label 1 has only 2 confident rows


def test_multi_label_pseudo_labels_need_every_label_decided_and_one_present():
    probs = np.array([[0.97, 0.02, 0.96], [0.97, 0.5, 0.01], [0.01, 0.02, 0.03], [0.05, 0.99, 0.02]])
    chosen = select_pseudo_labels(probs, "multi_label", cfg(pseudo_label_rule="threshold", pseudo_label_share=1.0),
                                  thresholds=[0.5, 0.5, 0.5])
    assert sorted(chosen) == [(0, (0, 2)), (3, (1,))]  # row 1 has an undecided label, row 2 no label at all


def test_self_training_options_are_validated():
    with pytest.raises(InvalidInputError, match="pseudo_label_rule"):
        TrainConfig(pseudo_label_rule="vote")
    with pytest.raises(InvalidInputError, match="pseudo_label_weight"):
        TrainConfig(pseudo_label_weight=0.0)
    assert TrainConfig.from_dict(TrainConfig(self_training_rounds=2).to_dict()).self_training_rounds == 2


def test_a_round_trains_a_student_on_pseudo_labels_and_keeps_it_only_if_clearly_better(fast_config):
    gold = toy_single(100)
    pool = [LabelledText(1000 + ex.id, ex.text, None, ()) for ex in toy_single(200, seed=1)]
    events = []
    result = train_with_pool(gold, ["neg", "pos"], "single_label",
                             fast_config(self_training_rounds=2, pseudo_label_threshold=0.6), pool,
                             callbacks=[events.append])
    info = result.self_training
    assert info["pool"] == 200 and info["rounds"]
    first = info["rounds"][0]
    assert first["pseudo_labelled"] > 0 and sum(first["per_label"].values()) == first["pseudo_labelled"]
    assert first["kept"] == (first["comparison"]["low"] > 0)  # clearly better: the whole interval above 0
    assert info["kept_rounds"] == sum(r["kept"] for r in info["rounds"])
    if not first["kept"]:
        assert len(info["rounds"]) == 1  # a student that is not clearly better ends the rounds
    assert [e.kind for e in events].count("end") == 1 and events[-1].kind == "end"
    assert result.counts["validation"]["total"] + result.counts["test"]["total"] + result.counts["train"]["total"] == 100
    kept = [r for r in info["rounds"] if r["kept"]]
    assert result.counts.get("pseudo_labelled", 0) == (kept[-1]["pseudo_labelled"] if kept else 0)  # the result's own
    assert result.validation_scores is not None and len(result.validation_scores) == result.counts["validation"]["total"]
    assert "self_training" in result.summary()


def test_without_rounds_or_pool_it_is_the_plain_fine_tune(fast_config):
    plain = train_with_pool(toy_single(60), ["neg", "pos"], "single_label", fast_config(epochs=2), [])
    assert plain.self_training is None and "self_training" not in plain.summary()
