"""read_rows size limits and errors; preview for the UI."""

import os

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import preview, read_rows


def test_file_over_max_bytes_is_rejected(write):
    path = write("a.csv", "text\n" + "x" * 2000 + "\n")
    with pytest.raises(InvalidInputError, match="upload limit"):
        read_rows(path, max_bytes=1000)


def test_file_at_max_bytes_is_accepted(write):
    path = write("a.csv", "text\nabc\n")
    assert read_rows(path, max_bytes=path.stat().st_size).rows[0].values == {"text": "abc"}


def test_max_bytes_none_means_no_limit(write):
    assert len(read_rows(write("a.csv", "text\n" + "x\n" * 1000), max_bytes=None).rows) == 1000


def test_directory_size_counts_all_files(dataset_dir):
    path = dataset_dir({"text": ["x" * 5000]})
    with pytest.raises(InvalidInputError, match="upload limit"):
        read_rows(path, max_bytes=2000)


def test_zip_file_itself_over_the_limit(make_zip):
    path = make_zip("a.zip", {"a.csv": os.urandom(8000)})  # random bytes do not compress
    with pytest.raises(InvalidInputError, match="upload limit"):
        read_rows(path, max_bytes=5000)


def test_missing_path(tmp_path):
    with pytest.raises(InvalidInputError, match="does not exist"):
        read_rows(tmp_path / "nope.csv")


def test_unknown_suffix(write):
    with pytest.raises(InvalidInputError, match="csv, tsv, jsonl, json, parquet, zip, directory"):
        read_rows(write("a.xlsx", b"x"))


def test_preview_gives_columns_and_first_rows(write):
    body = "text,label\n" + "".join(f"t{i},x\n" for i in range(50))
    view = preview(write("a.csv", body), n=5)
    assert view.columns == ["text", "label"]
    assert view.rows[0] == {"text": "t0", "label": "x"} and len(view.rows) == 5
    assert view.row_numbers == [1, 2, 3, 4, 5]
    assert view.to_matrix()[4] == ["t4", "x"]


def test_preview_counts_bad_rows_towards_n(write):
    view = preview(write("a.csv", "text,label\na,x\nb,x,y\nc,x\nd,x\n"), n=3)
    assert view.row_numbers == [1, 3] and [e["row"] for e in view.errors] == [2]


def test_preview_zero_rows_still_has_columns(write):
    assert preview(write("a.csv", "text,label\na,x\n"), n=0).columns == ["text", "label"]


def test_preview_matrix_cuts_long_cells(write):
    view = preview(write("a.jsonl", '{"text": "%s", "n": null}\n' % ("x" * 500)))
    cell, empty = view.to_matrix(max_chars=10)[0]
    assert cell == "x" * 9 + "…" and empty == ""


def test_preview_to_dict_is_plain_data(write):
    data = preview(write("a.csv", "text\na\n")).to_dict()
    assert data["columns"] == ["text"] and data["rows"] == [{"text": "a"}] and data["format"] == "csv"
