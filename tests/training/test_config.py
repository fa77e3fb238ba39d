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


@pytest.mark.parametrize("field, value, fragment", [
    ("epochs", 10 ** 9, "epochs must be 0 (automatic) or at least 1, and at most 200, got 1000000000"),
    ("num_threads", 10 ** 6, "num_threads must be 0 (all cores) or from 1 to 512, got 1000000"),
    ("batch_size", 0, "batch_size must be from 1 to 4096, got 0"),
    ("batch_size", 10 ** 6, "batch_size must be from 1 to 4096"),
    ("batch_tokens", 10 ** 12, "batch_tokens must be 0 (automatic) or from 1 to 4194304"),
    ("max_batch_examples", 10 ** 6, "max_batch_examples must be 0 (batch_size) or from 1 to 4096"),
    ("max_length", 10 ** 6, "max_length must be between 8 and 8192 tokens"),
    ("log_every", 0, "log_every must be from 1 to 1000000, got 0"),
    ("log_every", 10 ** 9, "log_every must be from 1 to 1000000"),
    ("seed", -1, "seed must be from 0 to 4294967295 (32 bits), got -1"),
    ("seed", 2 ** 32, "seed must be from 0 to 4294967295 (32 bits)"),
    ("max_grad_norm", 1e9, "max_grad_norm must be 0 (off) or up to 1000"),
    ("max_grad_norm", float("nan"), "max_grad_norm must be 0 (off) or up to 1000, got nan"),
    ("warmup_ratio", 1.0, "warmup_ratio must be in [0, 1)"),
    ("weight_decay", 10.0, "weight_decay must be from 0 to 1"),
    ("learning_rate", float("inf"), "learning_rate must be between 0 and 1"),
    ("early_stopping_patience", 10 ** 6, "early_stopping_patience must be 0 (never) or from 1 to 200"),
    ("freeze_layers", 10 ** 6, "freeze_layers must be from 0 to 256"),
    ("multi_label_threshold", 1.0, "multi_label_threshold must be between 0 and 1"),
])
def test_every_option_is_bounded_and_the_message_names_it_and_its_range(field, value, fragment):
    with pytest.raises(InvalidInputError) as err:
        TrainConfig(**{field: value})
    assert fragment in str(err.value)


@pytest.mark.parametrize("options, message", [
    ({"epochs": "3"}, "epochs must be a whole number, got '3'"),
    ({"epochs": 2.5}, "epochs must be a whole number, got 2.5"),
    ({"epochs": True}, "epochs must be a whole number, got True"),
    ({"seed": None}, "seed must be a whole number, got None"),
    ({"learning_rate": "1e-4"}, "learning_rate must be a number, got '1e-4'"),
    ({"warmup_ratio": False}, "warmup_ratio must be a number, got False"),
    ({"reinit_pooler": 1}, "reinit_pooler must be true or false, got 1"),
    ({"tune_thresholds": "false"}, "tune_thresholds must be true or false, got 'false'"),
    ({"device": 0}, "device must be text, got 0"),
    ({"base_model": ["x"]}, "base_model must be text, got ['x']"),
])
def test_from_dict_checks_types(options, message):
    with pytest.raises(InvalidInputError) as err:
        TrainConfig.from_dict(options)
    assert str(err.value) == message


def test_from_dict_takes_whole_numbers_written_as_floats_and_ints_for_floats():
    cfg = TrainConfig.from_dict({"epochs": 3.0, "max_grad_norm": 2, "seed": 2 ** 32 - 1})
    assert (cfg.epochs, type(cfg.epochs), cfg.max_grad_norm, type(cfg.max_grad_norm)) == (3, int, 2.0, float)
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg


def test_the_ranges_are_one_table_the_cli_reads(capsys):
    from ftdemo.cli import main
    from ftdemo.training.config import RANGES

    assert (RANGES["epochs"].low, RANGES["epochs"].high, RANGES["num_threads"].high) == (0, 200, 512)
    with pytest.raises(SystemExit):  # argparse's --help exits
        main(["train", "--help"])
    assert "0-200" in capsys.readouterr().out


def test_cli_refuses_out_of_range_training_options_in_one_line(settings, monkeypatch, capsys):
    from ftdemo.cli import main

    monkeypatch.setenv("FTDEMO_DATA_DIR", str(settings.data_dir))
    assert main(["train", "d", "--epochs", str(10 ** 9), "--db", settings.db_url]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: argument --epochs: must be from 0 to 200, got 1000000000 (see `python -m ftdemo train --help`)"


def test_base_model_layers_are_read_offline_from_config_json(tmp_path, tiny_model_dir):
    from ftdemo.settings import bundled_model_path
    from ftdemo.training.config import base_model_layers

    assert base_model_layers(bundled_model_path()) == 6 and base_model_layers(str(tiny_model_dir)) == 2
    (tmp_path / "config.json").write_text('{"model_type": "distilbert", "n_layers": 6}')
    assert base_model_layers(str(tmp_path)) == 6  # DistilBERT names it n_layers
    assert base_model_layers("nobody/not-on-this-machine") is None and base_model_layers("") is None
    (tmp_path / "config.json").write_text("not json")
    assert base_model_layers(str(tmp_path)) is None
