"""Read Parquet files and Hugging Face `datasets` save_to_disk folders (plain or zipped) into a Table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ftdemo.errors import InvalidInputError
from ftdemo.io.arrow_sizes import decoded_bytes, ipc_stream_sizes, schema_depth
from ftdemo.io.limits import VALUE_OVERHEAD, DecodeBudget
from ftdemo.io.table import Row, Table, merged

_DATASET_MARKERS = ("state.json", "dataset_dict.json")  # written by Dataset / DatasetDict.save_to_disk
BATCH_ROWS = 1024  # rows decoded at a time: what one batch decodes to is measured before it is kept


def _table_from_records(records: list[dict], columns: list[str]) -> Table:
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise InvalidInputError(f"column {dupes[0]!r} appears twice; rename one of them")
    return Table(columns=list(columns), rows=[Row(i, rec) for i, rec in enumerate(records, 1)])


def _measured_records(batches: Callable[[], Iterable[Any]], budget: DecodeBudget, limit: int | None) -> list[dict]:
    """Python rows from Arrow batches, within the budget (see `_measured_batches`)."""
    return [rec for records in _measured_batches(batches, budget, limit) for rec in records]


def _measured_batches(batches: Callable[[], Iterable[Any]], budget: DecodeBudget,
                      limit: int | None) -> Iterator[list[dict]]:
    """Python rows from Arrow batches, one batch at a time, within the budget. A whole read measures every
    batch first and builds rows only when the file fits (a refused bomb never becomes Python objects); a
    preview (`limit`) measures each batch just before keeping it, as it needs only the first ones."""
    if limit is None:
        for batch in batches():
            budget.add_rows(batch.num_rows)
            budget.add_bytes(decoded_bytes(batch))
        for batch in batches():
            yield batch.to_pylist()
        return
    kept = 0
    for batch in batches():
        if kept >= limit:
            break
        batch = batch.slice(0, limit - kept)
        budget.add_rows(batch.num_rows)
        budget.add_bytes(decoded_bytes(batch))
        kept += batch.num_rows
        yield batch.to_pylist()


def _open_parquet(path: Path, *, nested: bool = True) -> Any:
    """A ParquetFile that keeps strings dictionary-encoded: one long string referenced by a million
    rows then costs its indices, and `decoded_bytes` measures the expansion before it happens.
    `nested=False` does so for top-level columns only (see `_parquet_batches`)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pf = pq.ParquetFile(path)
    if nested:
        strings = [c.path for c in pf.schema if c.physical_type == "BYTE_ARRAY" and c.logical_type.type != "DECIMAL"]
    else:
        strings = [f.name for f in pf.schema_arrow if pa.types.is_string(f.type) or pa.types.is_binary(f.type)
                   or pa.types.is_large_string(f.type) or pa.types.is_large_binary(f.type)]
    return pq.ParquetFile(path, read_dictionary=strings or None)


def _parquet_batches(pf: Any) -> Iterator[Any]:
    """Batches of at most BATCH_ROWS rows, one row group at a time (Arrow cannot put nested dictionary
    columns of two row groups, i.e. two dictionaries, into one batch)."""
    for group in range(pf.num_row_groups):
        yield from pf.iter_batches(batch_size=BATCH_ROWS, row_groups=[group])


def _check_parquet_metadata(pf: Any, budget: DecodeBudget) -> None:
    """Refuse from the footer alone: row count, uncompressed size of every row group, values (nested
    lists count each element), nesting depth. The batches are measured again while reading."""
    meta = pf.metadata
    budget.expect(rows=meta.num_rows)
    groups = [meta.row_group(i) for i in range(meta.num_row_groups)]
    budget.expect(nbytes=sum(g.total_byte_size for g in groups))
    values = sum(g.column(j).num_values for g in groups for j in range(g.num_columns))
    budget.expect(nbytes=values * VALUE_OVERHEAD)
    budget.check_depth(schema_depth(pf.schema_arrow), "a column")


def read_parquet(path: Path, *, limit: int | None = None, budget: DecodeBudget | None = None) -> Table:
    """A Parquet file, bounded (see `_check_parquet_metadata` and `_measured_batches`); Arrow has
    already validated its strings as UTF-8, so no row-level decoding errors."""
    return merged(iter_parquet(path, limit=limit, budget=budget))


