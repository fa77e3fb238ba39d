"""The training benchmark runs end to end (tiny model, synthetic data) and returns its numbers."""

from __future__ import annotations

import json

import pytest
import torch

from ftdemo.benchmarks.train import format_report, load_rows, run_train_bench, synthetic_rows


def test_bench_reports_engine_and_reference(tiny_model_dir, capsys, monkeypatch):
    monkeypatch.setattr("ftdemo.benchmarks.train.peak_flops", lambda: (1e11, "fixed for the test"))
    out = run_train_bench("synthetic", n_train=64, epochs=1, json_out=True, n_eval=32, batch_size=8,
                          learning_rate=1e-3, base_model=str(tiny_model_dir))
    printed = json.loads(capsys.readouterr().out)  # --json output is pure JSON
    for key in ("engine_examples_per_s", "reference_examples_per_s", "speedup", "useful_mfu",
                "engine_accuracy", "reference_accuracy", "engine_real_token_share", "reference_real_token_share"):
        assert key in out and key in printed, key
    assert out["engine_examples_per_s"] > 0 and out["reference_examples_per_s"] > 0 and 0 < out["useful_mfu"] < 1
    assert 0 <= out["engine_accuracy"] <= 1 and out["n_eval_rows"] == 32 and out["data"] == "synthetic sentiment"
    assert "speedup" in format_report(out)
    assert (out["reference_args"], out["reference_batch_size"], out["reference_learning_rate"]) == ("defaults", 8, 5e-5)


def test_bench_can_give_the_trainer_the_engines_settings(tiny_model_dir, monkeypatch):
    monkeypatch.setattr("ftdemo.benchmarks.train.peak_flops", lambda: (1e11, "fixed for the test"))
    out = run_train_bench("synthetic", n_train=48, epochs=1, n_eval=16, batch_size=12, learning_rate=1e-3,
                          base_model=str(tiny_model_dir), reference_args="same", print_fn=lambda _line: None)
    assert (out["reference_batch_size"], out["reference_learning_rate"]) == (12, 1e-3)
    assert "Trainer (same): batch 12" in format_report(out)


def test_bench_compares_accuracy_over_independent_draws(tiny_model_dir, monkeypatch):
    monkeypatch.setattr("ftdemo.benchmarks.train.peak_flops", lambda: (1e11, "fixed for the test"))
    out = run_train_bench("synthetic", n_train=48, epochs=0, n_eval=16, batch_size=12, learning_rate=1e-3,
                          base_model=str(tiny_model_dir), samples=2, seed=5, print_fn=lambda _line: None)
    # epochs=0: the engine chose its own, and the Trainer ran exactly as many
    assert out["epochs"] == 0 and out["reference_epochs"] == out["epochs_planned"] >= 3
    assert [row["seed"] for row in out["per_sample"]] == [5, 6] and out["seed"] == 5
    gaps = [row["engine_accuracy"] - row["reference_accuracy"] for row in out["per_sample"]]
    assert out["accuracy_gap_mean"] == pytest.approx(sum(gaps) / 2) and out["accuracy_gap_se"] is not None
    assert out["engine_wins"] == sum(g >= 0 for g in gaps) and len(out["speedups_per_repeat"]) == 2
    report = format_report(out)
    assert "automatic epochs" in report and "over 2 draws" in report and "seed 5" in report


def test_rows_are_disjoint_and_reproducible(tmp_path):
    data = tmp_path / "d.tsv"
    data.write_text("sentence\tlabel\n" + "".join(f"row {i}\t{i % 2}\n" for i in range(50)))
    train, held_out, source = load_rows(str(data), 20, 10, seed=1)
    assert source == "d.tsv" and len(train) == 20 and len(held_out) == 10
    assert not set(train) & set(held_out)
    assert load_rows(str(data), 20, 10, seed=1)[0] == train
    assert {lab for _, lab in synthetic_rows(100, 0)} == {"0", "1"}


def test_the_trainer_reference_runs_with_torchs_default_and_leaves_the_engines_choice(tiny_model_dir, monkeypatch):
    """The GPU check compares the engine with the Trainer as a user would run it (cuDNN attention allowed,
    torch's default), in the same process, without undoing the engine's process-wide choice
    (devices.prepare_cuda)."""
    from ftdemo.benchmarks.train import run_reference
    from ftdemo.tasks import LabelledText

    seen: list[bool] = []
    original = torch.nn.functional.scaled_dot_product_attention

    def spy(*args, **kwargs):
        seen.append(torch.backends.cuda.cudnn_sdp_enabled())
        return original(*args, **kwargs)

    rows = [LabelledText(i, f"text number {i} is {'good' if i % 2 else 'bad'}", None, ("pos" if i % 2 else "neg",))
            for i in range(24)]
    before = torch.backends.cuda.cudnn_sdp_enabled()
    torch.backends.cuda.enable_cudnn_sdp(False)
    try:
        monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", spy)
        out = run_reference(rows, ["neg", "pos"], str(tiny_model_dir), epochs=1, batch_size=8, lr=1e-3, seed=0,
                            eval_rows=[("a good text", "pos")], precision="fp32", group_by_length=False)
        assert not torch.backends.cuda.cudnn_sdp_enabled()
    finally:
        torch.backends.cuda.enable_cudnn_sdp(before)
    assert out["reference_steps"] == 3 and "group_by_length" not in out["reference"]
    assert len(seen) > 6 and all(seen[:6])  # 3 training steps x 2 layers ran with cuDNN attention allowed
