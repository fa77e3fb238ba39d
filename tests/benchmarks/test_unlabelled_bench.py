"""`bench unlabelled` end to end on tiny models and synthetic reviews, and how it splits the rows."""

from __future__ import annotations

import json

from ftdemo.benchmarks.train import synthetic_rows
from ftdemo.benchmarks.unlabelled import draw, split_rows
from ftdemo.cli import main


def _reviews(tmp_path, n=160):
    path = tmp_path / "reviews.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{t} #{i}\t{lab}\n" for i, (t, lab) in enumerate(synthetic_rows(n, 0))))
    return path


def test_scoring_rows_never_enter_the_dataset_and_a_draw_drops_the_pool_labels(tmp_path):
    rows, held, labels = split_rows(_reviews(tmp_path), None, n_eval=40, seed=3)
    assert len(rows) == 120 and len(held) == 40 and len(labels) == 2
    assert not {ex.text for ex in rows} & {ex.text for ex in held}
    labelled, pool = draw(rows, 30, 50, seed=1)
    assert len(labelled) == 30 and len(pool) == 50 and all(ex.labels for ex in labelled)
    assert all(ex.labels == () for ex in pool) and not {ex.id for ex in labelled} & {ex.id for ex in pool}
    assert draw(rows, 30, 50, seed=2)[0] != labelled  # another seed, another draw


def test_the_command_reports_every_technique_with_its_cpu_time(tmp_path, tiny_encoder_dir, capsys):
    argv = ["bench", "unlabelled", "--data", str(_reviews(tmp_path)), "--labels", "60", "--n-eval", "30",
            "--seeds", "1", "--model", str(tiny_encoder_dir), "--threads", "1", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)  # --json output is pure JSON (progress goes to stderr)
    for technique in ("plain", "adapt", "self_train", "both"):
        assert 0 <= out[f"{technique}_accuracy"] <= 1 and out[f"{technique}_cpu_s"] > 0
    assert out["adapt_cpu_s"] > out["adaptation"]["cpu_s"] > 0  # adaptation's own time counts for its technique
    assert out["pool"] == 70 and out["adaptation"]["texts"] + out["adaptation"]["heldout_texts"] == 130
    assert out["per_seed"][0]["self_train_self_training"]["pool"] == 70 and "targets" in out
    assert (out["adaptation"]["learning_rate"], out["adaptation"]["whole_word_mask"]) == (1e-4, False)  # defaults


def test_the_adaptation_can_be_given_its_learning_rate_and_whole_word_masking(tmp_path, tiny_encoder_dir, capsys):
    argv = ["bench", "unlabelled", "--data", str(_reviews(tmp_path)), "--labels", "60", "--n-eval", "30",
            "--seeds", "1", "--model", str(tiny_encoder_dir), "--threads", "1", "--adapt-lr", "3e-5",
            "--adapt-whole-word-mask", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["adaptation"]["learning_rate"], out["adaptation"]["whole_word_mask"]) == (3e-5, True)
    assert out["adaptation"]["masked_lm"]["after"]["loss"] > 0
