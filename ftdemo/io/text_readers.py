"""Parse CSV, TSV, JSON lines and JSON arrays into numbered rows, reporting bad rows instead of failing.

Row numbers count data rows from 1 in file order, the way a user finds them:
  * CSV/TSV: the header is not counted, so row 1 is the first line after the header (row N is
    spreadsheet row N+1); without a header row 1 is the first line.
  * JSON lines: row N is line N of the file.
  * JSON array: row N is the array's Nth element.
Blank lines are skipped but keep their number, so later rows still match what the user sees.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from ftdemo.errors import InvalidInputError
from ftdemo.io.cells import undecodable_byte, unescape_formula
from ftdemo.io.limits import DecodeBudget, json_depth
from ftdemo.io.table import Row, RowIssue, Table

_ENCODING_HINT = "save the file as UTF-8 and upload it again"


HEAD_BYTES = 8192  # what the encoding check looks at


@contextlib.contextmanager
def open_text(path: Path, *, newline: str) -> Iterator[TextIO]:
    """The file as text decoded while it is read: UTF-8 (with or without BOM) or BOM-marked UTF-16;
    other encodings are reported. Memory stays at a buffer's size whatever the file's.

    Undecodable UTF-8 bytes are kept as lone surrogates (surrogateescape) so that only the rows that
    contain them are rejected, each with its row number, instead of the whole file. A file that is
    empty or only whitespace is refused here.
    """
    name = path.name
    with open(path, "rb") as raw:
        head = raw.read(HEAD_BYTES)
        raw.seek(0)
        utf16 = head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))  # Excel's "Unicode text"
        if not utf16 and b"\x00" in head:
            raise InvalidInputError(
                f"{name!r} contains NUL bytes: it is binary or UTF-16 without a byte-order mark; {_ENCODING_HINT}"
            )
        stream = io.TextIOWrapper(raw, encoding="utf-16" if utf16 else "utf-8-sig",
                                  errors="strict" if utf16 else "surrogateescape", newline=newline)
        try:
            if len(head) < HEAD_BYTES and not _decoded(head, utf16, name).strip():
                raise InvalidInputError(f"{name!r} is empty")
            yield stream
        except UnicodeDecodeError:
            raise InvalidInputError(f"{name!r} starts like UTF-16 but is not valid UTF-16; {_ENCODING_HINT}") from None
        finally:
            stream.detach()  # `raw` is closed by its own `with`


def _decoded(data: bytes, utf16: bool, name: str) -> str:
    if utf16:
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise InvalidInputError(f"{name!r} starts like UTF-16 but is not valid UTF-16; {_ENCODING_HINT}") from None
    return data.decode("utf-8-sig", errors="surrogateescape")


def starts_with(stream: TextIO, char: str) -> bool:
    """Whether the text's first non-whitespace character is `char` (the stream is rewound)."""
    head = stream.read(HEAD_BYTES)
    while head and not head.strip():
        head = stream.read(HEAD_BYTES)
    stream.seek(0)
    return head.lstrip().startswith(char)


def _bad_encoding(values: dict[str, object]) -> str | None:
    """Reason for rejecting a row whose strings are not valid UTF-8, or None."""
    for column, value in values.items():
        for text in _strings(value):
            bad = undecodable_byte(text)
            if bad:
                return f"column {column!r} is not valid UTF-8 ({bad}); {_ENCODING_HINT}"
    return None


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _add(parsed: Table, number: int, values: dict[str, object]) -> None:
    reason = _bad_encoding(values)
    if reason:
        parsed.errors.append(RowIssue(row=number, reason=reason))
    else:
        parsed.rows.append(Row(number, values))


def _header(record: list[str]) -> list[str]:
    columns = [unescape_formula(c).strip() or f"column_{i}" for i, c in enumerate(record, 1)]
    bad = next((c for c in columns if undecodable_byte(c)), None)
    if bad is not None:
        raise InvalidInputError(
            f"the header row is not valid UTF-8 ({undecodable_byte(bad)}); {_ENCODING_HINT}"
        )
    seen: set[str] = set()
    for name in columns:
        if name in seen:
            raise InvalidInputError(f"column {name!r} appears twice in the header; rename one of them")
        seen.add(name)
    return columns


def _field_count_reason(record: list[str], parsed: Table, lines: tuple[int, int], delimiter: str) -> str:
    reason = f"{len(record)} fields but the header has {len(parsed.columns)}"
    if lines[1] > lines[0]:  # one record over several lines: usually an unclosed quote swallowed them
        return f"{reason} (file lines {lines[0]}-{lines[1]}); a quote (\") may be unclosed"
    sep = "tab" if delimiter == "\t" else "comma"
    return f"{reason}; a text that contains a {sep} must be in double quotes"


