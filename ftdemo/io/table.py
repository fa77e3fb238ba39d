"""What a reader returns: numbered rows as plain dicts, plus the rows that could not be read."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypedDict


class RowIssue(TypedDict):
    """A row reported instead of imported: its user-facing number and why."""

    row: int
    reason: str


@dataclass
class Row:
    """One readable data row: its user-facing number and its cells by column name."""

    number: int
    values: dict[str, object]


@dataclass
class Table:
    """The rows of one file in file order. `errors` holds malformed rows (bad JSON, wrong field count,
    invalid UTF-8); they are never dropped silently: the import plan reports them by row number."""

    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)
    source: str = ""  # the file name shown to users and stored as each example's source
    format: str = ""  # a FileFormat value

    @property
    def total_rows(self) -> int:
        """Data rows seen, readable or not (blank lines are not counted)."""
        return len(self.rows) + len(self.errors)

    before: int = 0  # rows (readable or not) in the chunks of the same file read before this one

    def full(self, limit: int | None) -> bool:
        """True once `limit` rows of the file were seen (readers stop early for previews)."""
        return limit is not None and self.before + self.total_rows >= limit

    def due(self, chunk_rows: int | None) -> bool:
        """True when a chunked read should hand this table on (see `next_chunk`)."""
        return chunk_rows is not None and self.total_rows >= chunk_rows

    def next_chunk(self) -> Table:
        """An empty table for the rows that follow, sharing the columns (a JSON lines file may add some)."""
        return Table(columns=self.columns, source=self.source, format=self.format,
                     before=self.before + self.total_rows)


def merged(chunks: Iterable[Table]) -> Table:
    """The chunks of one file as a single table."""
    out: Table | None = None
    for chunk in chunks:
        if out is None:
            out = Table(columns=chunk.columns, source=chunk.source, format=chunk.format)
        out.rows += chunk.rows
        out.errors += chunk.errors
        out.columns = chunk.columns
    return out if out is not None else Table()
