"""Export → import into a new dataset reproduces the same examples, labels and history, in every
format and for every task type, with texts that break naive CSV/JSON handling."""

import json
import shutil

import pytest

from ftdemo.io import ExportRecord, export_records, guess_mapping, plan_import, read_rows

NASTY = [
    "你好，世界。这是中文。",
    "emoji 😀👍🏽 and a family 👨‍👩‍👧",
    "مرحبا بالعالم — שלום עולם",
    "commas, everywhere, ok",
    'He said "hi" and \'bye\'',
    "line one\nline two\n\nline four",
    "windows\r\nline end",
    "=SUM(A1:A2)",
    "-5 degrees",
    "+33 6 12 34 56 78",
    "@mention",
    "'=already quoted",
    "''-two quotes",
    "'just an apostrophe",
    "\ttab first",
    "  spaces around  ",
    "sep\u2028line\u2029para\x85nel",
    "back\\slash and | pipe",
    "tab\tinside",
]
LABELS = ["neg", "pos", "=eq", "-dash", "正面"]
TASKS = ["single_label", "multi_label", "pair"]
FORMATS = ["out.csv", "out.tsv", "out.jsonl", "out.json", "out.parquet", "out", "zip"]

HISTORY = [
    {"annotator": "ann", "labels": ["pos"], "kind": "label", "created_at": "2025-01-01T10:00:00+00:00"},
    {"annotator": "bob", "labels": [], "kind": "skip", "created_at": "2025-01-02T10:00:00+00:00"},
    {"annotator": "émile", "labels": ["=eq"], "kind": "label", "created_at": "2025-01-03T10:00:00+00:00"},
]


def labels_for(task, i):
    if task != "multi_label":
        return [LABELS[i % len(LABELS)]]
    chosen = [lab for j, lab in enumerate(LABELS) if (i >> j) & 1]  # includes [] (unlabelled)
    return chosen


def records_for(task):
    out = []
    for i, text in enumerate(NASTY):
        pair = NASTY[-1 - i] + " (pair)" if task == "pair" else None
        out.append(ExportRecord(100 + i, text, pair, labels_for(task, i), HISTORY[: i % 4]))
    return out


def export(records, tmp_path, target):
    if target != "zip":
        return export_records(records, tmp_path / target)
    folder = export_records(records, tmp_path / "ds" / "export")
    return shutil.make_archive(str(tmp_path / "upload"), "zip", root_dir=folder.parent, base_dir="export")


@pytest.mark.parametrize("target", FORMATS)
@pytest.mark.parametrize("task", TASKS)
def test_export_then_import_reproduces_examples(tmp_path, task, target):
    records = records_for(task)
    path = export(records, tmp_path, target)
    table = read_rows(path)
    plan = plan_import(table, task, LABELS, guess_mapping(table.columns, task))

    assert plan.errors == [] and plan.duplicates == []
    got = [(c.text, c.text_pair, c.labels) for c in plan.valid]
    assert got == [(r.text, r.text_pair, r.labels) for r in records]
    for cand, record in zip(plan.valid, records):
        history = cand.metadata["history"]
        assert (json.loads(history) if isinstance(history, str) else history) == record.history
        assert int(cand.metadata["id"]) == record.id


@pytest.mark.parametrize("target", ["out.csv", "out.jsonl", "out.parquet"])
def test_reimport_into_the_same_dataset_is_all_duplicates(tmp_path, target):
    records = records_for("single_label")
    path = export(records, tmp_path, target)
    first = plan_import(path, "single_label", LABELS)
    again = plan_import(path, "single_label", LABELS, existing_hashes={c.content_hash for c in first.valid})
    assert again.valid == [] and len(again.duplicates) == len(records)
