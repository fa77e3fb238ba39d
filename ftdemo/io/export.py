"""Write examples with their current labels and full annotation history to a file or a `datasets` folder.

Columns in every format: id, text, text_pair (only when some example has one), labels, history.
  * CSV/TSV: UTF-8, labels joined with '|', history as a JSON string; cells a spreadsheet would run
    as formulas get a leading "'" (reversed on import). No byte-order mark unless `excel=True`: Excel
    needs one to read UTF-8, but Python's csv module and most tools read it as part of the first
    column's name ('\ufeffid'). Import accepts both.
  * JSONL: labels as a list, history as a list of objects.
  * Parquet and `datasets` folders: labels as list<string>, history as a JSON string (one schema
    for any history entry shape).
Files are written to a temporary name and renamed, so a failed export never leaves a half file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ftdemo.errors import AlreadyExistsError, InvalidInputError
from ftdemo.io.cells import escape_formula
from ftdemo.io.formats import FileFormat, export_format


@dataclass
class ExportRecord:
    """One example as exported: its current labels and every annotation event, oldest first.

    History entries look like {"annotator": "bob", "labels": ["pos"], "kind": "label" | "skip" |
    "clear", "created_at": "2025-01-01T12:00:00+00:00"}; other keys are kept as they are.
    """

    id: int
    text: str
    text_pair: str | None
    labels: list[str]
    history: list[dict] = field(default_factory=list)


def _history_json(history: list[dict]) -> str:
    # default=str: a store may hand over datetime objects for created_at
    return json.dumps(history, ensure_ascii=False, default=str)


def _columns(records: list[ExportRecord]) -> list[str]:
    with_pair = any(r.text_pair is not None for r in records)
    return ["id", "text"] + (["text_pair"] if with_pair else []) + ["labels", "history"]


@contextmanager
def _atomic_file(path: Path) -> Iterator[Path]:
    """A temporary path next to `path` that replaces it only if the block finishes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _write_delimited(records: list[ExportRecord], path: Path, delimiter: str, *, excel: bool = False) -> None:
    columns = _columns(records)
    with _atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8-sig" if excel else "utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(columns)
        for r in records:
            cells = {"id": str(r.id), "text": r.text, "text_pair": r.text_pair or "",
                     "labels": "|".join(r.labels), "history": _history_json(r.history)}
            writer.writerow([escape_formula(cells[c]) for c in columns])


def _write_jsonl(records: list[ExportRecord], path: Path) -> None:
    columns = _columns(records)
    with _atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
        for r in records:
            row = {"id": r.id, "text": r.text, "text_pair": r.text_pair, "labels": list(r.labels),
                   "history": r.history}
            out.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False, default=str) + "\n")


def _arrow_columns(records: list[ExportRecord]) -> dict[str, list]:
    data = {"id": [r.id for r in records], "text": [r.text for r in records],
            "text_pair": [r.text_pair for r in records], "labels": [list(r.labels) for r in records],
            "history": [_history_json(r.history) for r in records]}
    return {c: data[c] for c in _columns(records)}


def _write_parquet(records: list[ExportRecord], path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    types = {"id": pa.int64(), "text": pa.string(), "text_pair": pa.string(),
             "labels": pa.list_(pa.string()), "history": pa.string()}
    data = _arrow_columns(records)
    table = pa.table(data, schema=pa.schema([(c, types[c]) for c in data]))
    with _atomic_file(path) as tmp:
        pq.write_table(table, tmp)


def _write_datasets_dir(records: list[ExportRecord], path: Path) -> None:
    import datasets

    from ftdemo.io.arrow_readers import quiet_datasets

    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise AlreadyExistsError(f"{str(path)!r} already exists; choose a new folder name for the export")
    types = {"id": datasets.Value("int64"), "text": datasets.Value("string"),
             "text_pair": datasets.Value("string"), "labels": datasets.List(datasets.Value("string")),
             "history": datasets.Value("string")}
    data = _arrow_columns(records)
    ds = datasets.Dataset.from_dict(data, features=datasets.Features({c: types[c] for c in data}))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        with quiet_datasets():
            ds.save_to_disk(str(tmp))
        if path.exists():
            path.rmdir()  # checked empty above
        os.rename(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def export_records(records: Iterable[ExportRecord], path: str | Path, *, excel: bool = False) -> Path:
    """Write `records` to `path` in the format its suffix names and return the path written.

    Suffixes: .csv, .tsv, .jsonl, .json (JSON lines), .parquet; no suffix or a trailing '/' writes
    a `datasets` save_to_disk folder (which must not exist yet, or be empty). `excel=True` starts a
    CSV/TSV with a UTF-8 byte-order mark, for Excel. Raises InvalidInputError for an unknown suffix
    (or `excel` with another format) and AlreadyExistsError for a non-empty folder.
    """
    fmt = export_format(path)
    if excel and fmt not in (FileFormat.CSV, FileFormat.TSV):
        raise InvalidInputError(f"--excel applies to .csv and .tsv exports only, not {fmt.value}; leave it out")
    target = Path(path)
    items = list(records)
    if fmt is FileFormat.CSV:
        _write_delimited(items, target, ",", excel=excel)
    elif fmt is FileFormat.TSV:
        _write_delimited(items, target, "\t", excel=excel)
    elif fmt in (FileFormat.JSONL, FileFormat.JSON):
        _write_jsonl(items, target)
    elif fmt is FileFormat.PARQUET:
        _write_parquet(items, target)
    else:
        _write_datasets_dir(items, target)
    return target
