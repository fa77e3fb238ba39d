"""Train straight from a labelled file, no database: for GPU machines and scripts (`train-file`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import LabelledText, TaskType


def train_from_file(path: str | Path, out_dir: str | Path, *, task: str = "single_label", text_col: str | None = None,
                    pair_col: str | None = None, label_col: str | None = None, options: dict[str, Any] | None = None,
                    on_event: Callable[[Any], None] | None = None) -> dict[str, Any]:
    """Read labelled rows, fine-tune, and save a registry version under `out_dir/<file stem>/vNNNN`.

    Labels are the distinct values in the file, in order of first appearance. Rows with problems
    (empty text, malformed) are skipped and counted; unlabelled rows are ignored.
    """
    from ftdemo import io
    from ftdemo.registry import Registry
    from ftdemo.training.config import TrainConfig
    from ftdemo.training.engine import train

    kind = TaskType.parse(task)
    table = io.read_rows(path, max_bytes=None)
    guess = io.guess_mapping(table.columns, kind)
    mapping = io.ColumnMapping(text=text_col or guess.text, text_pair=pair_col or guess.text_pair,
                               label=label_col or guess.label)
    if not mapping.label:
        raise InvalidInputError(f"no label column found in {Path(path).name}; name it with --label-col "
                                f"(columns: {', '.join(table.columns)})")
    plan = io.plan_import(table, kind, None, mapping, max_text_chars=10**9)
    rows = [c for c in plan.valid if c.labels]
    labels = list(dict.fromkeys(lab for c in rows for lab in c.labels))
    examples = [LabelledText(i, c.text, c.text_pair, tuple(c.labels)) for i, c in enumerate(rows)]
    config = TrainConfig.from_dict({k: v for k, v in (options or {}).items() if v is not None and v != ""})
    result = train(examples, labels, kind, config, callbacks=[on_event] if on_event else [])
    info = Registry(out_dir).save(Path(path).stem, result, {"source_file": str(path)})
    return {"version": info.name, "path": str(info.path), "active": None, "labels": labels,
            "examples": len(examples), "skipped_rows": len(plan.errors) + len(plan.duplicates),
            "metrics": result.metrics, "timings": result.timings, "device": result.device}
