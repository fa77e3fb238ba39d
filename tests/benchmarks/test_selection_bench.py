"""`bench selection` end to end on a tiny model: the versions, the rules' decisions, and `--grow`."""

from __future__ import annotations

import pytest

from ftdemo.benchmarks.selection import run_selection_bench
from ftdemo.errors import InvalidInputError


@pytest.fixture
def data(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "reviews.tsv"
    path.write_text("sentence\tlabel\n" + "".join(f"item {i} was {'good' if i % 2 else 'bad'} indeed\t{i % 2}\n"
                                                   for i in range(120)), encoding="utf-8")
    return path


def test_grow_trains_the_first_version_on_fewer_labels_and_tells_the_new_rule(data, tiny_model_dir):
    out = run_selection_bench(data, labels=40, draws=1, eval_rows=30, seeds=2, grow=10,
                              base_model=str(tiny_model_dir))
    draw = out["per_draw"][0]
    assert out["grow"] == 10 and draw["labels"] == [30, 40] and out["decisions"] == 1
    new = draw["decisions"][0]["new_p_true"]
    comparison = new["comparison"]
    # the candidate has the first version's labels and 10 more: it goes live unless clearly worse
    assert new["activated"] == (not comparison["clearly_worse"])
    if new["activated"] and not comparison["clearly_better"]:
        assert "and 10 more labels, and not clearly worse: activated" in new["reason"]


def test_without_grow_every_version_trains_on_the_same_labels(data, tiny_model_dir):
    out = run_selection_bench(data, labels=40, draws=1, eval_rows=30, seeds=2, base_model=str(tiny_model_dir))
    assert out["grow"] == 0 and out["per_draw"][0]["labels"] == [40, 40]
    assert "more label" not in out["per_draw"][0]["decisions"][0]["new_p_true"]["reason"]


def test_grow_must_leave_the_first_version_some_labels(data):
    with pytest.raises(InvalidInputError, match="--grow must leave the first version at least 20 labels"):
        run_selection_bench(data, labels=40, draws=1, eval_rows=30, grow=30)
