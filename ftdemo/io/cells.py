"""Cell-level rules shared by readers, the import planner and the exporters."""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import re

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection). Quote
# characters already in front are counted so the escape is reversible: "'=x" → "''=x" → "'=x".
_NEEDS_ESCAPE = re.compile(r"^'*[=+\-@\t\r]")
_ESCAPED = re.compile(r"^'+[=+\-@\t\r]")
# Lone surrogates: undecodable bytes (decoded with surrogateescape) or "\udc80"-style JSON escapes.
# Neither can be stored as UTF-8, so a row holding one is rejected.
_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_formula(cell: str) -> str:
    """Prefix "'" to a CSV cell a spreadsheet would run as a formula (reversed by `unescape_formula`)."""
    return "'" + cell if _NEEDS_ESCAPE.match(cell) else cell


def unescape_formula(cell: str) -> str:
    """Strip exactly one leading "'" that `escape_formula` added; other cells are returned unchanged."""
    return cell[1:] if _ESCAPED.match(cell) else cell


def undecodable_byte(value: str) -> str | None:
    """Describe the first character of `value` that is not valid UTF-8 text, or None if all are."""
    found = _SURROGATE.search(value)
    if found is None:
        return None
    code = ord(found.group())
    # surrogateescape maps an undecodable byte b to U+DC00+b; show the byte the user's editor has
    return f"byte 0x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"character U+{code:04X}"


def is_missing(value: object) -> bool:
    """None, NaN and blank strings all mean 'no value' in a cell."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def label_value(value: object) -> object:
    """Normalise a raw label cell so that 0/1 ints (or 1.0 floats) read as the strings "0"/"1"."""
    if isinstance(value, bool):  # bool is an int; "True" would be a surprising label name
        return str(value).lower()
    if isinstance(value, float) and not math.isnan(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [label_value(v) for v in value]
    return value


def jsonable(value: object) -> object:
    """Metadata values as plain JSON types (the store keeps metadata as JSON)."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)
