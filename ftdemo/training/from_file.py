"""Train straight from a labelled file, no database: `python -m ftdemo train-file` and the multi-GPU entry
point `ftdemo.training.launch` both come here, so a file is read and its labels ordered one way.

Rows are read by `ftdemo.io` (CSV, TSV, JSON lines, Parquet, a `datasets` folder), the columns guessed
or named, and rows with problems skipped and counted. Labels are the given ones, else every label
seen, sorted: the same file gives the same label ids whatever its row order. An `id` column, when
every labelled row has a distinct whole number there, decides the train/validation/test split
(ids are what the split hashes), else the row number does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftdemo import io
from ftdemo.errors import InvalidInputError
from ftdemo.models.registry import Registry
from ftdemo.tasks import LabelledText, TaskType


@dataclass(frozen=True)
class LabelledFile:
    examples: list[LabelledText]
    labels: list[str]
    skipped_rows: int  # unreadable, invalid or duplicate rows (unlabelled rows are not counted)


def read_labelled_file(path: str | Path, task: TaskType | str = "single_label", *, text_col: str | None = None,
                       pair_col: str | None = None, label_col: str | None = None,
                       labels: Sequence[str] | None = None) -> LabelledFile:
    """The labelled rows of a file as training examples (see the module docstring for the rules)."""
    kind = TaskType.parse(task)
    table = io.read_rows(path, max_bytes=None)
    guess = io.guess_mapping(table.columns, kind)
    mapping = io.ColumnMapping(text=text_col or guess.text, text_pair=pair_col or guess.text_pair,
                               label=label_col or guess.label)
    if not mapping.label:
        raise InvalidInputError(f"no label column found in {Path(path).name}; name it with --label-col "
                                f"(columns: {', '.join(table.columns)})")
    plan = io.plan_import(table, kind, list(labels) if labels else None, mapping, max_text_chars=10**9)
    rows = [c for c in plan.valid if c.labels]
    order = list(labels) if labels else sorted({lab for c in rows for lab in c.labels})
    ids = [c.metadata.get("id") for c in rows]
    if not all(isinstance(i, int) and not isinstance(i, bool) for i in ids) or len(set(ids)) != len(ids):
        ids = [c.row for c in rows]
    examples = [LabelledText(int(i), c.text, c.text_pair, tuple(c.labels)) for i, c in zip(ids, rows)]
    return LabelledFile(examples, order, len(plan.errors) + len(plan.duplicates))


def train_from_file(path: str | Path, out_dir: str | Path, *, task: str = "single_label", text_col: str | None = None,
                    pair_col: str | None = None, label_col: str | None = None, labels: Sequence[str] | None = None,
                    dataset: str | None = None, options: dict[str, Any] | None = None,
                    on_event: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Fine-tune on a file's labelled rows and save a registry version under `out_dir/<dataset>/vNNNN`
    (`dataset` defaults to the file's stem). In a multi-process run only rank 0 saves."""
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.loop import train

    data = read_labelled_file(path, task, text_col=text_col, pair_col=pair_col, label_col=label_col, labels=labels)
    config = TrainConfig.from_dict({k: v for k, v in (options or {}).items() if v is not None and v != ""})
    result = train(data.examples, data.labels, TaskType.parse(task), config, callbacks=[on_event] if on_event else [])
    saved = None
    if result.is_main_process:
        saved = Registry(out_dir).save(dataset or Path(path).stem, result, {"source_file": str(path)})
    return {"version": saved.name if saved else None, "path": str(saved.path) if saved else None, "active": None,
            "labels": data.labels, "examples": len(data.examples), "skipped_rows": data.skipped_rows,
            "metrics": result.metrics, "timings": result.timings, "device": result.device,
            "best_epoch": result.best_epoch, "is_main_process": result.is_main_process}
