"""`bench click`: Train now to active version through the app's own services and training child."""

from __future__ import annotations

import json

import pytest

from ftdemo.benchmarks.click import run_click_bench
from ftdemo.cli import main
from ftdemo.errors import InvalidInputError


def test_the_wait_from_train_now_to_an_active_version_is_measured_and_split(tiny_model_dir, capsys):
    argv = ["bench", "click", "--labels", "200", "--data", "synthetic", "--model", str(tiny_model_dir),
            "--device", "cpu", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)  # --json output is pure JSON
    assert (out["labels"], out["version"], out["active"], out["data"]) == (200, "v0001", True, "synthetic sentiment")
    # the engine's own part is inside the wait, the app's part is what is left
    assert out["click_to_active_s"] > out["train_total_s"] >= out["train_s"] > 0
    assert out["app_s"] == pytest.approx(out["click_to_active_s"] - out["train_total_s"]) and out["app_s"] > 0
    assert out["steps"] > 0 and out["base_model"] == str(tiny_model_dir)


def test_too_few_labels_for_a_run_are_refused_before_anything_starts():
    with pytest.raises(InvalidInputError, match="need at least 20 labels"):
        run_click_bench(labels=5, print_fn=lambda _line: None)
