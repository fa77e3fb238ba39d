"""Task types and label parsing: pure rules shared by the store, import, training and UI."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ftdemo.errors import InvalidInputError


class TaskType(str, enum.Enum):
    """What one example's annotation looks like; fixed when a dataset is created."""

    SINGLE_LABEL = "single_label"  # exactly one label per example (softmax / cross-entropy)
    MULTI_LABEL = "multi_label"  # zero or more labels per example (sigmoid / BCE)
    PAIR = "pair"  # text + text_pair, exactly one label (NLI-style)

    @classmethod
    def parse(cls, value: str | "TaskType") -> "TaskType":
        if isinstance(value, TaskType):
            return value
        try:
            return cls(str(value).strip().lower().replace("-", "_"))
        except ValueError:
            choices = ", ".join(t.value for t in cls)
            raise InvalidInputError(f"unknown task type {value!r}; choose one of: {choices}") from None

    @property
    def is_multi_label(self) -> bool:
        return self is TaskType.MULTI_LABEL

    @property
    def has_pair(self) -> bool:
        return self is TaskType.PAIR


def text_names(task: TaskType | str, text_name: str = "", pair_name: str = "") -> tuple[str, str | None]:
    """What a dataset's texts are called: its own names, else the task's (Premise / Hypothesis for pairs)."""
    task = TaskType.parse(task)
    if task.has_pair:
        return text_name or "Premise", pair_name or "Hypothesis"
    return text_name or "Text", None


def clean_text_name(name: str | None) -> str:
    """A column-like name for a dataset's text ("" = the default); one short line of printable text."""
    cleaned = " ".join("".join(ch for ch in (name or "") if ch.isprintable()).split())
    if len(cleaned) > 40:
        raise InvalidInputError(f"a text name may have at most 40 characters, got {len(cleaned)}")
    return cleaned


_LABEL_NAME = re.compile(r"^[^\s,|][^,|]*$")
MAX_LABEL_LEN = 64


def validate_label_name(name: str) -> str:
    """Return the stripped label name or raise: labels may not contain ',' or '|' (cell separators)."""
    cleaned = (name or "").strip()
    if not cleaned:
        raise InvalidInputError("a label name cannot be empty")
    if len(cleaned) > MAX_LABEL_LEN:
        raise InvalidInputError(f"label {cleaned[:20]!r}… is longer than {MAX_LABEL_LEN} characters")
    if not _LABEL_NAME.match(cleaned):
        raise InvalidInputError(f"label {cleaned!r} may not contain ',' or '|' (they separate labels in files)")
    return cleaned


MAX_DATASET_NAME_CHARS, MAX_DATASET_NAME_BYTES = 100, 255  # the column's width; a folder name's limit
# Control characters (tab and newline included), bidi controls, line separators and lone surrogates: a
# dataset name becomes a folder name (models/<name>/) and is printed in terminals and file names.
_UNSAFE_IN_NAME = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAME_RULE = (f"a dataset name is also a folder name and is shown in terminals, so it needs 1-{MAX_DATASET_NAME_CHARS} "
              f"characters (at most {MAX_DATASET_NAME_BYTES} bytes in UTF-8) without control characters, '/' or "
              "'\\', a leading '.' or surrounding spaces")


def _name_problem(name: str) -> str | None:
    if not name:
        return "is empty"
    if name != name.strip():
        return "starts or ends with a space"
    if len(name) > MAX_DATASET_NAME_CHARS:
        return f"has {len(name)} characters"
    bad = _UNSAFE_IN_NAME.search(name)
    if bad:
        return f"contains the control or invisible character U+{ord(bad.group()):04X}"
    if len(name.encode("utf-8")) > MAX_DATASET_NAME_BYTES:
        return f"is {len(name.encode('utf-8'))} bytes in UTF-8"
    if "/" in name or "\\" in name:
        return "contains a slash ('/' or '\\')"
    if name.startswith("."):
        return "starts with '.'"
    return None


def validate_dataset_name(name: str) -> str:
    """Return `name` if every place that uses it can: the database, the model registry's folder, export
    file names, a terminal. The one rule, checked when a dataset is created (and by the registry, for
    names stored before it existed), so nothing fails at the end of a training run or an export."""
    problem = _name_problem(name) if isinstance(name, str) else "is not text"
    if problem:
        raise InvalidInputError(f"dataset name {str(name)[:40]!r} {problem}; {_NAME_RULE}")
    return name


def parse_label_list(spec: str | Sequence[str]) -> list[str]:
    """Parse 'a,b,c' (or a list) into validated, de-duplicated label names, order kept."""
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out: list[str] = []
    for item in items:
        if str(item).strip() == "":
            continue
        name = validate_label_name(str(item))
        if name not in out:
            out.append(name)
    return out


def split_label_cell(cell: object) -> list[str]:
    """Labels from one file cell: a list (JSONL), 'a|b' or 'a,b' (CSV), or one value; '' → []."""
    if cell is None:
        return []
    if isinstance(cell, float) and cell != cell:  # NaN from pandas
        return []
    if isinstance(cell, (list, tuple)) or type(cell).__name__ == "ndarray":
        return [str(c).strip() for c in cell if str(c).strip()]
    text = str(cell).strip()
    if not text:
        return []
    sep = "|" if "|" in text else ","
    return [part.strip() for part in text.split(sep) if part.strip()]


def check_labels_for_task(task: TaskType, labels: Iterable[str], known: Sequence[str]) -> list[str]:
    """Validate one example's labels against the task shape and the dataset's label set.

    Returns the labels in the dataset's order. Raises InvalidInputError with an actionable message.
    """
    given = list(dict.fromkeys(labels))
    unknown = [lab for lab in given if lab not in known]
    if unknown:
        raise InvalidInputError(
            f"label {unknown[0]!r} is not in this dataset's labels: {', '.join(known)}"
        )
    if not task.is_multi_label and len(given) != 1:
        raise InvalidInputError(
            f"a {task.value} example takes exactly one label, got {len(given)}: {', '.join(given) or '(none)'}"
        )
    order = {lab: i for i, lab in enumerate(known)}
    return sorted(given, key=order.__getitem__)


def normalize_text(text: str | None) -> str:
    """NFC-normalise and strip; what the content hash and duplicate checks see."""
    import unicodedata

    return unicodedata.normalize("NFC", text or "").strip()


def content_hash(text: str, text_pair: str | None = None) -> str:
    """Stable identity of an example's content within a dataset (sha256 hex of the normalised texts)."""
    import hashlib

    payload = normalize_text(text) + "\x1f" + normalize_text(text_pair)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()



@dataclass(frozen=True)
class LabelledText:
    """One example as training, evaluation and export see it: plain data, no ORM."""

    id: int
    text: str
    text_pair: str | None
    labels: tuple[str, ...]  # dataset label order; exactly one unless multi-label
