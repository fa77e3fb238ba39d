"""Read Parquet files and Hugging Face `datasets` save_to_disk folders (plain or zipped) into a Table."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from ftdemo.errors import InvalidInputError
from ftdemo.io.table import Row, Table

_DATASET_MARKERS = ("state.json", "dataset_dict.json")  # written by Dataset / DatasetDict.save_to_disk


def _table_from_records(records: list[dict], columns: list[str]) -> Table:
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise InvalidInputError(f"column {dupes[0]!r} appears twice; rename one of them")
    return Table(columns=list(columns), rows=[Row(i, rec) for i, rec in enumerate(records, 1)])


def read_parquet(path: Path, *, limit: int | None = None) -> Table:
    """A Parquet file; Arrow has already validated its strings as UTF-8, so no row-level decoding errors."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        if limit is None:
            arrow = pf.read()
        else:  # a preview needs only the first batch, not the whole file
            batch = next(pf.iter_batches(batch_size=max(limit, 1)), None)
            arrow = pa.Table.from_batches([batch]) if batch is not None else pf.schema_arrow.empty_table()
    except (pa.ArrowException, OSError) as err:
        raise InvalidInputError(f"{path.name!r} is not a readable Parquet file ({err})") from None
    return _table_from_records(arrow.to_pylist(), arrow.column_names)


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


def _decoded_records(ds: object, limit: int | None) -> list[dict]:
    """Rows of one `datasets.Dataset` as dicts, with ClassLabel ids turned back into their names."""
    if limit is not None:
        ds = ds.select(range(min(limit, len(ds))))
    records = ds.data.table.to_pylist()  # raw Arrow rows: no image/audio decoding, no formatting
    for column, feature in ds.features.items():
        names, is_list = _class_label_names(feature)
        if names is None:
            continue
        for rec in records:
            value = rec.get(column)
            if is_list:
                rec[column] = [n for n in (_to_name(names, v) for v in value or []) if n is not None]
            else:
                rec[column] = _to_name(names, value)
    return records


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


def _check_folder_files(path: Path) -> None:
    """Refuse a folder whose metadata names files outside itself: save_to_disk only writes plain file
    and split names, and an uploaded zip must not make the server read its other files."""
    try:
        if (path / "dataset_dict.json").is_file():
            splits = json.loads((path / "dataset_dict.json").read_text(encoding="utf-8"))["splits"]
            for split in splits:
                if not _simple_name(split) or not (path / split).is_dir():
                    raise InvalidInputError(
                        f"dataset_dict.json names a split {split!r} that is not a folder here"
                    )
                _check_folder_files(path / split)
            return
        state = json.loads((path / "state.json").read_text(encoding="utf-8"))
        for entry in state["_data_files"]:
            name = entry.get("filename")
            if not _simple_name(name) or not (path / name).is_file():
                raise InvalidInputError(
                    f"state.json names a data file {name!r} that is not a file in the folder"
                )
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as err:
        raise InvalidInputError(f"folder {path.name!r} has damaged `datasets` metadata ({err})") from None


def read_datasets_dir(path: Path, *, limit: int | None = None) -> Table:
    """A `save_to_disk` folder. A DatasetDict's splits are read in order into one table with a
    `split` column, so row numbers run on across splits."""
    if not any((path / marker).is_file() for marker in _DATASET_MARKERS):
        raise InvalidInputError(
            f"folder {path.name!r} is not a `datasets` save_to_disk folder (it has no state.json or "
            "dataset_dict.json); upload a .csv, .jsonl or .parquet file instead"
        )
    _check_folder_files(path)
    import datasets

    try:
        with quiet_datasets():
            loaded = datasets.load_from_disk(str(path), keep_in_memory=True)
    except Exception as err:  # datasets raises many types for a damaged folder; all mean "bad upload"
        raise InvalidInputError(
            f"folder {path.name!r} cannot be loaded as a `datasets` folder ({err})"
        ) from None
    if isinstance(loaded, datasets.DatasetDict):
        records: list[dict] = []
        columns: list[str] = []
        for split, ds in loaded.items():
            left = None if limit is None else limit - len(records)
            if left is not None and left <= 0:
                break
            for rec in _decoded_records(ds, left):
                rec.setdefault("split", split)
                records.append(rec)
            columns += [c for c in ds.column_names if c not in columns]
        if "split" not in columns:
            columns.append("split")
        return _table_from_records(records, columns)
    return _table_from_records(_decoded_records(loaded, limit), loaded.column_names)


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
