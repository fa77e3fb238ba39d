"""`bench label-noise` end to end on a tiny encoder and synthetic reviews: the out-of-fold models it
averages, its keys, and a bad --oof refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftdemo.benchmarks.label_noise import oof_sources, plant_noise
from ftdemo.benchmarks.train import synthetic_rows
from ftdemo.cli import main
from ftdemo.errors import InvalidInputError
from ftdemo.tasks import TaskType


def _reviews(tmp_path, n=200):
    path = tmp_path / "reviews.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{t} #{i}\t{lab}\n" for i, (t, lab) in enumerate(synthetic_rows(n, 0))))
    return path


def test_noise_is_planted_on_the_share_asked_for_and_always_changes_the_label():
    Y = np.arange(100) % 4
    noisy, rows = plant_noise(Y, 0.05, task=TaskType.SINGLE_LABEL, n_labels=4, seed=1)
    assert len(rows) == 5 and (noisy[rows] != Y[rows]).all() and (np.delete(noisy, rows) == np.delete(Y, rows)).all()


def test_oof_takes_a_list_of_known_models():
    assert oof_sources("words,instant") == ("instant", "words") and oof_sources("finetune") == ("finetune",)
    with pytest.raises(InvalidInputError, match="comma list of instant, words, finetune"):
        oof_sources("instant,bert")


@pytest.mark.parametrize("oof", [None, "instant,words,finetune"])
def test_the_command_reports_precision_recall_and_the_fix(tmp_path, tiny_encoder_dir, capsys, oof):
    argv = ["bench", "label-noise", "--data", str(_reviews(tmp_path)), "--rows", "100", "--n-eval", "40",
            "--seeds", "1", "--folds", "3", "--model", str(tiny_encoder_dir), "--threads", "1", "--json"]
    assert main(argv + (["--oof", oof] if oof else [])) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["oof"] == (oof or "instant,words") and out["per_seed"][0]["k"] == 5
    for key in ("precision_at_k", "recall_at_2k", "accuracy_noisy", "accuracy_fixed", "accuracy_clean"):
        assert 0 <= out[key] <= 1
    assert out["recall_at_2k"] >= out["precision_at_k"]  # the top 2k holds the top k
    assert main(argv + ["--oof", "bert"]) != 0
    assert "--oof takes a comma list" in capsys.readouterr().err
