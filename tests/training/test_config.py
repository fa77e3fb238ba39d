"""TrainConfig: defaults are valid, bad values get actionable messages, dict round trip."""

from __future__ import annotations

import json

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.training.config import TrainConfig


def test_defaults_are_valid_and_round_trip_through_json():
    cfg = TrainConfig()
    again = TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert cfg.resolved_max_batch_examples == cfg.batch_size


@pytest.mark.parametrize("field, value, fragment", [
    ("epochs", -1, "epochs must be 0 (automatic) or at least 1"),
    ("learning_rate", 5, "learning_rate must be between 0 and 1"),
    ("class_weights", "inverse", "class_weights must be one of none, balanced"),
    ("val_fraction", 0, "val_fraction must be between 0 and 1"),
    ("test_fraction", 0.45, "must leave at least half the data for training"),
    ("device", "tpu", "device must be one of"),
    ("precision", "int8", "precision must be one of"),
    ("layer_lr_decay", 1.5, "layer_lr_decay must be in (0, 1]"),
    ("label_smoothing", 1.0, "label_smoothing must be in [0, 1)"),
])
def test_invalid_values_are_refused_with_a_clear_message(field, value, fragment):
    with pytest.raises(InvalidInputError) as err:
        TrainConfig(**{field: value})
    assert fragment in str(err.value)


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(InvalidInputError, match="unknown training option\\(s\\): lr"):
        TrainConfig.from_dict({"lr": 1e-4})


def test_values_are_normalised():
    cfg = TrainConfig(device="CUDA:1", precision="BF16", class_weights="Balanced")
    assert (cfg.device, cfg.precision, cfg.class_weights) == ("cuda:1", "bf16", "balanced")


@pytest.mark.parametrize(("steps_per_epoch", "expected"), [(3, 20), (5, 20), (9, 12), (29, 4), (34, 3), (2000, 3), (0, 20)])
def test_automatic_epochs_aim_at_about_100_steps_within_bounds(steps_per_epoch, expected):
    assert TrainConfig().epochs == 0
    assert TrainConfig().resolved_epochs(steps_per_epoch) == expected
    assert TrainConfig(epochs=4).resolved_epochs(steps_per_epoch) == 4  # an explicit choice is kept
