"""Fine-tune checks on disk: <root>/<dataset>/checks/c<run id>.npz (example ids, labels, probabilities).

A check run (kind "check", `training.crossfit`) ends in the out-of-fold probabilities of its fine-tunes,
which the label-error suspects read (services/review.py). They are written to a hidden temp file, fsynced
and renamed into place, so a crash leaves either the whole file or none. A few kB per hundred examples;
only the newest check of a dataset is read, and `keep` prunes older ones.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ftdemo.tasks import validate_dataset_name

FOLDER = "checks"
_NAME = re.compile(r"^c(\d+)\.npz$")


@dataclass(frozen=True)
class Check:
    """One check's result: the probabilities (n, L) of examples `ids` over `labels`."""

    run_id: int
    ids: np.ndarray
    labels: list[str]
    probabilities: np.ndarray


class CheckStore:
    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def folder(self, dataset: str) -> Path:
        return self.root / validate_dataset_name(dataset) / FOLDER

    def save(self, dataset: str, run_id: int, ids: list[int], labels: list[str], probabilities: np.ndarray) -> Path:
        folder = self.folder(dataset)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"c{int(run_id)}.npz"
        temp = folder / f".c{int(run_id)}.{os.getpid()}.tmp"
        with open(temp, "wb") as f:
            np.savez(f, ids=np.asarray(ids, dtype=np.int64), labels=np.asarray(labels, dtype=str),
                     probabilities=np.asarray(probabilities, dtype=np.float32))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
        return path

    def load(self, dataset: str, run_id: int) -> Check | None:
        """Run `run_id`'s check, or None when its file is gone (pruned, or the models folder was moved)."""
        path = self.folder(dataset) / f"c{int(run_id)}.npz"
        if not path.is_file():
            return None
        with np.load(path, allow_pickle=False) as data:
            return Check(int(run_id), data["ids"], [str(x) for x in data["labels"]], data["probabilities"])

    def prune(self, dataset: str, keep: int) -> int:
        """Delete all but the `keep` newest checks of the dataset; how many were deleted."""
        folder = self.folder(dataset)
        found = sorted((int(m.group(1)), p) for p in folder.glob("c*.npz") if (m := _NAME.match(p.name))) \
            if folder.is_dir() else []
        old = found[:-keep] if keep > 0 else found
        for _, path in old:
            path.unlink(missing_ok=True)
        return len(old)
