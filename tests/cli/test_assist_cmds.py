"""CLI: suggest, similar and examples --order (the CLI computes missing embeddings first, progress on stderr)."""

from __future__ import annotations

import json

import pytest

from ftdemo.services import Services
from ftdemo.store import repo


@pytest.fixture
def reviews(cli, settings, tiny_encoder_dir, monkeypatch):  # type: ignore[no-untyped-def]
    """A dataset of 30 texts, 12 labelled; the tiny BERT stands in for the base checkpoint."""
    monkeypatch.setenv("FTDEMO_BASE_MODEL", str(tiny_encoder_dir))
    assert cli("datasets", "create", "reviews", "--task", "single_label", "--labels", "pos,neg")[0] == 0
    sv = Services(settings)
    try:
        with sv.db.write() as s:
            ds = repo.get_dataset(s, "reviews")
            ids = repo.add_examples(s, ds, [repo.NewExample(f"review {i} was {'good' if i % 2 else 'bad'}")
                                            for i in range(30)], created_by="t")
            repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids[:12])],
                                       annotator="t")
    finally:
        sv.close()
    return ids


def test_suggest_json(cli, reviews) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("suggest", "reviews", "review 99 was good", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert set(got) >= {"label", "labels", "probabilities", "model"} and got["model"] == "instant"
    assert got["label"] in ("pos", "neg") and set(got["probabilities"]) == {"pos", "neg"}
    assert "embedding examples" in err and "30/30" in err
    code, out, err = cli("suggest", "reviews", "review 99 was good")  # the cache answers: no progress line
    assert code == 0 and "by instant" in out and err == ""


def test_suggest_without_a_model_says_so(cli, reviews, settings) -> None:  # type: ignore[no-untyped-def]
    assert cli("datasets", "create", "empty", "--task", "single_label", "--labels", "a,b")[0] == 0
    code, out, _ = cli("suggest", "empty", "anything", "--json")
    assert code == 0 and json.loads(out) is None
    assert "no suggestion yet" in cli("suggest", "empty", "anything")[1]


def test_similar_json(cli, reviews) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("similar", "reviews", "review 3 was good", "--limit", "4", "--json")
    assert code == 0, err
    found = json.loads(out)
    assert len(found) == 4 and all({"id", "text", "labels", "score"} <= set(f) for f in found)
    assert found[0]["id"] == reviews[3] and found[0]["labels"] == ["pos"]


@pytest.mark.parametrize("order", ["uncertain", "diverse", "default", "shuffled", "in_order"])
def test_examples_in_queue_order(cli, reviews, order: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("examples", "reviews", "--order", order, "--limit", "5", "--json")
    assert code == 0, err
    listed = json.loads(out)
    assert len(listed) == 5 and all(v["id"] in reviews[12:] and v["labels"] == [] for v in listed)
    assert all(v["suggestion"]["model"] == "instant" for v in listed)
    assert len({v["id"] for v in listed}) == 5


def test_examples_order_refuses_filters(cli, reviews) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("examples", "reviews", "--order", "uncertain", "--search", "good")
    assert code == 2 and "--order lists the labelling queue" in err
    code, _, err = cli("examples", "reviews", "--order", "best")
    assert code == 2 and "invalid choice" in err


def test_suspects_then_check_labels_adds_the_fine_tunes(cli, reviews, tiny_model_dir) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli("suspects", "reviews")
    assert code == 0, err
    assert "out-of-fold: instant model (embeddings), word model" in out and "fine-tune check" not in out
    code, out, err = cli("check-labels", "reviews", "--folds", "2", "--base-model", str(tiny_model_dir),
                         "--epochs", "1", "--json")
    assert code == 0, err
    got = json.loads(out)
    assert got["status"] == "succeeded" and got["metrics"]["folds"] == 2 and got["metrics"]["examples"] == 12
    assert isinstance(got["suspects"], list) and "fold 2/2 fine-tuned" in err
    code, out, _ = cli("suspects", "reviews")
    assert code == 0 and f"fine-tune check (run {got['run_id']}: 12 of 12 examples)" in out
    code, _, err = cli("check-labels", "reviews", "--folds", "11")
    assert code != 0 and "11" in err  # argparse: 2 to 10
