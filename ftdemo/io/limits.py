"""How much one upload may decode to: rows, bytes of values, nesting depth.

A file's size says little about what it holds: a 200 KB Parquet file of one long string repeated a
million times (dictionary-encoded, then compressed) decodes to gigabytes. So every reader counts
what it decodes against limits derived from the one upload setting (`max_bytes`, from
FTDEMO_MAX_UPLOAD_MB) and refuses the file once past them, before building the Python rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NoReturn

from ftdemo.errors import InvalidInputError

DEFAULT_MAX_BYTES = 50 * 1024 * 1024  # Settings.max_upload_mb's default; callers pass their setting
HARD_MAX_BYTES = 2 * 1024 ** 3  # with max_bytes=None (a local file the CLI reads) the limits derive from this
DECODE_FACTOR = 4  # values may decode to this many times the upload limit (text formats: at most 1x)
BYTES_PER_ROW = 32  # rows are capped at max_bytes / this: a real row is rarely shorter, a Python row costs ~400 bytes
MIN_ROWS = 1000  # even a tiny upload limit accepts this many rows
MAX_DEPTH = 20  # JSON / Arrow nesting; a row is one level, its labels list two; deeper is a mistake or an attack
VALUE_OVERHEAD = 8  # each decoded value counts at least this many bytes, so a million empty strings is not free
_HINT = "split it into smaller files, or ask an admin to raise FTDEMO_MAX_UPLOAD_MB"


@dataclass(frozen=True)
class ReadLimits:
    """The most one read may decode: rows (data rows, readable or not), bytes of values, nesting depth."""

    max_rows: int
    max_decoded_bytes: int
    max_depth: int = MAX_DEPTH

    @classmethod
    def for_upload(cls, max_bytes: int | None) -> ReadLimits:
        """Limits for an upload of at most `max_bytes` (None: a local file, bounded by HARD_MAX_BYTES)."""
        base = HARD_MAX_BYTES if max_bytes is None else max(1, max_bytes)
        return cls(max_rows=max(MIN_ROWS, base // BYTES_PER_ROW), max_decoded_bytes=DECODE_FACTOR * base)


class DecodeBudget:
    """What one read has decoded so far; raises InvalidInputError naming the limit once past it."""

    def __init__(self, limits: ReadLimits | None = None, source: str = "") -> None:
        self.limits = limits or ReadLimits.for_upload(DEFAULT_MAX_BYTES)
        self.source = repr(source) if source else "the file"
        self.rows = 0
        self.bytes = 0

    def expect(self, rows: int = 0, nbytes: int = 0) -> None:
        """Refuse a claim (a file's metadata) that would take the read past its limits; counts nothing."""
        if self.rows + rows > self.limits.max_rows:
            raise InvalidInputError(
                f"{self.source} has more than {self.limits.max_rows:,} rows, the most one file may have at this "
                f"upload limit; {_HINT}")
        if self.bytes + nbytes > self.limits.max_decoded_bytes:
            raise InvalidInputError(
                f"{self.source} decodes to more than {_size(self.limits.max_decoded_bytes)} of values "
                f"({DECODE_FACTOR}x the upload limit; compressed files can hold far more than their size); {_HINT}")

    def add_rows(self, n: int = 1) -> None:
        self.expect(rows=n)
        self.rows += n

    def add_bytes(self, n: int) -> None:
        self.expect(nbytes=n)
        self.bytes += n

    def check_depth(self, depth: int, where: str) -> None:
        if depth > self.limits.max_depth:
            self.too_deep(where)

    def too_deep(self, where: str) -> NoReturn:
        raise InvalidInputError(
            f"{self.source}: {where} is nested more than {self.limits.max_depth} levels deep, the most a row may "
            "have; flatten it (e.g. keep nested metadata as a JSON string)")


def _size(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB" if n >= 2**20 else f"{n:,} bytes"


def json_depth(value: object, stop_after: int) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 0, {"a": 1} is 1), counted without recursion;
    stops early once past `stop_after`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, depth)
        if deepest > stop_after:
            break
        stack.extend((child, depth + 1) for child in children)
    return deepest