def iter_delimited(text: str | TextIO, delimiter: str, *, header: bool = True, limit: int | None = None,
                   budget: DecodeBudget | None = None, chunk_rows: int | None = None) -> Iterator[Table]:
    """CSV/TSV with standard quoting, in tables of at most `chunk_rows` rows (None: one table), so a
    large file never becomes a million Python rows at once. One leading "'" added against formula
    injection is removed; every data row, readable or not, counts against the budget's rows. `text`: a string, or a stream opened with newline=""."""
    budget = budget or DecodeBudget()
    reader = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else text, delimiter=delimiter)
    parsed = Table()
    number = 0
    start_line = 1
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as err:  # e.g. a field over the csv module's size limit; the reader resumes
            if header and not parsed.columns:
                raise InvalidInputError(f"the header row cannot be read ({err})") from None
            budget.add_rows()
            number += 1
            reason = f"cannot be read ({err}); check for an unclosed quote (\")"
            parsed.errors.append(RowIssue(row=number, reason=reason))
            start_line = reader.line_num + 1
            if parsed.due(chunk_rows):
                yield parsed
                parsed = parsed.next_chunk()
            continue
        lines = (start_line, reader.line_num)
        start_line = reader.line_num + 1
        if not parsed.columns and header:
            if not record:  # blank lines before the header
                continue
            parsed.columns = _header(record)
            continue
        if not parsed.columns:
            if not record:
                number += 1
                continue
            parsed.columns = [f"column_{i}" for i in range(1, len(record) + 1)]
        if parsed.full(limit):
            break
        number += 1
        if not record or record == [""]:
            continue  # blank line
        budget.add_rows()
        if len(record) != len(parsed.columns):
            reason = _field_count_reason(record, parsed, lines, delimiter)
            parsed.errors.append(RowIssue(row=number, reason=reason))
        else:
            _add(parsed, number, {c: unescape_formula(v) for c, v in zip(parsed.columns, record)})
        if parsed.due(chunk_rows):
            yield parsed
            parsed = parsed.next_chunk()
    yield parsed


def _collect_columns(parsed: Table, obj: dict) -> None:
    for key in obj:
        if key not in parsed.columns:
            parsed.columns.append(key)


def _add_object(parsed: Table, number: int, obj: object) -> None:
    """One JSON value as a row: an object (its keys join the columns), or an error naming what it is."""
    if not isinstance(obj, dict):
        parsed.errors.append(RowIssue(row=number, reason=f"a JSON {type(obj).__name__}, not an object like "
                                                         '{"text": ...}'))
        return
    _collect_columns(parsed, obj)
    _add(parsed, number, obj)


def _parse_nested(text: str, budget: DecodeBudget, where: str) -> object:
    """json.loads, refusing values nested deeper than the budget allows (json.loads itself would end
    in a RecursionError around 1000 levels)."""
    try:
        value = json.loads(text)
    except RecursionError:
        budget.too_deep(where)
    budget.check_depth(json_depth(value, budget.limits.max_depth), where)
    return value


def iter_json_lines(text: str | TextIO, *, limit: int | None = None, budget: DecodeBudget | None = None,
                    chunk_rows: int | None = None) -> Iterator[Table]:
    """One JSON object per line, in tables of at most `chunk_rows` rows (None: one table); a line that
    is not a JSON object is reported by its line number. `text`: a string,
    or a stream opened with newline="\n"."""
    budget = budget or DecodeBudget()
    parsed = Table()
    # split on "\n" only: str.splitlines() would also split on U+2028/U+0085 inside JSON strings
    for number, line in enumerate(text.split("\n") if isinstance(text, str) else text, 1):
        if parsed.full(limit):
            break
        if not line.strip():
            continue
        budget.add_rows()
        try:
            obj = _parse_nested(line, budget, f"line {number}")
        except json.JSONDecodeError as err:
            reason = f"not valid JSON ({err.msg} at character {err.colno})"
            parsed.errors.append(RowIssue(row=number, reason=reason))
        else:
            _add_object(parsed, number, obj)
        if parsed.due(chunk_rows):
            yield parsed
            parsed = parsed.next_chunk()
    yield parsed


def iter_json_array(text: str, *, limit: int | None = None, budget: DecodeBudget | None = None,
                    chunk_rows: int | None = None) -> Iterator[Table]:
    """A .json file holding one array of objects (what many tools write instead of JSON lines), in
    tables of at most `chunk_rows` rows; the array itself is parsed at once."""
    budget = budget or DecodeBudget()
    try:
        items = json.loads(text)
    except RecursionError:
        budget.too_deep("the array")
    except json.JSONDecodeError as err:
        raise InvalidInputError(
            f"the JSON array is not valid JSON ({err.msg} at line {err.lineno}, character {err.colno}); "
            "no rows were read"
        ) from None
    parsed = Table()
    for number, obj in enumerate(items, 1):
        if parsed.full(limit):
            break
        budget.add_rows()
        budget.check_depth(json_depth(obj, budget.limits.max_depth), f"element {number}")
        _add_object(parsed, number, obj)
        if parsed.due(chunk_rows):
            yield parsed
            parsed = parsed.next_chunk()
    yield parsed
