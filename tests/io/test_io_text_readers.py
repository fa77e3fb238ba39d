"""CSV/TSV/JSON(L) reading: row numbers (header not counted), malformed rows, encodings."""

import codecs
import json

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import read_rows


def rows_of(table):
    return [(row.number, row.values) for row in table.rows]


def error_rows(table):
    return [issue["row"] for issue in table.errors]


def test_csv_rows_are_numbered_from_the_first_data_line(write):
    table = read_rows(write("a.csv", "text,label\nhello,pos\nbye,neg\n"))
    assert table.columns == ["text", "label"]
    assert rows_of(table) == [(1, {"text": "hello", "label": "pos"}), (2, {"text": "bye", "label": "neg"})]
    assert table.format == "csv" and table.source == "a.csv"


def test_tsv_reads_tabs_and_quoted_fields(write):
    table = read_rows(write("a.tsv", 'text\tlabel\n"say ""hi""\tthere"\tpos\nplain, comma\tneg\n'))
    assert [r.values["text"] for r in table.rows] == ['say "hi"\tthere', "plain, comma"]


def test_blank_lines_are_skipped_but_keep_their_number(write):
    table = read_rows(write("a.csv", "text,label\na,x\n\nb,y\n"))
    assert [r.number for r in table.rows] == [1, 3]


def test_quoted_newlines_do_not_shift_row_numbers(write):
    table = read_rows(write("a.csv", 'text,label\n"line one\nline two",x\nb,y,extra\n'))
    assert rows_of(table)[0] == (1, {"text": "line one\nline two", "label": "x"})
    assert error_rows(table) == [2]


def test_wrong_field_count_is_reported_by_row(write):
    table = read_rows(write("a.csv", "text,label\nok,x\ntoo,many,fields\nshort\nfine,y\n"))
    assert [r.number for r in table.rows] == [1, 4]
    assert error_rows(table) == [2, 3]
    assert "3 fields but the header has 2" in table.errors[0]["reason"]
    assert "double quotes" in table.errors[0]["reason"]


def test_unclosed_quote_names_the_swallowed_lines(write):
    table = read_rows(write("a.csv", 'text,label\nok,x\n"broken,y\nc,z\nd,w\n'))
    assert error_rows(table) == [2]
    assert "file lines 3-5" in table.errors[0]["reason"] and "unclosed" in table.errors[0]["reason"]


def test_huge_field_is_a_row_error_not_a_crash(write):
    table = read_rows(write("a.csv", 'text,label\n"' + "x" * 200_000 + "\nok,y\n"), max_bytes=None)
    assert error_rows(table) == [1]
    assert [r.values["text"] for r in table.rows] == ["ok"]


def test_header_false_names_columns_and_counts_the_first_line(write):
    table = read_rows(write("a.tsv", "hello\tpos\nbye\tneg\n"), header=False)
    assert table.columns == ["column_1", "column_2"]
    assert rows_of(table)[0] == (1, {"column_1": "hello", "column_2": "pos"})


def test_blank_header_cells_get_names(write):
    assert read_rows(write("a.csv", ",text\n0,a\n")).columns == ["column_1", "text"]


def test_duplicate_header_is_rejected(write):
    with pytest.raises(InvalidInputError, match="'text' appears twice"):
        read_rows(write("a.csv", "text,text\na,b\n"))


def test_csv_import_strips_one_formula_escape(write):
    table = read_rows(write("a.csv", "text,label\n'=1+1,x\n''-2,y\n'plain,z\n"))
    assert [r.values["text"] for r in table.rows] == ["=1+1", "'-2", "'plain"]


def test_utf8_bom_is_removed(write):
    table = read_rows(write("a.csv", codecs.BOM_UTF8 + "text,label\nçà,x\n".encode()))
    assert table.columns == ["text", "label"] and table.rows[0].values["text"] == "çà"


def test_utf16_with_bom_is_read(write):
    table = read_rows(write("a.tsv", "text\tlabel\n中文\tx\n".encode("utf-16")))
    assert table.rows[0].values == {"text": "中文", "label": "x"}


@pytest.mark.parametrize("name, body", [
    ("a.csv", b"text,label\nfine,x\ncaf\xe9,y\nok,z\n"),
    ("a.jsonl", b'{"text": "fine"}\n{"text": "caf\xe9"}\n{"text": "ok"}\n'),
])
def test_non_utf8_rows_are_errors_with_row_numbers(write, name, body):
    table = read_rows(write(name, body))
    assert [r.number for r in table.rows] == [1, 3]
    assert error_rows(table) == [2]
    assert "not valid UTF-8 (byte 0xe9)" in table.errors[0]["reason"]
    assert "save the file as UTF-8" in table.errors[0]["reason"]


def test_latin1_header_is_a_file_error(write):
    with pytest.raises(InvalidInputError, match="header row is not valid UTF-8"):
        read_rows(write("a.csv", "t\xe9xt,label\na,b\n".encode("latin-1")))


def test_binary_file_is_rejected_clearly(write):
    with pytest.raises(InvalidInputError, match="NUL bytes"):
        read_rows(write("a.csv", b"PK\x03\x04\x00\x00binary"))


@pytest.mark.parametrize("name", ["a.csv", "a.jsonl", "a.json"])
def test_empty_file_is_a_file_error(write, name):
    with pytest.raises(InvalidInputError, match="empty"):
        read_rows(write(name, "  \n"))


def test_jsonl_row_is_the_line_number(write):
    lines = ['{"text": "a", "label": "x"}', "", '{"text": "b", "extra": 1}']
    table = read_rows(write("a.jsonl", "\n".join(lines) + "\n"))
    assert [r.number for r in table.rows] == [1, 3]
    assert table.columns == ["text", "label", "extra"]


@pytest.mark.parametrize("line, reason", [
    ("{not json}", "not valid JSON"),
    ('["a", "b"]', "a JSON list, not an object"),
    ('"just text"', "a JSON str, not an object"),
    ("42", "a JSON int, not an object"),
])
def test_malformed_jsonl_lines_are_reported(write, line, reason):
    table = read_rows(write("a.jsonl", '{"text": "ok"}\n' + line + '\n{"text": "ok2"}\n'))
    assert [r.number for r in table.rows] == [1, 3]
    assert table.errors == [{"row": 2, "reason": table.errors[0]["reason"]}]
    assert reason in table.errors[0]["reason"]


def test_jsonl_keeps_unicode_line_separators_inside_strings(write):
    text = "a\u2028b\x85c\r\nd"
    table = read_rows(write("a.jsonl", json.dumps({"text": text}, ensure_ascii=False) + "\r\n"))
    assert table.rows[0].values["text"] == text


def test_jsonl_lists_and_ints_are_kept(write):
    table = read_rows(write("a.json", '{"text": "a", "labels": ["x", "y"], "label": 1}\n'))
    assert table.rows[0].values == {"text": "a", "labels": ["x", "y"], "label": 1}


def test_json_array_rows_are_elements(write):
    table = read_rows(write("a.json", '[{"text": "a"}, 3, {"text": "b"}]'))
    assert [r.number for r in table.rows] == [1, 3]
    assert error_rows(table) == [2]


def test_broken_json_array_is_a_file_error(write):
    with pytest.raises(InvalidInputError, match="not valid JSON.*line 2"):
        read_rows(write("a.json", '[{"text": "a"},\n {"text": }]'))


def test_escaped_lone_surrogate_in_json_is_a_row_error(write):
    table = read_rows(write("a.jsonl", '{"text": "ok"}\n{"text": "bad \\udc80"}\n'))
    assert error_rows(table) == [2]
