"""What every command module shares: bounded number options, usage errors on one line, the error that
still carries a report, and output that cannot drive the terminal.

Text from the database (dataset and label names, example texts, annotator names) reaches the
terminal through here: a control character (ESC starts a terminal escape sequence) or a bidi
override (which reorders what the reader sees) is printed as a visible escape, never raw.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from typing import Any, NoReturn

from ftdemo.errors import FtdemoError

MAX_INT64 = 2 ** 63 - 1  # what a database id or count can hold; larger numbers overflow SQLite
# C0 controls but newline (it separates the lines of a text answer), DEL, C1 controls (U+009B is a
# one-character escape sequence), line/paragraph separators and the bidi embeddings/overrides/isolates.
_UNSAFE = "\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_UNSAFE_IN_TEXT = re.compile(f"[{_UNSAFE}]")
_UNSAFE_IN_LINE = re.compile(f"[\n{_UNSAFE}]")


class UsageError(FtdemoError):
    """The command line itself is wrong (argparse's complaint): printed on one line like any error."""


class ReportedError(FtdemoError):
    """A command that failed but has a report to show (e.g. `import --strict` with bad rows): main
    prints the report (text, or JSON with --json) on stdout, this message on stderr, and exits 2."""

    def __init__(self, message: str, text: str, payload: Any) -> None:
        super().__init__(message)
        self.text, self.payload = text, payload


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are raised (one line, exit 2 through main), not printed with the
    usage block; subparsers inherit it."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def whole_number(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: a whole number from `low` to `high`, else an error naming the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be a whole number from {low} to {high}, got {text[:40]!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {text[:40]}")
        return value

    parse.__name__ = "whole number"  # argparse names the type in its own messages
    return parse


def option_range(name: str) -> Callable[[str], int]:
    """The argparse type of a whole-number training option: its range from TrainConfig's table."""
    from ftdemo.training.config import RANGES

    allowed = RANGES[name]
    return whole_number(int(allowed.low), int(allowed.high))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def terminal_text(text: str, *, one_line: bool = False) -> str:
    """`text` with control and bidi characters escaped (`\\x1b`, `\\u202e`); newlines too if `one_line`."""
    return (_UNSAFE_IN_LINE if one_line else _UNSAFE_IN_TEXT).sub(_escape, text)


def shown(value: object) -> str:
    """A user-supplied value inside a line of text output: one line, nothing raw."""
    return terminal_text(str(value), one_line=True)


def terminal_json(payload: Any, default: Callable[[Any], Any]) -> str:
    """Indented JSON whose strings carry no raw control or bidi character. json.dumps already escapes C0
    controls; the rest (DEL, C1, bidi) only ever occur inside strings, where \\uXXXX means the same."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=default)
    return _UNSAFE_IN_TEXT.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
