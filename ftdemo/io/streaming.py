"""Importing a file of any size: two passes over it, a chunk of rows at a time.

A plan of a million rows (`plan_import`) holds a million candidates in memory; an import instead
reads the file twice in chunks. The first pass (`check_file`) validates every row, finds the rows
already in the dataset (asking the caller, a chunk of hashes at a time) and notes each valid row's
content digest, row number and labels in flat arrays (24 bytes a row); duplicates within the file
are then found by sorting those arrays. The second pass (`valid_chunks`) reads the file again and
hands on each chunk's rows that will be imported, for the caller to write in a short transaction.
So "import nothing unless every row is valid" still holds (the first pass decides before anything
is written), and memory stays bounded by a chunk plus the arrays, whatever the file's size.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from ftdemo.errors import InvalidInputError
from ftdemo.io.cells import label_value
from ftdemo.io.mapping import ColumnMapping, check_mapping
from ftdemo.io.plan import ImportCandidate, _candidate, _duplicate_reason, describe
from ftdemo.io.table import RowIssue, Table
from ftdemo.tasks import TaskType

ALREADY_STORED = "the same text is already in the dataset"
Lookup = Callable[[Sequence[str]], Collection[str]]  # content hashes → those the dataset already holds


@dataclass
class FileCheck:
    """What the first pass found: enough to report, to refuse (strict), and to write in the second pass."""

    source: str
    format: str
    mapping: ColumnMapping
    rows: int = 0  # data rows, readable or not
    valid: int = 0  # rows that will be imported
    labelled: int = 0
    label_counts: Counter[str] = field(default_factory=Counter)
    errors: list[RowIssue] = field(default_factory=list)
    duplicates: list[RowIssue] = field(default_factory=list)
    skip: set[int] = field(default_factory=set)  # duplicate rows (valid otherwise): left out by the second pass
    head_labels: dict[int, tuple[str, ...]] = field(default_factory=dict)  # row → labels, first rows only

    def summary(self) -> dict[str, object]:
        """The same counts as ImportPlan.summary."""
        return {"source": self.source, "rows": self.rows, "valid": self.valid, "labelled": self.labelled,
                "unlabelled": self.valid - self.labelled, "duplicates": len(self.duplicates),
                "errors": len(self.errors), "label_counts": dict(self.label_counts)}

    def describe(self, max_issues: int = 3) -> str:
        return describe(self.summary(), self.errors + self.duplicates, max_issues)


class _Rows:
    """Turns a chunk's rows into candidates under one mapping (the checks `plan_import` makes)."""

    def __init__(self, task: TaskType, labels: Sequence[str] | None, mapping: ColumnMapping, max_text_chars: int,
                 label_map: Mapping[object, str] | None) -> None:
        self.task, self.mapping, self.max_text_chars = task, mapping, max_text_chars
        self.known = list(labels) if labels is not None else None
        self.names_map = {str(label_value(k)): v for k, v in (label_map or {}).items()}

    def candidates(self, table: Table) -> tuple[list[ImportCandidate], list[RowIssue]]:
        out, errors = [], list(table.errors)
        for row in table.rows:
            try:
                out.append(_candidate(row, table.source, self.task, self.mapping, self.known, self.names_map,
                                      self.max_text_chars))
            except InvalidInputError as err:
                errors.append(RowIssue(row=row.number, reason=str(err)))
        return out, errors


