"""Parquet files and `datasets` folders, plain and zipped."""

import shutil

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import read_rows


def write_parquet(path, data):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(data), path)
    return path


def test_parquet_rows_lists_and_ints(tmp_path):
    path = write_parquet(tmp_path / "a.parquet", {"text": ["a", "b"], "labels": [["x"], []], "y": [0, 1]})
    table = read_rows(path)
    assert table.columns == ["text", "labels", "y"] and table.format == "parquet"
    assert [(r.number, r.values) for r in table.rows] == [
        (1, {"text": "a", "labels": ["x"], "y": 0}),
        (2, {"text": "b", "labels": [], "y": 1}),
    ]


def test_parquet_limit_reads_only_the_first_rows(tmp_path):
    path = write_parquet(tmp_path / "a.parquet", {"text": [str(i) for i in range(100)]})
    assert [r.values["text"] for r in read_rows(path, limit=3).rows] == ["0", "1", "2"]


def test_corrupt_parquet_is_a_file_error(write):
    with pytest.raises(InvalidInputError, match="not a readable Parquet file"):
        read_rows(write("a.parquet", b"not parquet at all"))


def test_datasets_dir_with_strings(dataset_dir):
    table = read_rows(dataset_dir({"sentence": ["a", "b"], "label": ["pos", "neg"]}))
    assert table.format == "directory" and table.columns == ["sentence", "label"]
    assert table.rows[1].number == 2 and table.rows[1].values == {"sentence": "b", "label": "neg"}


def test_datasets_class_labels_are_read_as_names(dataset_dir):
    import datasets

    features = datasets.Features({
        "text": datasets.Value("string"),
        "label": datasets.ClassLabel(names=["negative", "positive"]),
        "tags": datasets.List(datasets.ClassLabel(names=["a", "b"])),
    })
    path = dataset_dir({"text": ["x", "y", "z"], "label": [1, 0, -1], "tags": [[0, 1], [], [1]]}, features)
    values = [r.values for r in read_rows(path).rows]
    assert [v["label"] for v in values] == ["positive", "negative", None]
    assert [v["tags"] for v in values] == [["a", "b"], [], ["b"]]


def test_dataset_dict_splits_are_concatenated_with_a_split_column(tmp_path):
    import datasets

    part = datasets.Dataset.from_dict({"text": ["a", "b"]})
    datasets.DatasetDict(train=part, test=part.select([0])).save_to_disk(str(tmp_path / "dd"))
    table = read_rows(tmp_path / "dd")
    assert table.columns == ["text", "split"]
    assert [(r.number, r.values["split"]) for r in table.rows] == [(1, "train"), (2, "train"), (3, "test")]


def test_plain_folder_is_not_a_dataset(tmp_path):
    (tmp_path / "folder").mkdir()
    with pytest.raises(InvalidInputError, match="not a `datasets` save_to_disk folder"):
        read_rows(tmp_path / "folder")


def test_zipped_dataset_folder_under_a_top_folder(dataset_dir, tmp_path):
    path = dataset_dir({"text": ["a", "b"], "label": ["x", "y"]})
    archive = shutil.make_archive(str(tmp_path / "upload"), "zip", root_dir=tmp_path, base_dir="ds")
    table = read_rows(archive)
    assert [r.values for r in table.rows] == [{"text": "a", "label": "x"}, {"text": "b", "label": "y"}]
    assert table.source == "upload.zip" and table.format == "directory"
    assert path.exists()


def test_zip_with_one_csv_file(make_zip):
    table = read_rows(make_zip("a.zip", {"data/train.csv": b"text,label\nhi,x\n"}))
    assert table.format == "csv" and table.rows[0].values == {"text": "hi", "label": "x"}


def test_zip_without_data_is_rejected(make_zip):
    with pytest.raises(InvalidInputError, match="exactly one"):
        read_rows(make_zip("a.zip", {"a.csv": b"text\nx\n", "b.csv": b"text\ny\n"}))


def test_extraction_folder_is_removed(make_zip, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    read_rows(make_zip("a.zip", {"a.csv": b"text\nx\n"}))
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("filename", ["../outside.arrow", "/etc/passwd", "missing.arrow"])
def test_state_json_pointing_outside_the_folder_is_rejected(dataset_dir, filename):
    import json

    path = dataset_dir({"text": ["a"]})
    state = json.loads((path / "state.json").read_text())
    state["_data_files"] = [{"filename": filename}]
    (path / "state.json").write_text(json.dumps(state))
    with pytest.raises(InvalidInputError, match="not a file in the folder"):
        read_rows(path)


def test_dataset_dict_split_pointing_outside_is_rejected(tmp_path):
    import datasets

    datasets.DatasetDict(train=datasets.Dataset.from_dict({"text": ["a"]})).save_to_disk(str(tmp_path / "dd"))
    (tmp_path / "dd" / "dataset_dict.json").write_text('{"splits": ["../dd/train"]}')
    with pytest.raises(InvalidInputError, match="not a folder here"):
        read_rows(tmp_path / "dd")


def test_damaged_state_json_is_a_file_error(dataset_dir):
    path = dataset_dir({"text": ["a"]})
    (path / "state.json").write_text("{broken")
    with pytest.raises(InvalidInputError, match="damaged"):
        read_rows(path)
