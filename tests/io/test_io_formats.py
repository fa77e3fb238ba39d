import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import FileFormat, export_format, import_format


@pytest.mark.parametrize(
    "name, expected",
    [
        ("a.csv", FileFormat.CSV),
        ("a.TSV", FileFormat.TSV),
        ("a.jsonl", FileFormat.JSONL),
        ("a.json", FileFormat.JSON),
        ("a.parquet", FileFormat.PARQUET),
        ("a.zip", FileFormat.ZIP),
        ("data.v2.csv", FileFormat.CSV),
    ],
)
def test_import_format_from_suffix(tmp_path, name, expected):
    assert import_format(tmp_path / name) is expected


def test_import_format_of_a_directory(tmp_path):
    assert import_format(tmp_path) is FileFormat.DIRECTORY


@pytest.mark.parametrize("name", ["a.xlsx", "a.txt", "noext", "a.directory"])
def test_unknown_import_suffix_lists_the_allowed_formats(tmp_path, name):
    with pytest.raises(InvalidInputError) as err:
        import_format(tmp_path / name)
    for allowed in ("csv", "tsv", "jsonl", "json", "parquet", "zip", "directory"):
        assert allowed in str(err.value)


@pytest.mark.parametrize(
    "name, expected",
    [
        ("out.csv", FileFormat.CSV),
        ("out.tsv", FileFormat.TSV),
        ("out.jsonl", FileFormat.JSONL),
        ("out.json", FileFormat.JSON),
        ("out.parquet", FileFormat.PARQUET),
        ("out", FileFormat.DIRECTORY),
        ("out/", FileFormat.DIRECTORY),
        ("some.dir/", FileFormat.DIRECTORY),
    ],
)
def test_export_format(name, expected):
    assert export_format(name) is expected


@pytest.mark.parametrize("name", ["out.zip", "out.xlsx", "out.txt"])
def test_unknown_export_suffix_is_rejected(name):
    with pytest.raises(InvalidInputError, match=r"\.csv.*\.parquet"):
        export_format(name)
