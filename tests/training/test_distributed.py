"""Data-parallel training through a launcher (torchrun; `accelerate launch` sets the same env).

The two-process run costs ~20 s on a small CPU box (two interpreter start-ups); FTDEMO_SKIP_DDP=1 skips it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftdemo.training.distributed import Dist

from .conftest import toy_single


def test_single_process_needs_no_process_group():
    dist = Dist.from_env()
    assert dist.world == 1 and dist.is_main and dist.shard([1, 2, 3]) == [1, 2, 3] and dist.any(True)


def test_shards_are_equal_sized_and_disjoint_when_possible():
    batches = list(range(10))
    shards = [Dist(world=3, rank=r).shard(batches) for r in range(3)]
    assert [len(s) for s in shards] == [3, 3, 3]
    assert sorted(i for s in shards for i in s) == [0, 1, 2, 3, 4, 5, 6, 7, 8]
    assert Dist(world=4, rank=3).shard([0, 1]) == [1]  # fewer batches than ranks: still one step each


@pytest.mark.slow
@pytest.mark.skipif(bool(os.environ.get("FTDEMO_SKIP_DDP")), reason="FTDEMO_SKIP_DDP set (spawns 2 processes)")
def test_two_process_run_saves_once(tmp_path, tiny_model_dir):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"id": ex.id, "text": ex.text, "labels": list(ex.labels)}) + "\n"
                            for ex in toy_single(80)))
    cfg = {"base_model": str(tiny_model_dir), "epochs": 2, "num_threads": 1, "max_length": 32}
    torchrun = Path(sys.executable).parent / "torchrun"
    proc = subprocess.run([str(torchrun), "--nproc_per_node", "2", "-m", "ftdemo.training.launch", "--data", str(data),
                           "--config", json.dumps(cfg), "--out", str(tmp_path / "reg"), "--dataset", "toy"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "HF_HUB_OFFLINE": "1"},
                          cwd=Path(__file__).resolve().parents[2])
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "x 2 processes" in proc.stdout
    assert [p.name for p in (tmp_path / "reg" / "toy").iterdir()] == ["v0001"]
