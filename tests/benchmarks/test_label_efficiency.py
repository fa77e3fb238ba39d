"""`bench label-efficiency` end to end on a tiny model and synthetic reviews, and its data handling."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ftdemo.benchmarks.label_efficiency import draw_data, read_examples, seed_set, simulate, targets
from ftdemo.benchmarks.train import synthetic_rows
from ftdemo.cli import main
from ftdemo.errors import InvalidInputError
from ftdemo.tasks import TaskType


@pytest.fixture
def reviews(tmp_path):
    path = tmp_path / "reviews.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"{t} #{i}\t{lab}\n" for i, (t, lab) in enumerate(synthetic_rows(240, 0))))
    return path


def test_the_command_runs_end_to_end_and_reports_every_promised_key(reviews, tiny_model_dir, tmp_path, capsys):
    plot = tmp_path / "curves.png"
    argv = ["bench", "label-efficiency", "--data", str(reviews), "--model", str(tiny_model_dir), "--n-pool", "150",
            "--n-eval", "40", "--budgets", "12,24,36", "--finetune-budgets", "36", "--seed-labels", "8",
            "--step", "6", "--step-share", "0", "--seeds", "2", "--speed-pool", "1000", "--speed-texts", "64", "--cache-dir", str(tmp_path / "cache"), "--threads", "1",
            "--policy", "explore=0.3", "--plot", str(plot), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)  # --json output is pure JSON (progress goes to stderr)
    for key in ("curves", "auc", "labels_to_match_random", "auc_finetune", "labels_to_match_random_finetune",
                "per_seed", "targets", "speed", "timings"):
        assert key in out, key
    assert list(out["curves"]) == ["random", "uncertain", "diverse", "default"] and out["seeds"] == [0, 1]
    for name, curve in out["curves"].items():
        assert [p["labels"] for p in curve] == [12, 24, 36]
        assert all(0 <= p["instant_accuracy"] <= 1 and "instant_accuracy_se" in p for p in curve)
        trained = name in ("random", "default")  # the default fine-tuned strategies, at the fine-tune budget only
        assert [p["finetune_accuracy"] is not None for p in curve] == [False, False, trained]
        assert set(out["labels_to_match_random"]) == set(out["curves"])
    assert out["labels_to_match_random_finetune"]["uncertain"] is None and out["auc_finetune"]["diverse"] is None
    # every strategy started from the same seed labels, per seed, and the seeds' sets differ
    for i, s in enumerate(out["seeds"]):
        starts = {tuple(out["per_seed"][name][i]["seed_labels"]) for name in out["curves"]}
        assert len(starts) == 1 and len(next(iter(starts))) == 8 and out["per_seed"]["random"][i]["seed"] == s
    assert out["per_seed"]["random"][0]["seed_labels"] != out["per_seed"]["random"][1]["seed_labels"]
    assert out["per_seed"]["default"][0]["finetunes"]["36"]["train_s"] > 0
    assert out["speed"]["embed_texts_per_s"] > 0 and out["speed"]["rank_50k_ms"] > 0
    assert out["speed"]["next_with_suggestion_p50_ms"] > 0 and out["speed"]["pool"] == 1000
    assert set(out["targets"]) >= {"instant_auc_larger", "instant_gain_at_100", "finetune_match_within_600"}
    assert plot.stat().st_size > 0 and plot.read_bytes()[:4] == b"\x89PNG"
    # a rerun embeds nothing: the pool and eval embeddings come from the cache
    assert out["default_policy"]["explore"] == 0.3 and out["default_policy"]["min_per_label"] >= 0
    assert main(argv[:-5] + ["--no-speed", "--finetune-budgets", ""]) == 0
    printed = capsys.readouterr()
    assert "(from the cache)" in printed.err and "labels to reach random's" in printed.out


def test_the_simulation_ranks_with_the_apps_strategies_from_the_seed_labels(monkeypatch, tiny_model_dir):
    import ftdemo.assist.strategies as strategies

    calls = []
    real_rank = strategies.rank

    def spy(strategy, **kw):  # the real ranking, called through: which strategy and how many candidates
        calls.append((strategy, len(kw["X_pool"])))
        return real_rank(strategy, **kw)

    monkeypatch.setattr(strategies, "rank", spy)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 16)).astype(np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    Y = (X[:, 0] > 0).astype(np.int64)
    start = seed_set(80, 6, seed=3)
    for name in ("random", "uncertain", "diverse", "default"):
        calls.clear()
        curve, order = simulate(name, X_pool=X, Y_pool=Y, X_eval=X[:20], gold_eval=[(str(y),) for y in Y[:20]],
                                labels=["0", "1"], task=TaskType.SINGLE_LABEL, start=start, budgets=[10, 20], step=4,
                                seed=3)
        assert order[:6] == start and len(order) == len(set(order)) == 20
        assert [p["labels"] for p in curve] == [10, 20]
        # refits after 6, 10, 14, 18 labels (a budget ends a batch early); each ranking sees only unlabelled rows
        assert calls == [(name, 74), (name, 70), (name, 66), (name, 62)]


def test_a_headerless_tsv_is_read_as_text_then_label(tmp_path):
    path = tmp_path / "news.tsv"
    path.write_text("".join(f"headline number {i}\t{'World' if i % 2 else 'Sports'}\n" for i in range(30)))
    rows, labels = read_examples(path, "single_label")
    assert labels == ["Sports", "World"] and len(rows) == 30 and rows[0].text == "headline number 0"


def test_pool_and_eval_rows_are_disjoint_reproducible_and_refused_when_too_few(reviews, tmp_path):
    a = draw_data(reviews, None, n_pool=100, n_eval=50, seed=1)
    assert len(a.pool) == 100 and len(a.eval) == 50 and a.labels == ["0", "1"]
    assert not {ex.text for ex in a.pool} & {ex.text for ex in a.eval}
    assert [ex.text for ex in draw_data(reviews, None, n_pool=100, n_eval=50, seed=1).pool] == [ex.text for ex in a.pool]
    assert targets(a.pool[:3], a.labels, TaskType.SINGLE_LABEL).tolist() == [int(ex.labels[0]) for ex in a.pool[:3]]
    # an eval file: its texts never sit in the pool
    held = tmp_path / "held.tsv"
    held.write_text("sentence\tlabel\n" + "".join(f"{ex.text}\t{ex.labels[0]}\n" for ex in a.pool[:20]))
    b = draw_data(reviews, held, n_pool=500, n_eval=20, seed=0)
    assert len(b.eval) == 20 and not {ex.text for ex in b.pool} & {ex.text for ex in b.eval}
    with pytest.raises(InvalidInputError, match="held out"):
        draw_data(reviews, None, n_pool=10, n_eval=500)


def test_bad_options_are_refused_with_a_message(reviews, capsys):
    base = ["bench", "label-efficiency", "--data", str(reviews)]
    assert main(base + ["--strategies", "default,uncertain"]) == 2
    assert "must include 'random'" in capsys.readouterr().err
    assert main(base + ["--strategies", "random,smart"]) == 2
    assert "unknown strategy 'smart'" in capsys.readouterr().err
    assert main(base + ["--budgets", "5,50", "--seed-labels", "10"]) == 2
    assert "at least the 10 seed labels" in capsys.readouterr().err
    assert main(base + ["--policy", "explore=2"]) == 2
    assert "bad default policy" in capsys.readouterr().err


def test_retraining_swaps_the_embeddings_at_every_n_labels_and_batches_stop_there(monkeypatch):
    import ftdemo.assist.strategies as strategies

    seen = []
    real_rank = strategies.rank

    def spy(strategy, **kw):
        seen.append((len(kw["X_labelled"]), kw["X_pool"].shape[1]))
        return real_rank(strategy, **kw)

    monkeypatch.setattr(strategies, "rank", spy)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 16)).astype(np.float32)
    Y = (X[:, 0] > 0).astype(np.int64)
    calls = []

    def retrain(order):  # what the app's retrain hands on: every row embedded anew (here: wider vectors)
        calls.append(list(order))
        width = 16 + 4 * len(calls)
        return np.hstack([X, np.ones((80, width - 16), np.float32)]), np.hstack([X[:20], np.ones((20, width - 16), np.float32)])

    curve, order = simulate("default", X_pool=X, Y_pool=Y, X_eval=X[:20], gold_eval=[(str(y),) for y in Y[:20]],
                            labels=["0", "1"], task=TaskType.SINGLE_LABEL, start=seed_set(80, 6, seed=2),
                            budgets=[16, 30], step=4, seed=2, retrain_every=8, retrain=retrain)
    assert [len(c) for c in calls] == [8, 16, 24] and calls[1][:8] == calls[0]  # at 8, 16, 24, not at the end (30)
    assert order[:16] == calls[1] and len(order) == len(set(order)) == 30
    # refits after 6 and 8 labels (a batch stops at the retrain), then 12, 16 (retrain), 20, 24 (retrain), 28
    assert seen == [(6, 16), (8, 20), (12, 20), (16, 24), (20, 24), (24, 28), (28, 28)]
    assert [p["labels"] for p in curve] == [16, 30]


def test_the_command_retrains_and_reuses_a_retrain_as_the_fine_tune_at_the_same_count(reviews, tiny_model_dir,
                                                                                      tmp_path, capsys):
    argv = ["bench", "label-efficiency", "--data", str(reviews), "--model", str(tiny_model_dir), "--n-pool", "150",
            "--n-eval", "40", "--budgets", "12,24,36", "--finetune-budgets", "24,36", "--seed-labels", "8",
            "--step", "6", "--step-share", "0", "--seeds", "1", "--strategies", "random,default",
            "--retrain-every", "12", "--no-speed", "--cache-dir", str(tmp_path / "cache"), "--threads", "1", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["retrain_every"] == 12
    for name in ("random", "default"):
        run = out["per_seed"][name][0]
        assert sorted(run["retrains"], key=int) == ["12", "24"]  # none at 36: nothing is labelled after it
        assert run["finetunes"]["24"]["reused_retrain"] is True
        assert run["finetunes"]["24"]["accuracy"] == run["retrains"]["24"]["accuracy"]
        assert "reused_retrain" not in run["finetunes"]["36"] and run["finetunes"]["36"]["train_s"] > 0
    assert main(argv[:-1] + ["--retrain-every", "-1"]) == 2
    assert "--retrain-every" in capsys.readouterr().err
