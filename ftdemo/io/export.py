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
Records stream through in batches: memory does not grow with the number of rows.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftdemo.errors import AlreadyExistsError, InvalidInputError
from ftdemo.io.cells import escape_formula
from ftdemo.io.formats import FileFormat, export_format

BATCH = 2000  # records per Arrow batch: bounded memory, few enough batches to stay fast


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


def _columns(with_pair: bool) -> list[str]:
    return ["id", "text"] + (["text_pair"] if with_pair else []) + ["labels", "history"]


def _batches(records: Iterable[ExportRecord], size: int = BATCH) -> Iterator[list[ExportRecord]]:
    it = iter(records)
    while batch := list(itertools.islice(it, size)):
        yield batch


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


def _write_delimited(records: Iterable[ExportRecord], path: Path, delimiter: str, columns: list[str],
                     *, excel: bool = False) -> int:
    n = 0
    with _atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8-sig" if excel else "utf-8", newline="") as out:
        writer = csv.writer(out, delimiter=delimiter)
        writer.writerow(columns)
        for r in records:
            cells = {"id": str(r.id), "text": r.text, "text_pair": r.text_pair or "",
                     "labels": "|".join(r.labels), "history": _history_json(r.history)}
            writer.writerow([escape_formula(cells[c]) for c in columns])
            n += 1
    return n


def _write_jsonl(records: Iterable[ExportRecord], path: Path, columns: list[str]) -> int:
    n = 0
    with _atomic_file(path) as tmp, open(tmp, "w", encoding="utf-8", newline="\n") as out:
        for r in records:
            row = {"id": r.id, "text": r.text, "text_pair": r.text_pair, "labels": list(r.labels),
                   "history": r.history}
            out.write(json.dumps({c: row[c] for c in columns}, ensure_ascii=False, default=str) + "\n")
            n += 1
    return n


def _arrow_schema(columns: list[str]) -> Any:
    import pyarrow as pa

    types = {"id": pa.int64(), "text": pa.string(), "text_pair": pa.string(),
             "labels": pa.list_(pa.string()), "history": pa.string()}
    return pa.schema([(c, types[c]) for c in columns])


def _arrow_batches(records: Iterable[ExportRecord], schema: Any) -> Iterator[Any]:
    import pyarrow as pa

    for batch in _batches(records):
        data = {"id": [r.id for r in batch], "text": [r.text for r in batch],
                "text_pair": [r.text_pair for r in batch], "labels": [list(r.labels) for r in batch],
                "history": [_history_json(r.history) for r in batch]}
        yield pa.record_batch([data[c] for c in schema.names], schema=schema)


def _write_parquet(records: Iterable[ExportRecord], path: Path, columns: list[str]) -> int:
    import pyarrow.parquet as pq

    schema, n = _arrow_schema(columns), 0
    with _atomic_file(path) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        writer.write_table(schema.empty_table())  # a valid file even when there are no rows
        for batch in _arrow_batches(records, schema):
            writer.write_batch(batch)
            n += batch.num_rows
    return n


def _write_datasets_dir(records: Iterable[ExportRecord], path: Path, columns: list[str]) -> int:
    """Arrow batches go to a memory-mapped stream file that `datasets` opens and saves in shards,
    so no step holds every row in memory."""
    import datasets
    import pyarrow as pa

    from ftdemo.io.arrow_readers import quiet_datasets

    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise AlreadyExistsError(f"{str(path)!r} already exists; choose a new folder name for the export")
    path.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        schema, n = _arrow_schema(columns), 0
        stream = work / "rows.arrow"
        with pa.OSFile(str(stream), "wb") as sink, pa.ipc.new_stream(sink, schema) as writer:
            for batch in _arrow_batches(records, schema):
                writer.write_batch(batch)
                n += batch.num_rows
        saved = work / "dataset"
        with quiet_datasets():
            ds = datasets.Dataset.from_file(str(stream), in_memory=False)
            ds.save_to_disk(str(saved))
            del ds
        if path.exists():
            path.rmdir()  # checked empty above
        os.rename(saved, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return n


def export_records(records: Iterable[ExportRecord], path: str | Path, *, excel: bool = False,
                   with_pair: bool | None = None) -> Path:
    """Write `records` to `path` in the format its suffix names and return the path written.

    Records are consumed once, in batches, so a generator over a million rows is written in
    bounded memory. `with_pair` says whether to write a text_pair column; None looks at the
    records (which then are all read first). Suffixes: .csv, .tsv, .jsonl, .json (JSON lines),
    .parquet; no suffix or a trailing '/' writes a `datasets` save_to_disk folder (which must not
    exist yet, or be empty). `excel=True` starts a CSV/TSV with a UTF-8 byte-order mark, for Excel.
    Raises InvalidInputError for an unknown suffix (or `excel` with another format) and
    AlreadyExistsError for a non-empty folder.
    """
    return export_stream(records, path, excel=excel, with_pair=with_pair)[0]


def export_stream(records: Iterable[ExportRecord], path: str | Path, *, excel: bool = False,
                  with_pair: bool | None = None) -> tuple[Path, int]:
    """export_records that also returns how many records it wrote."""
    fmt = export_format(path)
    if excel and fmt not in (FileFormat.CSV, FileFormat.TSV):
        raise InvalidInputError(f"--excel applies to .csv and .tsv exports only, not {fmt.value}; leave it out")
    target = Path(path)
    if with_pair is None:
        records = list(records)
        with_pair = any(r.text_pair is not None for r in records)
    columns = _columns(with_pair)
    if fmt is FileFormat.CSV:
        n = _write_delimited(records, target, ",", columns, excel=excel)
    elif fmt is FileFormat.TSV:
        n = _write_delimited(records, target, "\t", columns, excel=excel)
    elif fmt in (FileFormat.JSONL, FileFormat.JSON):
        n = _write_jsonl(records, target, columns)
    elif fmt is FileFormat.PARQUET:
        n = _write_parquet(records, target, columns)
    else:
        n = _write_datasets_dir(records, target, columns)
    return target, n
