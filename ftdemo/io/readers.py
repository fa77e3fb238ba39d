"""Read any supported upload into a Table, within a size limit; and a small preview for the UI.

See `ftdemo.io.text_readers` for how rows are numbered (header not counted; row 1 = first data row),
and `ftdemo.io.limits` for what a file may decode to (derived from the same size limit).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ftdemo.errors import InvalidInputError
from ftdemo.io import arrow_readers, text_readers
from ftdemo.io.formats import FileFormat, import_format
from ftdemo.io.limits import DEFAULT_MAX_BYTES, HARD_MAX_BYTES, DecodeBudget, ReadLimits
from ftdemo.io.safezip import safe_extract
from ftdemo.io.table import RowIssue, Table, merged

ZIP_HARD_LIMIT = HARD_MAX_BYTES  # even with max_bytes=None, a zip may not unpack to more than this


def _size_of(path: Path) -> int:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return path.stat().st_size


def _check_size(path: Path, max_bytes: int | None) -> None:
    if max_bytes is None:
        return
    size = _size_of(path)
    if size > max_bytes:
        raise InvalidInputError(
            f"{path.name!r} is {size / 2**20:.1f} MiB; the upload limit is {max_bytes / 2**20:.1f} MiB "
            "(split the file, or ask an admin to raise FTDEMO_MAX_UPLOAD_MB)"
        )


def read_path(path: Path, *, max_bytes: int | None, limit: int | None, header: bool,
              budget: DecodeBudget | None = None) -> Table:
    """Dispatch on the format; `max_bytes` only caps what a zip unpacks to (the caller checked the file).
    What the file decodes to counts against `budget` (default: the limits `max_bytes` implies)."""
    return merged(iter_path(path, max_bytes=max_bytes, limit=limit, header=header, budget=budget))


def iter_path(path: Path, *, max_bytes: int | None, limit: int | None, header: bool,
              budget: DecodeBudget | None = None, chunk_rows: int | None = None) -> Iterator[Table]:
    """`read_path` in tables of about `chunk_rows` rows (None: one table). Text formats keep the decoded
    text (at most the file's size) and build Python rows one chunk at a time."""
    budget = budget or DecodeBudget(ReadLimits.for_upload(max_bytes), path.name)
    fmt = import_format(path)
    if fmt is FileFormat.PARQUET:
        chunks = arrow_readers.iter_parquet(path, limit=limit, budget=budget, chunk_rows=chunk_rows)
    elif fmt is FileFormat.DIRECTORY:
        chunks = arrow_readers.iter_datasets_dir(path, limit=limit, budget=budget, chunk_rows=chunk_rows)
    elif fmt is FileFormat.ZIP:
        chunks = iter_zip(path, max_bytes=max_bytes, limit=limit, header=header, budget=budget, chunk_rows=chunk_rows)
    else:
        chunks = _iter_text(path, fmt, header=header, limit=limit, budget=budget, chunk_rows=chunk_rows)
    for table in chunks:
        table.format = table.format or fmt.value  # a zip keeps the inner file's format
        yield table


def _iter_text(path: Path, fmt: FileFormat, *, header: bool, limit: int | None, budget: DecodeBudget,
               chunk_rows: int | None) -> Iterator[Table]:
    """CSV, TSV and JSON lines stream from the file, decoded as they are read; a JSON array is parsed
    whole (json.loads needs all of it: for large files, JSON lines)."""
    budget.add_bytes(_size_of(path))  # text decodes to at most as many characters as it has bytes
    delimited = fmt in (FileFormat.CSV, FileFormat.TSV)
    with text_readers.open_text(path, newline="" if delimited else "\n") as stream:
        if delimited:
            yield from text_readers.iter_delimited(stream, "," if fmt is FileFormat.CSV else "\t", header=header,
                                                   limit=limit, budget=budget, chunk_rows=chunk_rows)
        elif text_readers.starts_with(stream, "["):
            yield from text_readers.iter_json_array(stream.read(), limit=limit, budget=budget, chunk_rows=chunk_rows)
        else:
            yield from text_readers.iter_json_lines(stream, limit=limit, budget=budget, chunk_rows=chunk_rows)


def iter_zip(path: Path, *, max_bytes: int | None, limit: int | None = None, header: bool = True,
             budget: DecodeBudget | None = None, chunk_rows: int | None = None) -> Iterator[Table]:
    """A zipped `datasets` folder, or a zip holding exactly one CSV/TSV/JSON(L)/Parquet file.

    Extracted into a temporary folder (zip-slip checked, size capped) that is removed once read;
    what the inner file decodes to counts against the zip's own budget.
    """
    cap = ZIP_HARD_LIMIT if max_bytes is None else min(max_bytes, ZIP_HARD_LIMIT)
    budget = budget or DecodeBudget(ReadLimits.for_upload(max_bytes), path.name)
    with tempfile.TemporaryDirectory(prefix="ftdemo-zip-") as tmp:
        inner = arrow_readers.zipped_table_path(safe_extract(path, tmp, max_bytes=cap), path.name)
        if inner.is_dir():
            for table in arrow_readers.iter_datasets_dir(inner, limit=limit, budget=budget, chunk_rows=chunk_rows):
                table.format = FileFormat.DIRECTORY.value  # the format of the rows, not of the wrapper
                yield table
            return
        yield from iter_path(inner, max_bytes=cap, limit=limit, header=header, budget=budget, chunk_rows=chunk_rows)


def read_zip(path: Path, *, max_bytes: int | None, limit: int | None = None, header: bool = True,
             budget: DecodeBudget | None = None) -> Table:
    """`iter_zip` as one table."""
    return merged(iter_zip(path, max_bytes=max_bytes, limit=limit, header=header, budget=budget))


def read_rows(
    path: str | Path,
    *,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    header: bool = True,
    limit: int | None = None,
) -> Table:
    """Read an upload (csv, tsv, jsonl, json, parquet, zip, or a `datasets` directory) into a Table.

    `max_bytes` caps the file size (for a directory: all its files; for a zip: the zip and what it
    unpacks to); None means no cap on the size. Either way what the file decodes to is bounded
    (`ReadLimits.for_upload(max_bytes)`: rows, bytes of values, nesting depth). `header=False` reads a CSV/TSV whose first line is data; its
    columns are then named column_1, column_2, ... `limit` stops after that many rows (previews).
    Raises InvalidInputError for whole-file problems (past those bounds too); bad rows go to
    `Table.errors` by row number.
    """
    return merged(iter_rows(path, max_bytes=max_bytes, header=header, limit=limit))


def iter_rows(path: str | Path, *, max_bytes: int | None = DEFAULT_MAX_BYTES, header: bool = True,
              limit: int | None = None, chunk_rows: int | None = None) -> Iterator[Table]:
    """`read_rows` in tables of about `chunk_rows` rows (None: one table): what an import of a large
    file reads, so that its rows never all exist as Python objects at once. Rows keep their numbers."""
    path = Path(path)
    if not path.exists():
        raise InvalidInputError(f"{str(path)!r} does not exist")
    _check_size(path, max_bytes)
    for table in iter_path(path, max_bytes=max_bytes, limit=limit, header=header, chunk_rows=chunk_rows):
        table.source = path.name
        yield table


@dataclass
class Preview:
    """The first rows of an upload, for showing before the user maps columns and imports."""

    source: str
    format: str
    columns: list[str]
    rows: list[dict[str, object]] = field(default_factory=list)
    row_numbers: list[int] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)

    def to_matrix(self, max_chars: int = 200) -> list[list[str]]:
        """Rows as strings in column order, cut to `max_chars` (what a table widget shows)."""
        def cell(value: object) -> str:
            text = "" if value is None else str(value)
            return text if len(text) <= max_chars else text[: max_chars - 1] + "…"

        return [[cell(row.get(c)) for c in self.columns] for row in self.rows]

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "format": self.format, "columns": list(self.columns),
                "rows": list(self.rows), "row_numbers": list(self.row_numbers), "errors": list(self.errors)}


def preview(
    path: str | Path, n: int = 20, *, max_bytes: int | None = DEFAULT_MAX_BYTES, header: bool = True
) -> Preview:
    """The first `n` rows (readable or not) and the columns of an upload; same errors as `read_rows`."""
    table = read_rows(path, max_bytes=max_bytes, header=header, limit=max(n, 0))
    return Preview(
        source=table.source,
        format=table.format,
        columns=list(table.columns),
        rows=[row.values for row in table.rows],
        row_numbers=[row.number for row in table.rows],
        errors=list(table.errors),
    )