class _Digests:
    """Valid rows as (128-bit content digest, row number, label set) in flat arrays, to find the rows
    whose text appeared earlier in the file without holding a million Python objects."""

    def __init__(self) -> None:
        self.high, self.low, self.rows, self.labels = array("Q"), array("Q"), array("q"), array("I")
        self.label_sets: dict[tuple[str, ...], int] = {}

    def add(self, cand: ImportCandidate) -> None:
        self.high.append(int(cand.content_hash[:16], 16))
        self.low.append(int(cand.content_hash[16:32], 16))
        self.rows.append(cand.row)
        self.labels.append(self.label_sets.setdefault(tuple(cand.labels), len(self.label_sets)))

    def duplicates(self) -> list[tuple[int, int, tuple[str, ...], tuple[str, ...]]]:
        """(row, earlier row, labels there, labels here) for every repeat of an earlier row's text."""
        import numpy as np

        if not self.rows:
            return []
        high, low = np.frombuffer(self.high, dtype=np.uint64), np.frombuffer(self.low, dtype=np.uint64)
        rows, labels = np.frombuffer(self.rows, dtype=np.int64), np.frombuffer(self.labels, dtype=np.uint32)
        order = np.lexsort((rows, low, high))  # by digest, then by row: the first of a group is the original
        same = (high[order][1:] == high[order][:-1]) & (low[order][1:] == low[order][:-1])
        by_code = {code: names for names, code in self.label_sets.items()}
        out, first = [], order[0]
        for position, repeat in enumerate(same, start=1):
            here = order[position]
            if not repeat:
                first = here
                continue
            out.append((int(rows[here]), int(rows[first]), by_code[int(labels[first])], by_code[int(labels[here])]))
        return sorted(out)


def check_file(chunks: Iterable[Table], task: TaskType | str, labels: Sequence[str] | None,
               mapping: Callable[[list[str]], ColumnMapping], *, stored: Lookup, max_text_chars: int,
               label_map: Mapping[object, str] | None = None, head_rows: int = 0,
               on_chunk: Callable[[int], None] | None = None) -> FileCheck:
    """The first pass: every row checked, nothing written. `mapping` turns the file's columns into the
    mapping to use; `stored` says which content hashes the dataset already holds; `head_rows`: keep the
    labels of valid rows numbered up to this (a preview's); `on_chunk(rows)` is called after each chunk
    with the rows read so far."""
    task = TaskType.parse(task)
    check: FileCheck | None = None
    rows: _Rows | None = None
    digests = _Digests()
    for table in chunks:
        if check is None:
            chosen = mapping(table.columns)
            check_mapping(chosen, table.columns, task)
            check = FileCheck(table.source, table.format, chosen)
            rows = _Rows(task, labels, chosen, max_text_chars, label_map)
        check.rows += table.total_rows
        cands, errors = rows.candidates(table)
        check.errors += errors
        already = stored([c.content_hash for c in cands])
        for cand in cands:
            if cand.content_hash in already:
                check.duplicates.append(RowIssue(row=cand.row, reason=ALREADY_STORED))
                check.skip.add(cand.row)
            else:
                digests.add(cand)
                if cand.row <= head_rows:
                    check.head_labels[cand.row] = tuple(cand.labels)
                check.valid += 1
                check.labelled += bool(cand.labels)
                check.label_counts.update(cand.labels)
        if on_chunk is not None:
            on_chunk(check.rows)
    if check is None:
        raise InvalidInputError("the file has no rows")
    for row, earlier, there, here in digests.duplicates():
        reason = _duplicate_reason(ImportCandidate(earlier, "", None, list(there), "", ""),
                                   ImportCandidate(row, "", None, list(here), "", ""))
        check.duplicates.append(RowIssue(row=row, reason=reason))
        check.skip.add(row)
        check.valid -= 1
        check.labelled -= bool(here)
        check.label_counts.subtract(here)
    check.label_counts = +check.label_counts  # drop labels counted down to zero
    check.errors.sort(key=lambda issue: issue["row"])
    check.duplicates.sort(key=lambda issue: issue["row"])
    return check


def valid_chunks(chunks: Iterable[Table], check: FileCheck, task: TaskType | str, labels: Sequence[str] | None, *,
                 max_text_chars: int, label_map: Mapping[object, str] | None = None
                 ) -> Iterator[tuple[int, list[ImportCandidate]]]:
    """The second pass: (rows read so far, the chunk's rows to import) — every row the first pass found
    valid and not a repeat. The caller still skips texts stored meanwhile (by someone else)."""
    rows = _Rows(TaskType.parse(task), labels, check.mapping, max_text_chars, label_map)
    seen = 0
    for table in chunks:
        seen += table.total_rows
        cands, _ = rows.candidates(table)
        yield seen, [c for c in cands if c.row not in check.skip]
