"""The store benchmark runs end to end on a small dataset and reports every number it promises."""

from __future__ import annotations

import csv
import json

import pytest

from ftdemo.benchmarks.store import UNLABELLED_SHARE, write_csv
from ftdemo.cli import main

KEYS = ("import_rows_per_s", "import_peak_mb", "stats_p50_ms", "next_p50_ms", "label_p50_ms",
        "max_label_stall_ms", "failed_label_writes")


def test_synthetic_rows_are_distinct_and_mostly_labelled(tmp_path) -> None:
    write_csv(tmp_path / "a.csv", 2000, seed=0)
    rows = list(csv.DictReader(open(tmp_path / "a.csv", encoding="utf-8")))
    assert len(rows) == len({r["text"] for r in rows}) == 2000
    assert abs(sum(not r["label"] for r in rows) / 2000 - UNLABELLED_SHARE) < 0.03


def test_bench_store_measures_a_small_project(capsys) -> None:
    assert main(["bench", "store", "--examples", "600", "--samples", "5", "--labellers", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)  # --json output is pure JSON
    for key in KEYS:
        assert key in out, key
    assert out["backend"] == "sqlite" and out["examples"] == 600
    # 90% labelled by the import, a second annotation on 60% of all examples, 5+1 labels by the timer
    assert out["annotations"] == pytest.approx(1.5 * 600, abs=40)
    assert out["failed_label_writes"] == 0 and out["label_writes_during_import"] > 0
    assert 0 < out["import_peak_mb"] and out["import_rest_mb"] <= out["import_peak_mb"]
    assert out["stats_p50_ms"] > 0 and out["next_p50_ms"] > 0 and out["export_rows_per_s"] > 0


def test_bench_store_refuses_a_database_with_datasets(services, admin, capsys) -> None:
    services.datasets.create("mine", "single_label", ["a", "b"], actor=admin)
    assert main(["bench", "store", "--examples", "100", "--db", services.settings.db_url]) == 2
    assert "give it an empty one" in capsys.readouterr().err
    assert [d.name for d in services.datasets.list()] == ["mine"]
