"""Large files stream: reading an import in chunks and writing an export from a generator keep memory
flat whatever the number of rows (measured in a fresh interpreter: growth of its peak resident size)."""

from __future__ import annotations

import codecs
import subprocess
import sys
from pathlib import Path

import pytest

from ftdemo.errors import InvalidInputError
from ftdemo.io import iter_rows

REPO = Path(__file__).resolve().parents[2]
ROWS = 250_000

READ = """
import sys
from ftdemo.io import iter_rows
from ftdemo.processes import peak_rss_mb
before = peak_rss_mb()
n = sum(len(t.rows) for t in iter_rows(sys.argv[1], max_bytes=None, chunk_rows=1000))
print(int(peak_rss_mb() - before), n)
"""

WRITE = """
import sys
import pyarrow.parquet
from ftdemo.io import ExportRecord, export_stream
from ftdemo.processes import peak_rss_mb
before = peak_rss_mb()
history = [{"annotator": "ann", "kind": "label", "labels": ["pos"], "created_at": "2026-01-01T00:00:00Z"}]
records = (ExportRecord(i, f"text number {i} " + "word " * 12, None, ["pos"], history) for i in range(int(sys.argv[2])))
path, n = export_stream(records, sys.argv[1], with_pair=False)
print(int(peak_rss_mb() - before), n)
"""


def in_fresh_process(script: str, *args: str) -> tuple[int, int]:
    """(growth of the peak resident size in MiB, rows) of `script` run in a new interpreter."""
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=300,
                          check=False, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    growth, rows = proc.stdout.split()
    return int(growth), int(rows)


@pytest.mark.parametrize("suffix", ["csv", "jsonl"])
def test_reading_a_large_file_in_chunks_keeps_memory_flat(tmp_path, suffix) -> None:
    path = tmp_path / f"big.{suffix}"
    with open(path, "w", encoding="utf-8") as f:
        f.write("text,label\n" if suffix == "csv" else "")
        for i in range(ROWS):
            text = f"row {i} " + "some words of a review " * 4
            f.write(f"{text},pos\n" if suffix == "csv" else f'{{"text": "{text}", "label": "pos"}}\n')
    size_mib = path.stat().st_size / 2**20
    growth, rows = in_fresh_process(READ, str(path))
    assert rows == ROWS
    assert size_mib > 25 and growth < 20, f"reading {size_mib:.0f} MiB grew the process by {growth} MiB"


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_exporting_many_records_keeps_memory_flat(tmp_path, suffix) -> None:
    """Ten times the rows, the same memory (the Parquet writer's own buffers are a fixed ~65 MiB)."""
    few, few_rows = in_fresh_process(WRITE, str(tmp_path / f"few.{suffix}"), str(ROWS // 10))
    many, rows = in_fresh_process(WRITE, str(tmp_path / f"many.{suffix}"), str(ROWS))
    assert (few_rows, rows) == (ROWS // 10, ROWS)
    assert many - few < 10, f"{ROWS:,} rows took {many} MiB, {ROWS // 10:,} rows {few} MiB"


def test_a_file_is_decoded_as_it_is_read(tmp_path) -> None:
    """A UTF-16 file broken near its end still hands out its first rows before the error: nothing
    decodes the whole file up front."""
    path = tmp_path / "utf16.csv"
    body = "text,label\n" + "".join(f"row {i},pos\n" for i in range(20_000))
    path.write_bytes(codecs.BOM_UTF16_LE + body.encode("utf-16-le") + b"\x00\xd8")  # a lone high surrogate
    chunks = iter_rows(path, chunk_rows=1000)
    assert next(chunks).rows[0].values == {"text": "row 0", "label": "pos"}
    with pytest.raises(InvalidInputError, match="not valid UTF-16"):
        list(chunks)