def iter_parquet(path: Path, *, limit: int | None = None, budget: DecodeBudget | None = None,
                 chunk_rows: int | None = None) -> Iterator[Table]:
    """`read_parquet` in tables of about `chunk_rows` rows (one Arrow batch or more each; None: one table)."""
    import pyarrow as pa

    budget = budget or DecodeBudget(source=path.name)
    try:
        pf = _open_parquet(path)
        _check_parquet_metadata(pf, budget)
        counted = budget.rows, budget.bytes
        try:
            batches = _measured_batches(lambda: _parquet_batches(pf), budget, limit)
            first = next(batches, None)  # an Arrow layout error shows on the first batch (or while measuring)
        except pa.ArrowNotImplementedError:  # a nested layout Arrow cannot read dictionary-encoded
            budget.rows, budget.bytes = counted  # measured again below
            pf = _open_parquet(path, nested=False)
            batches = _measured_batches(lambda: _parquet_batches(pf), budget, limit)
            first = next(batches, None)
        columns = pf.schema_arrow.names
        yield from _record_tables(first, batches, columns, chunk_rows)
    except (pa.ArrowException, OSError) as err:
        raise InvalidInputError(f"{path.name!r} is not a readable Parquet file ({err})") from None


def _record_tables(first: list[dict] | None, rest: Iterator[list[dict]], columns: list[str],
                   chunk_rows: int | None) -> Iterator[Table]:
    """Batches of records as numbered tables of at least `chunk_rows` rows each (the last may be shorter)."""
    table = _table_from_records([], columns)
    number = 0
    for records in _chain(first, rest):
        for rec in records:
            number += 1
            table.rows.append(Row(number, rec))
        if table.due(chunk_rows):
            yield table
            table = table.next_chunk()
    yield table


def _chain(first: list[dict] | None, rest: Iterator[list[dict]]) -> Iterator[list[dict]]:
    if first is not None:
        yield first
    yield from rest


def _class_label_names(feature: object) -> tuple[list[str] | None, bool]:
    """(names, is_list) when a `datasets` feature stores label ids (ClassLabel or a list of them)."""
    from datasets import ClassLabel

    if isinstance(feature, ClassLabel):
        return list(feature.names), False
    inner = getattr(feature, "feature", None)  # List / Sequence / LargeList of ClassLabel
    if isinstance(inner, ClassLabel):
        return list(inner.names), True
    return None, False


def _to_name(names: list[str], value: object) -> str | None:
    # -1 marks "no label" in many hub datasets (e.g. GLUE test splits)
    if isinstance(value, int) and 0 <= value < len(names):
        return names[value]
    return None


def _decoded_batches(ds: object, limit: int | None, budget: DecodeBudget) -> Iterator[list[dict]]:
    """Rows of one `datasets.Dataset` as dicts, a batch at a time, with ClassLabel ids turned back into names."""
    table = ds.data.table  # raw Arrow rows: no image/audio decoding, no formatting
    classes = [(column, *_class_label_names(feature)) for column, feature in ds.features.items()]
    classes = [(column, names, is_list) for column, names, is_list in classes if names is not None]
    for records in _measured_batches(lambda: table.to_batches(max_chunksize=BATCH_ROWS), budget, limit):
        for column, names, is_list in classes:
            for rec in records:
                value = rec.get(column)
                if is_list:
                    rec[column] = [n for n in (_to_name(names, v) for v in value or []) if n is not None]
                else:
                    rec[column] = _to_name(names, value)
        yield records


@contextlib.contextmanager
def quiet_datasets() -> Iterator[None]:
    """Silence datasets' progress bars for one call, restoring the caller's setting."""
    import datasets

    was_disabled = datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if not was_disabled:
            datasets.enable_progress_bars()


def _simple_name(name: object) -> bool:
    return isinstance(name, str) and name not in ("", ".", "..") and "/" not in name and "\\" not in name


