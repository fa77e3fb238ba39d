"""Which file columns hold the text, the second text and the label(s)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ftdemo.errors import InvalidInputError
from ftdemo.tasks import TaskType

# Column names seen in common datasets, most specific first; matched case-insensitively,
# with spaces and hyphens read as '_'.
TEXT_NAMES = ("text", "sentence", "sentence1", "premise", "content", "review", "document", "body",
              "comment", "tweet", "utterance", "question", "query", "message", "input", "text_a")
PAIR_FIRST_NAMES = ("text", "sentence1", "premise", "question", "query", "text_a", "sentence_a",
                    "first", "sentence", "content", "input")
PAIR_SECOND_NAMES = ("text_pair", "sentence2", "hypothesis", "text_b", "sentence_b", "second",
                     "context", "passage", "answer", "response", "sentence")
LABEL_NAMES = ("label", "labels", "category", "categories", "class", "classes", "target", "tag",
               "tags", "intent", "sentiment", "gold_label", "y")
_GENERATED = re.compile(r"^column_\d+$")  # names given to the columns of a header-less CSV/TSV
# column names that say nothing about what the text is (a dataset keeps its default names then)
_GENERIC = re.compile(r"^(column_\d+|text(_?(a|b|pair|\d))?|sentence_?[ab12]?|first|second|input|content|body)$", re.I)


@dataclass(frozen=True)
class ColumnMapping:
    """File column names for each field; `label` None means the rows are imported unlabelled."""

    text: str
    text_pair: str | None = None
    label: str | None = None

    def used(self) -> list[str]:
        return [c for c in (self.text, self.text_pair, self.label) if c]

    def to_dict(self) -> dict[str, str | None]:
        return {"text": self.text, "text_pair": self.text_pair, "label": self.label}


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _pick(columns: Sequence[str], names: Sequence[str], taken: set[str]) -> str | None:
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(_key(column), column)
    for name in names:
        column = by_key.get(name)
        if column is not None and column not in taken:
            return column
    return None


def guess_mapping(columns: Sequence[str], task: TaskType | str) -> ColumnMapping:
    """Sensible defaults for the column mapping, for the user to confirm or change.

    The label column is matched first (so 'label' is never taken as text); a text column falls
    back to the first remaining column. Header-less files (column_1, column_2, ...) are read as
    text[, text_pair], label in that order.
    """
    task = TaskType.parse(task)
    columns = list(columns)
    if not columns:
        raise InvalidInputError("the file has no columns; it needs at least a text column")
    if all(_GENERATED.match(c) for c in columns):
        return _positional(columns, task)
    label = _pick(columns, LABEL_NAMES, set())
    taken = {label} if label else set()
    text = _pick(columns, PAIR_FIRST_NAMES if task.has_pair else TEXT_NAMES, taken)
    if text is None:
        text = next((c for c in columns if c not in taken), None)
    if text is None:
        raise InvalidInputError(f"no column is left for the text; columns present: {', '.join(columns)}")
    taken.add(text)
    pair = None
    if task.has_pair:
        pair = _pick(columns, PAIR_SECOND_NAMES, taken) or next((c for c in columns if c not in taken), None)
    return ColumnMapping(text=text, text_pair=pair, label=label)


def _positional(columns: list[str], task: TaskType) -> ColumnMapping:
    width = 3 if task.has_pair else 2
    text = columns[0]
    pair = columns[1] if task.has_pair and len(columns) > 1 else None
    label = columns[width - 1] if len(columns) >= width else None
    return ColumnMapping(text=text, text_pair=pair, label=label)


def check_mapping(mapping: ColumnMapping, columns: Sequence[str], task: TaskType) -> None:
    """Raise InvalidInputError, naming the missing column and the columns present, if the mapping
    does not fit the file or the task."""
    present = ", ".join(columns) or "(none)"
    for role, column in (("text", mapping.text), ("text_pair", mapping.text_pair), ("label", mapping.label)):
        if column and column not in columns:
            raise InvalidInputError(
                f"{role} column {column!r} is not in the file; columns present: {present}"
            )
    if not mapping.text:
        raise InvalidInputError(f"choose the column that holds the text; columns present: {present}")
    if task.has_pair and not mapping.text_pair:
        raise InvalidInputError(f"a pair dataset needs a text_pair column too; columns present: {present}")
    if not task.has_pair and mapping.text_pair:
        raise InvalidInputError(
            f"text_pair column {mapping.text_pair!r} is only used by pair datasets; this one is {task.value}"
        )
    used = mapping.used()
    if len(set(used)) != len(used):
        raise InvalidInputError("text, text_pair and label must be different columns")


def descriptive_column(name: str | None) -> str | None:
    """A column name worth showing as what its texts are ("premise" → "Premise"), or None when it is
    generic ("text", "sentence1", "column_2") or too long to be a heading."""
    cleaned = " ".join((name or "").replace("_", " ").split())
    if not cleaned or len(cleaned) > 40 or _GENERIC.match((name or "").strip()) or not cleaned.isprintable():
        return None
    return cleaned[0].upper() + cleaned[1:]
