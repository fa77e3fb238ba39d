"""export_records: file contents per format, formula injection, atomic writes."""

import csv
import datetime as dt
import io
import json

import pytest

from ftdemo.errors import AlreadyExistsError, InvalidInputError
from ftdemo.io import ExportRecord, export_records

HISTORY = [
    {"annotator": "ann", "labels": ["pos"], "kind": "label", "created_at": "2025-01-01T10:00:00+00:00"},
    {"annotator": "bob", "labels": [], "kind": "clear", "created_at": "2025-01-02T10:00:00+00:00"},
]
RECORDS = [
    ExportRecord(1, "=HYPERLINK(\"http://x\")", None, ["pos"], HISTORY),
    ExportRecord(2, "multi\nline, \"quoted\"", None, ["neg", "pos"], []),
    ExportRecord(3, "plain", None, [], []),
]


def read_csv(path, delimiter=",", *, excel=False):
    text = path.read_bytes().decode("utf-8")
    assert text.startswith("\ufeff") == excel  # a byte-order mark only for Excel, which needs it to pick UTF-8
    return list(csv.reader(io.StringIO(text[1:] if excel else text, newline=""), delimiter=delimiter))


@pytest.mark.parametrize("suffix,delimiter", [("csv", ","), ("tsv", "\t")])
def test_python_csv_readers_see_the_first_column_by_its_name(tmp_path, suffix, delimiter):
    path = export_records(RECORDS, tmp_path / f"out.{suffix}")
    with open(path, encoding="utf-8", newline="") as f:
        first = next(csv.DictReader(f, delimiter=delimiter))
    assert list(first)[0] == "id" and first["id"] == "1"


@pytest.mark.parametrize("suffix,delimiter", [("csv", ","), ("tsv", "\t")])
def test_excel_option_starts_with_a_byte_order_mark(tmp_path, suffix, delimiter):
    rows = read_csv(export_records(RECORDS, tmp_path / f"out.{suffix}", excel=True), delimiter, excel=True)
    assert rows == read_csv(export_records(RECORDS, tmp_path / f"plain.{suffix}"), delimiter)


@pytest.mark.parametrize("name", ["out.jsonl", "out.parquet", "folder"])
def test_excel_option_is_for_csv_and_tsv_only(tmp_path, name):
    with pytest.raises(InvalidInputError, match="--excel applies to .csv and .tsv exports"):
        export_records(RECORDS, tmp_path / name, excel=True)


@pytest.mark.parametrize("excel", [False, True])
def test_import_reads_exports_with_and_without_the_mark(tmp_path, excel):
    from ftdemo.io import read_rows

    table = read_rows(export_records(RECORDS, tmp_path / "out.csv", excel=excel))
    assert table.columns == ["id", "text", "labels", "history"]
    assert [r.values["text"] for r in table.rows] == [r.text for r in RECORDS]


def test_csv_columns_labels_and_history(tmp_path):
    rows = read_csv(export_records(RECORDS, tmp_path / "out.csv"))
    assert rows[0] == ["id", "text", "labels", "history"]
    assert rows[2] == ["2", "multi\nline, \"quoted\"", "neg|pos", "[]"]
    assert json.loads(rows[1][3]) == HISTORY
    assert rows[3][2] == ""


def test_csv_escapes_formula_cells(tmp_path):
    records = [ExportRecord(1, "-1", "@me", ["=lab"], []), ExportRecord(2, "'=x", "\tx", ["+p"], [])]
    rows = read_csv(export_records(records, tmp_path / "out.csv"))
    assert rows[1][1:4] == ["'-1", "'@me", "'=lab"]
    assert rows[2][1:4] == ["''=x", "'\tx", "'+p"]


def test_tsv_uses_tabs(tmp_path):
    rows = read_csv(export_records([ExportRecord(1, "a\tb", None, ["x"], [])], tmp_path / "out.tsv"), "\t")
    assert rows[1][:3] == ["1", "a\tb", "x"]


@pytest.mark.parametrize("suffix", ["jsonl", "json"])
def test_jsonl_has_lists_and_history_objects(tmp_path, suffix):
    path = export_records(RECORDS, tmp_path / f"out.{suffix}")
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and len(lines) == 4
    first = json.loads(lines[0])
    assert first == {"id": 1, "text": RECORDS[0].text, "labels": ["pos"], "history": HISTORY}
    assert "=HYPERLINK" in lines[0]  # no formula escaping outside CSV


def test_text_pair_column_only_when_used(tmp_path):
    records = [ExportRecord(1, "a", "b", ["x"], []), ExportRecord(2, "c", None, ["x"], [])]
    lines = export_records(records, tmp_path / "out.jsonl").read_text().splitlines()
    assert json.loads(lines[0])["text_pair"] == "b" and json.loads(lines[1])["text_pair"] is None


def test_parquet_schema(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(export_records(RECORDS, tmp_path / "out.parquet"))
    assert table.column_names == ["id", "text", "labels", "history"]
    labels_type = table.schema.field("labels").type
    assert pa.types.is_list(labels_type) and labels_type.value_type == pa.string()
    assert table.schema.field("id").type == pa.int64()
    assert table.column("labels").to_pylist() == [["pos"], ["neg", "pos"], []]
    assert json.loads(table.column("history")[0].as_py()) == HISTORY


@pytest.mark.parametrize("name", ["out", "out/"])
def test_datasets_folder(tmp_path, name):
    import datasets

    path = export_records(RECORDS, str(tmp_path / name))
    ds = datasets.load_from_disk(str(path))
    assert ds.column_names == ["id", "text", "labels", "history"]
    assert ds[1]["labels"] == ["neg", "pos"] and ds[0]["text"] == RECORDS[0].text


def test_datasets_folder_may_be_empty_but_not_taken(tmp_path):
    (tmp_path / "empty").mkdir()
    export_records(RECORDS, tmp_path / "empty")
    with pytest.raises(AlreadyExistsError, match="choose a new folder"):
        export_records(RECORDS, tmp_path / "empty")


@pytest.mark.parametrize("name", ["out.csv", "out.tsv", "out.jsonl", "out.parquet", "out"])
def test_no_records_gives_a_valid_empty_export(tmp_path, name):
    path = export_records([], tmp_path / name)
    assert path.exists()


def test_unknown_suffix(tmp_path):
    with pytest.raises(InvalidInputError, match="cannot export"):
        export_records(RECORDS, tmp_path / "out.xlsx")


def test_existing_file_is_replaced(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("old")
    export_records(RECORDS, path)
    assert read_csv(path)[0][0] == "id"


def test_failed_export_keeps_the_old_file_and_leaves_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "out.csv"
    path.write_text("old")

    def broken_escape(cell):
        raise OSError("disk full")

    monkeypatch.setattr("ftdemo.io.export.escape_formula", broken_escape)
    with pytest.raises(OSError):
        export_records(RECORDS, path)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_history_datetimes_are_written_as_text(tmp_path):
    when = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    event = {"annotator": "a", "labels": ["x"], "kind": "label", "created_at": when}
    record = ExportRecord(1, "a", None, ["x"], [event])
    line = json.loads(export_records([record], tmp_path / "out.jsonl").read_text())
    assert line["history"][0]["created_at"] == "2025-01-01 12:00:00+00:00"


def test_creates_missing_parent_folders(tmp_path):
    assert export_records(RECORDS, tmp_path / "a" / "b" / "out.jsonl").exists()

