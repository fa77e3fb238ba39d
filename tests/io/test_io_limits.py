"""Every reader bounds what a file decodes to (rows, bytes of values, nesting depth), whatever its size.

The bombs are small files that decode to far more than they weigh; the memory checks run the read in a
fresh interpreter and compare its peak resident size before and after.
"""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import preview, read_rows

REPO = Path(__file__).resolve().parents[2]
MIB = 2 ** 20


def parquet_bomb(path, rows=400_000, width=1000):
    """`rows` copies of one `width`-character string, dictionary-encoded and zstd-compressed: a few
    hundred KB on disk, rows x width bytes once decoded. Written without ever holding the decoded column."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * width]))
    pq.write_table(pa.table({"text": column}), path, compression="zstd")
    return path


def arrow_bomb_dir(path, batches=30, rows=10_000, width=1000):
    """A `datasets` folder whose one .arrow file is zstd-compressed: ~rows x width x batches bytes decoded."""
    import datasets
    import pyarrow as pa

    datasets.Dataset.from_dict({"text": ["x"]}).save_to_disk(str(path))
    arrow = next(path.glob("*.arrow"))
    batch = pa.record_batch({"text": pa.array(["x" * width] * rows)})
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    with pa.OSFile(str(arrow), "wb") as sink, pa.ipc.new_stream(sink, batch.schema, options=options) as writer:
        for _ in range(batches):
            writer.write_batch(batch)
    return path


PEAK_SCRIPT = """
import sys
import datasets, pyarrow.parquet  # imported up front: only the read itself is measured
from ftdemo.errors import InvalidInputError
from ftdemo.io import read_rows
import ftdemo.io.arrow_readers
from ftdemo.processes import peak_rss_mb
before = peak_rss_mb()
try:
    table = read_rows(sys.argv[1])
    outcome = f"read {len(table.rows)} rows"
except InvalidInputError as err:
    outcome = f"refused: {err}"
