import datetime as dt
import math

import pytest

from ftdemo.io.cells import (
    escape_formula,
    is_missing,
    jsonable,
    label_value,
    undecodable_byte,
    unescape_formula,
)


@pytest.mark.parametrize(
    "cell, escaped",
    [
        ("=1+1", "'=1+1"),
        ("+33 6", "'+33 6"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),
        ("''-x", "'''-x"),
        ("plain", "plain"),
        ("'quoted", "'quoted"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_escape_formula(cell, escaped):
    assert escape_formula(cell) == escaped


@pytest.mark.parametrize("cell", ["=1+1", "-5", "'=x", "''@x", "'plain", "plain", "", "'", "\t", "=", "'-"])
def test_escape_then_unescape_is_exact(cell):
    assert unescape_formula(escape_formula(cell)) == cell


@pytest.mark.parametrize(
    "cell, unescaped",
    [("'=x", "=x"), ("''=x", "'=x"), ("'plain", "'plain"), ("=x", "=x"), ("'", "'")],
)
def test_unescape_strips_exactly_one_quote(cell, unescaped):
    assert unescape_formula(cell) == unescaped


@pytest.mark.parametrize(
    "value, expected",
    [(0, "0"), (1, "1"), (1.0, "1"), (True, "true"), ("pos", "pos"), ([0, 1], ["0", "1"]), (None, None)],
)
def test_label_value_reads_numbers_as_strings(value, expected):
    assert label_value(value) == expected


@pytest.mark.parametrize("value, missing", [(None, True), (math.nan, True), ("  ", True), ("", True),
                                            ("x", False), (0, False)])
def test_is_missing(value, missing):
    assert is_missing(value) is missing


def test_jsonable_converts_dates_nan_and_nested_values():
    value = {"when": dt.date(2024, 1, 2), "x": [math.nan, 1.5], "b": b"hi", 3: None}
    assert jsonable(value) == {"when": "2024-01-02", "x": [None, 1.5], "b": "hi", "3": None}


def test_undecodable_byte_names_the_byte():
    bad = b"caf\xe9".decode("utf-8", errors="surrogateescape")
    assert undecodable_byte(bad) == "byte 0xe9"
    assert undecodable_byte("café 😀") is None
