"""Embeddings on disk, per model and example content: a restart or a new import computes only what is new.

<root>/<model key>/ holds append-only shards, each two .npy files written atomically (temp + rename):
`<shard>.vectors.npy` (n, d) float32, then `<shard>.hashes.npy` (n,) the examples' content hashes. The
hashes file is written last, so it is the commit mark: a shard without it (a crash in between) is
ignored, and its orphan vectors file removed once it is an hour old (a writer is never that slow). The index (content hash → shard,
row) is built from the hashes files when the cache opens, and picks up shards another process wrote
on `refresh()`. Keys are content hashes, not example ids, so an edited example gets a new embedding,
an identical text in another dataset reuses one, and nothing here needs the database.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import numpy as np

_HASHES, _VECTORS = ".hashes.npy", ".vectors.npy"
ORPHAN_AGE_S = 3600
_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def model_key(model: str, *, dataset: str | None = None, version: str | None = None) -> str:
    """A directory name for the encoder: "<dataset>--<version>" for a fine-tuned version (names are
    per dataset), else "base-<hash of the checkpoint path or Hub id>" (every dataset shares it)."""
    if dataset and version:
        return _KEY_UNSAFE.sub("_", f"{dataset}--{version}")
    return "base-" + hashlib.sha256(str(model).encode("utf-8")).hexdigest()[:16]


def _write_npy(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".tmp-{uuid.uuid4().hex}-{path.name}")
    with open(tmp, "wb") as f:
        np.save(f, array, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class EmbeddingCache:
    """The embeddings of one model key; thread-safe; memory: every vector once (50,000 × 384 ≈ 77 MB)."""

    def __init__(self, root: Path, key: str) -> None:
        self.dir = Path(root) / key
        self.key = key
        self._lock = threading.Lock()
        self._shards: list[np.ndarray] = []
        self._loaded: set[str] = set()
        self._index: dict[str, tuple[int, int]] = {}
        self.dim: int | None = None
        self.refresh()

    def __len__(self) -> int:
        with self._lock:
            return len(self._index)

    def refresh(self) -> int:
        """Load shards written since the last look (by this or another process); returns how many."""
        if not self.dir.is_dir():
            return 0
        found = 0
        for vectors_file in self.dir.glob("*" + _VECTORS):
            try:
                if (not vectors_file.with_name(vectors_file.name[: -len(_VECTORS)] + _HASHES).exists()
                        and time.time() - vectors_file.stat().st_mtime > ORPHAN_AGE_S):
                    vectors_file.unlink()
            except OSError:
                pass  # another process removed it first
        for hashes_file in sorted(self.dir.glob("*" + _HASHES)):
            name = hashes_file.name[: -len(_HASHES)]
            if name in self._loaded or name.startswith(".tmp-"):
                continue
            try:
                hashes = np.load(hashes_file, allow_pickle=False)
                vectors = np.load(self.dir / (name + _VECTORS), allow_pickle=False)
            except (OSError, ValueError):
                continue  # unreadable: the rows are computed again and land in a new shard
            if vectors.ndim != 2 or len(vectors) != len(hashes):
                continue
            with self._lock:
                if self.dim is None:
                    self.dim = int(vectors.shape[1])
                if vectors.shape[1] != self.dim:
                    continue
                shard = len(self._shards)
                self._shards.append(vectors.astype(np.float32, copy=False))
                for row, h in enumerate(hashes.tolist()):
                    self._index.setdefault(h.decode("ascii") if isinstance(h, bytes) else str(h), (shard, row))
                self._loaded.add(name)
            found += 1
        return found

    def missing(self, hashes: Sequence[str]) -> list[str]:
        """The hashes that have no embedding yet (in the given order, without repeats)."""
        with self._lock:
            return list(dict.fromkeys(h for h in hashes if h not in self._index))

    def get(self, hashes: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(found mask (n,), vectors of the found ones in order (m, d))."""
        with self._lock:
            where = [self._index.get(h) for h in hashes]
            found = np.array([w is not None for w in where], dtype=bool)
            dim = self.dim or 0
            out = np.empty((int(found.sum()), dim), dtype=np.float32)
            k = 0
            for w in where:
                if w is not None:
                    out[k] = self._shards[w[0]][w[1]]
                    k += 1
            return found, out

    def add(self, hashes: Sequence[str], vectors: np.ndarray) -> None:
        """Append a shard (vectors first, hashes last: the commit mark) and index it."""
        if len(hashes) == 0:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or len(vectors) != len(hashes):
            raise ValueError("EmbeddingCache.add(): one vector per hash")
        self.dir.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        _write_npy(self.dir / (name + _VECTORS), vectors)
        _write_npy(self.dir / (name + _HASHES), np.array([h.encode("ascii") for h in hashes], dtype="S64"))
        with self._lock:
            if self.dim is None:
                self.dim = int(vectors.shape[1])
            shard = len(self._shards)
            self._shards.append(vectors)
            for row, h in enumerate(hashes):
                self._index.setdefault(h, (shard, row))
            self._loaded.add(name)