print(int(peak_rss_mb() - before))
print(outcome)
"""


def read_in_fresh_process(path):
    """(growth of the peak resident size in MiB, outcome) of read_rows(path) with the default upload limit."""
    proc = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(path)], capture_output=True, text=True,
                          timeout=300, check=False, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    growth, outcome = proc.stdout.strip().split("\n", 1)
    return int(growth), outcome


def test_limits_derive_from_the_upload_limit():
    from ftdemo.io import ReadLimits

    limits = ReadLimits.for_upload(50 * MIB)
    assert limits.max_decoded_bytes == 4 * 50 * MIB and limits.max_rows == 50 * MIB // 32
    assert ReadLimits.for_upload(1).max_rows == 1000  # a tiny limit still reads small files
    assert ReadLimits.for_upload(None).max_decoded_bytes == 4 * 2 * 1024 ** 3  # local files: a hard bound


def test_parquet_bomb_is_refused_before_it_is_decoded(tmp_path):
    path = parquet_bomb(tmp_path / "bomb.parquet")
    assert path.stat().st_size < 1 * MIB  # well within the 50 MB upload limit: only decoding finds it
    growth, outcome = read_in_fresh_process(path)
    assert outcome.startswith("refused: 'bomb.parquet' decodes to more than 200.0 MiB of values")
    assert "FTDEMO_MAX_UPLOAD_MB" in outcome and "split" in outcome
    assert growth < 64, f"the refused read grew the process by {growth} MiB"


def test_parquet_bomb_preview_reads_only_its_first_rows(tmp_path):
    view = preview(parquet_bomb(tmp_path / "bomb.parquet", rows=100_000, width=100), n=3)
    assert view.rows == [{"text": "x" * 100}] * 3


def test_parquet_row_count_is_checked_from_the_metadata(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "rows.parquet"
    pq.write_table(pa.table({"y": pa.array([1] * 100_000)}), path, compression="zstd")
    assert path.stat().st_size < 16_000
    with pytest.raises(InvalidInputError, match=r"'rows.parquet' has more than 1,000 rows.*split it"):
        read_rows(path, max_bytes=16_000)


def test_parquet_uncompressed_size_is_checked_from_the_metadata(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"text": ["y" * 10_000] * 200}), path, compression="zstd", use_dictionary=False)
    assert path.stat().st_size < 20_000
    with pytest.raises(InvalidInputError, match=r"'plain.parquet' decodes to more than [0-9,]+ bytes of values"):
        read_rows(path, max_bytes=path.stat().st_size)


def test_parquet_list_bomb_counts_every_element(tmp_path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    labels = pa.ListArray.from_arrays(pa.array([0, 200_000], pa.int32()),
                                      pa.DictionaryArray.from_arrays(pa.array(np.zeros(200_000, np.int32)),
                                                                     pa.array(["label"])))
    path = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"text": ["one row"], "labels": labels}), path, compression="zstd")
    with pytest.raises(InvalidInputError, match="decodes to more than"):
        read_rows(path, max_bytes=64_000)


def test_parquet_within_the_limits_reads_every_row_across_batches(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = {"text": [f"t{i % 7}" for i in range(5000)], "labels": [["a", "b"][: i % 3] for i in range(5000)],
            "meta": [{"k": str(i)} for i in range(5000)], "n": list(range(5000))}
    path = tmp_path / "ok.parquet"
    pq.write_table(pa.table(data), path, row_group_size=1500)
    table = read_rows(path)
    assert [r.values for r in table.rows] == pa.table(data).to_pylist()
    assert table.rows[-1].number == 5000


def test_datasets_folder_with_a_compressed_arrow_bomb_is_refused_before_loading(tmp_path):
    path = arrow_bomb_dir(tmp_path / "bomb")
    growth, outcome = read_in_fresh_process(path)
    assert outcome.startswith("refused: 'bomb' decodes to more than 200.0 MiB of values"), outcome
    assert growth < 64, f"the refused read grew the process by {growth} MiB"


def test_datasets_folder_rows_are_bounded(dataset_dir):
    path = dataset_dir({"y": list(range(20_000))})
    with pytest.raises(InvalidInputError, match="'ds' has more than 6,250 rows"):
        read_rows(path, max_bytes=200_000)


def test_zipped_parquet_bomb_is_refused(tmp_path):
    bomb = parquet_bomb(tmp_path / "bomb.parquet", rows=20_000, width=1000)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(bomb, "bomb.parquet")
    with pytest.raises(InvalidInputError, match="'bomb.zip' decodes to more than 4.0 MiB"):
        read_rows(path, max_bytes=1 * MIB)


@pytest.mark.parametrize("name,body", [
    ("rows.csv", "text\n" + "x\n" * 5000),
    ("rows.tsv", "text\tlabel\n" + "x\ty\n" * 5000),
    ("rows.jsonl", '{"t":1}\n' * 5000),
    ("rows.json", "[" + ",".join(['{"t":1}'] * 5000) + "]"),
])
def test_text_formats_bound_their_rows(write, name, body):
    path = write(name, body)
    with pytest.raises(InvalidInputError, match=rf"'{name}' has more than [0-9,]+ rows, the most one file may have.*FTDEMO_MAX_UPLOAD_MB"):
        read_rows(path, max_bytes=path.stat().st_size)


@pytest.mark.parametrize("depth", [21, 100, 100_000])
def test_deeply_nested_json_lines_are_refused_naming_the_line(write, depth):
    nested = "[" * depth + "]" * depth
    path = write("deep.jsonl", '{"text": "fine"}\n{"text": "x", "meta": ' + nested + "}\n")
    with pytest.raises(InvalidInputError, match="'deep.jsonl': line 2 is nested more than 20 levels deep"):
        read_rows(path)


def test_nesting_within_the_limit_is_read(write):
    value = json.loads("[" * 18 + "]" * 18)
    path = write("ok.jsonl", json.dumps({"text": "x", "meta": value}) + "\n")
    assert read_rows(path).rows[0].values["meta"] == value


@pytest.mark.parametrize("depth", [25, 100_000])
def test_deeply_nested_json_array_is_refused(write, depth):
    path = write("deep.json", '[{"text": "x"}, {"text": "y", "m": %s}]' % ("[" * depth + "]" * depth))
    with pytest.raises(InvalidInputError, match="nested more than 20 levels deep"):
        read_rows(path)


def test_deeply_nested_parquet_columns_are_refused(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    value: object = "x"
    for _ in range(25):
        value = [value]
    path = tmp_path / "deep.parquet"
    pq.write_table(pa.table({"text": ["a"], "deep": [value]}), path)
    with pytest.raises(InvalidInputError, match="a column is nested more than 20 levels deep"):
        read_rows(path)