def _check_folder_files(path: Path) -> list[Path]:
    """The folder's Arrow files. Refuses a folder whose metadata names files outside itself: save_to_disk
    only writes plain file and split names, and an uploaded zip must not make the server read its other files."""
    try:
        if (path / "dataset_dict.json").is_file():
            splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
            files: list[Path] = []
            for split in splits:
                if not _simple_name(split) or not (path / split).is_dir():
                    raise InvalidInputError(
                        f"dataset_dict.json names a split {split!r} that is not a folder here"
                    )
                files += _check_folder_files(path / split)
            return files
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        files = []
        for entry in state["_data_files"]:
            name = entry.get("filename")
            if not _simple_name(name) or not (path / name).is_file():
                raise InvalidInputError(
                    f"state.json names a data file {name!r} that is not a file in the folder"
                )
            files.append(path / name)
        return files
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InvalidInputError(f"folder {path.name!r} has damaged `datasets` metadata ({err})") from None


def _check_arrow_files(files: list[Path], budget: DecodeBudget) -> None:
    """Refuse from the Arrow messages' metadata alone (rows, decompressed sizes, nesting), before
    `datasets` loads, and would decompress, every file."""
    rows = size = 0
    for file in files:
        for schema, batch_rows, batch_bytes in ipc_stream_sizes(file):
            if schema is not None:
                budget.check_depth(schema_depth(schema), "a column")
            rows, size = rows + batch_rows, size + batch_bytes
            budget.expect(rows=rows, nbytes=size)


def read_datasets_dir(path: Path, *, limit: int | None = None, budget: DecodeBudget | None = None) -> Table:
    """A `save_to_disk` folder, bounded like a Parquet file (its Arrow files are measured before loading).
    A DatasetDict's splits are read in order into one table with a `split` column, so row numbers run
    on across splits."""
    return merged(iter_datasets_dir(path, limit=limit, budget=budget))


def iter_datasets_dir(path: Path, *, limit: int | None = None, budget: DecodeBudget | None = None,
                      chunk_rows: int | None = None) -> Iterator[Table]:
    """`read_datasets_dir` in tables of about `chunk_rows` rows (None: one table)."""
    if not any((path / marker).is_file() for marker in _DATASET_MARKERS):
        raise InvalidInputError(
            f"folder {path.name!r} is not a `datasets` save_to_disk folder (it has no state.json or "
            "dataset_dict.json); upload a .csv, .jsonl or .parquet file instead"
        )
    budget = budget or DecodeBudget(source=path.name)
    _check_arrow_files(_check_folder_files(path), budget)
    import datasets

    try:
        with quiet_datasets():
            loaded = datasets.load_from_disk(str(path), keep_in_memory=True)
    except Exception as err:  # datasets raises many types for a damaged folder; all mean "bad upload"
        raise InvalidInputError(
            f"folder {path.name!r} cannot be loaded as a `datasets` folder ({err})"
        ) from None
    if not isinstance(loaded, datasets.DatasetDict):
        columns = list(loaded.column_names)
        _table_from_records([], columns)  # refuses duplicate column names before any row
        yield from _record_tables(None, _decoded_batches(loaded, limit, budget), columns, chunk_rows)
        return
    columns = []
    for ds in loaded.values():
        columns += [c for c in ds.column_names if c not in columns]
    if "split" not in columns:
        columns.append("split")

    def splits() -> Iterator[list[dict]]:  # every split's rows in order, each tagged with its split
        kept = 0
        for split, ds in loaded.items():
            left = None if limit is None else limit - kept
            if left is not None and left <= 0:
                return
            for records in _decoded_batches(ds, left, budget):
                for rec in records:
                    rec.setdefault("split", split)
                kept += len(records)
                yield records

    yield from _record_tables(None, splits(), columns, chunk_rows)


def _find_dataset_root(root: Path) -> Path | None:
    """The shallowest folder in an extracted zip that save_to_disk wrote (zips often add a top folder)."""
    found = [p.parent for marker in _DATASET_MARKERS for p in root.rglob(marker)]
    return min(found, key=lambda p: len(p.parts)) if found else None


def zipped_table_path(root: Path, zip_name: str) -> Path:
    """What to read in an extracted zip: its `datasets` folder, or its one CSV/TSV/JSON(L)/Parquet file."""
    dataset_root = _find_dataset_root(root)
    if dataset_root is not None:
        return dataset_root
    files = [p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in
             (".csv", ".tsv", ".jsonl", ".json", ".parquet") and "__MACOSX" not in p.parts]
    if len(files) != 1:
        raise InvalidInputError(
            f"{zip_name!r} must contain a `datasets` save_to_disk folder or exactly one "
            f"csv/tsv/jsonl/json/parquet file; it has {len(files)} such files"
        )
    return files[0]
