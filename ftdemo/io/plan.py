"""Check every row of an upload and decide what an import would add, without writing anything.

The caller shows the plan and then imports `plan.valid` ("import valid rows") or nothing
("import nothing"); this module never touches the store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ftdemo.errors import InvalidInputError
from ftdemo.io.cells import is_missing, jsonable, label_value
from ftdemo.io.mapping import ColumnMapping, check_mapping, guess_mapping
from ftdemo.io.readers import DEFAULT_MAX_BYTES, read_rows
from ftdemo.io.table import Row, RowIssue, Table
from ftdemo.tasks import TaskType, check_labels_for_task, content_hash, split_label_cell, validate_label_name

DEFAULT_MAX_TEXT_CHARS = 5000
LOOKUP_ROWS = 2000  # rows whose hashes are looked up in the dataset at once  # Settings.max_text_chars's default; callers pass their setting


@dataclass
class ImportCandidate:
    """One row that passed every check: what the store would insert."""

    row: int
    text: str
    text_pair: str | None
    labels: list[str]  # dataset label order; [] = unlabelled
    content_hash: str
    source: str
    metadata: dict[str, object] = field(default_factory=dict)  # the file's other columns

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass
class ImportPlan:
    """What importing a file would do. Nothing is written until the caller imports `valid`."""

    source: str
    format: str
    task: TaskType
    mapping: ColumnMapping
    total_rows: int
    valid: list[ImportCandidate] = field(default_factory=list)
    duplicates: list[RowIssue] = field(default_factory=list)
    errors: list[RowIssue] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """Counts for the confirm dialog: `valid` is what "import valid rows" would add."""
        labelled = sum(1 for c in self.valid if c.labels)
        counts = Counter(lab for c in self.valid for lab in c.labels)
        return {
            "source": self.source,
            "rows": self.total_rows,
            "valid": len(self.valid),
            "labelled": labelled,
            "unlabelled": len(self.valid) - labelled,
            "duplicates": len(self.duplicates),
            "errors": len(self.errors),
            "label_counts": dict(counts),
        }

    def to_dict(self) -> dict[str, object]:
        return {
            **self.summary(),
            "format": self.format,
            "task": self.task.value,
            "mapping": self.mapping.to_dict(),
            "candidates": [c.to_dict() for c in self.valid],
            "duplicate_rows": list(self.duplicates),
            "error_rows": list(self.errors),
        }

    def describe(self, max_issues: int = 3) -> str:
        """One paragraph for a toast: the counts and the first few problems."""
        return describe(self.summary(), self.errors + self.duplicates, max_issues)


def describe(summary: dict[str, object], issues: list[RowIssue], max_issues: int = 3) -> str:
    """What an import would do in one paragraph: the counts and the first few problems."""
    s = summary
    text = (f"{s['source']}: {s['rows']} rows; {s['valid']} ready to import "
            f"({s['labelled']} labelled, {s['unlabelled']} unlabelled), "
            f"{s['duplicates']} duplicates, {s['errors']} errors.")
    if not issues:
        return text
    shown = "; ".join(f"row {i['row']}: {i['reason']}" for i in issues[:max_issues])
    return f"{text} {shown}{'; …' if len(issues) > max_issues else ''}"


def _cell_text(values: dict[str, object], column: str, role: str, max_chars: int) -> str:
    """The text in `column`, or InvalidInputError with the reason the row is rejected."""
    value = values.get(column)
    if is_missing(value):
        raise InvalidInputError(f"empty {role} (column {column!r})")
    if isinstance(value, (dict, list, tuple, bytes)) or type(value).__name__ == "ndarray":
        raise InvalidInputError(f"{role} in column {column!r} must be plain text, got {type(value).__name__}")
    text = value if isinstance(value, str) else str(label_value(value))
    if len(text) > max_chars:
        raise InvalidInputError(
            f"{role} is {len(text):,} characters; the limit is {max_chars:,} (shorten or split it)"
        )
    return text


def _row_labels(
    value: object, task: TaskType, known: Sequence[str] | None, label_map: Mapping[str, str]
) -> list[str]:
    if isinstance(value, dict):  # split_label_cell would read the dict's text as labels
        raise InvalidInputError("a label cell must be text or a list of labels, got an object")
    raw = split_label_cell(label_value(value))
    names = [label_map.get(lab, lab) for lab in raw]
    if not names:
        return []  # an empty label cell: the example joins the unlabelled pool
    if known is None:  # a new dataset: any well-formed name is accepted
        names = [validate_label_name(n) for n in names]
        return check_labels_for_task(task, names, list(dict.fromkeys(names)))
    return check_labels_for_task(task, names, known)


def _candidate(row: Row, source: str, task: TaskType, mapping: ColumnMapping, known: Sequence[str] | None,
               label_map: Mapping[str, str], max_chars: int) -> ImportCandidate:
    values = row.values
    text = _cell_text(values, mapping.text, "text", max_chars)
    pair = _cell_text(values, mapping.text_pair, "text_pair", max_chars) if mapping.text_pair else None
    labels = _row_labels(values.get(mapping.label), task, known, label_map) if mapping.label else []
    used = set(mapping.used())
    metadata = {k: jsonable(v) for k, v in values.items() if k not in used}
    return ImportCandidate(row.number, text, pair, labels, content_hash(text, pair), source, metadata)


def _as_mapping(mapping: ColumnMapping | Mapping[str, str | None] | None, columns: list[str],
                task: TaskType) -> ColumnMapping:
    if mapping is None:
        return guess_mapping(columns, task)
    if isinstance(mapping, ColumnMapping):
        return mapping
    unknown = set(mapping) - {"text", "text_pair", "label"}
    if unknown:
        raise InvalidInputError(f"unknown mapping key {sorted(unknown)[0]!r}; use text, text_pair and label")
    return ColumnMapping(text=mapping.get("text") or "", text_pair=mapping.get("text_pair") or None,
                         label=mapping.get("label") or None)


def plan_import(
    source: str | Path | Table,
    task: TaskType | str,
    labels: Sequence[str] | None,
    mapping: ColumnMapping | Mapping[str, str | None] | None = None,
    *,
    existing_hashes: Collection[str] | Callable[[Sequence[str]], Collection[str]] = (),
    max_text_chars: int = DEFAULT_MAX_TEXT_CHARS,
    label_map: Mapping[object, str] | None = None,
    max_bytes: int | None = DEFAULT_MAX_BYTES,
    header: bool = True,
) -> ImportPlan:
    """Check every row of a file (or an already read Table) and plan the import.

    `labels` is the dataset's label set (None: accept any well-formed label, for a new dataset).
    `mapping` defaults to `guess_mapping`. `existing_hashes`: the content hashes already in the dataset,
    or a function answering which of a chunk's hashes are (so a large dataset's are never all loaded). `label_map` maps raw cell values (e.g. 0/1; keys compared as strings) to label names.
    Raises InvalidInputError for whole-file problems (unreadable file, missing mapped column);
    row problems are collected in `.errors` / `.duplicates` with 1-based row numbers.
    """
    task = TaskType.parse(task)
    table = source if isinstance(source, Table) else read_rows(source, max_bytes=max_bytes, header=header)
    chosen = _as_mapping(mapping, table.columns, task)
    check_mapping(chosen, table.columns, task)
    names_map = {str(label_value(k)): v for k, v in (label_map or {}).items()}
    known = list(labels) if labels is not None else None

    plan = ImportPlan(table.source, table.format, task, chosen, table.total_rows, errors=list(table.errors))
    lookup = existing_hashes if callable(existing_hashes) else _in(existing_hashes)
    first_seen: dict[str, ImportCandidate] = {}
    for start in range(0, len(table.rows), LOOKUP_ROWS):
        cands: list[ImportCandidate] = []
        for row in table.rows[start:start + LOOKUP_ROWS]:
            try:
                cands.append(_candidate(row, table.source, task, chosen, known, names_map, max_text_chars))
            except InvalidInputError as err:
                plan.errors.append(RowIssue(row=row.number, reason=str(err)))
        stored = lookup([c.content_hash for c in cands])  # one question per chunk, not per row
        for cand in cands:
            if cand.content_hash in stored:
                plan.duplicates.append(RowIssue(row=cand.row, reason="the same text is already in the dataset"))
                continue
            earlier = first_seen.get(cand.content_hash)
            if earlier is not None:
                plan.duplicates.append(RowIssue(row=cand.row, reason=_duplicate_reason(earlier, cand)))
                continue
            first_seen[cand.content_hash] = cand
            plan.valid.append(cand)
    plan.errors.sort(key=lambda issue: issue["row"])
    return plan


def _in(known: Collection[str]) -> Callable[[Sequence[str]], Collection[str]]:
    """A lookup over a collection the caller already holds (a set is used as it is, not copied)."""
    held = known if isinstance(known, (set, frozenset)) else set(known)
    return lambda hashes: held


def _duplicate_reason(earlier: ImportCandidate, cand: ImportCandidate) -> str:
    reason = f"same text as row {earlier.row}"
    if cand.labels != earlier.labels:  # worth knowing: the file contradicts itself
        there, here = ("|".join(c.labels) or "no label" for c in (earlier, cand))
        reason += f" (labelled {there} there, {here} here)"
    return reason
