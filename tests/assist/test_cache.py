"""The on-disk embedding cache: atomic shards, an index rebuilt at open, what another process wrote."""

from __future__ import annotations

import numpy as np

from ftdemo.assist.cache import EmbeddingCache, model_key


def _vecs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 4)).astype(np.float32)


def test_survives_reopening_and_reports_missing(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cache = EmbeddingCache(tmp_path, "k")
    assert cache.missing(["a" * 64, "b" * 64]) == ["a" * 64, "b" * 64]
    v = _vecs(2)
    cache.add(["a" * 64, "b" * 64], v)
    again = EmbeddingCache(tmp_path, "k")
    assert len(again) == 2 and again.missing(["b" * 64, "c" * 64, "c" * 64]) == ["c" * 64]
    found, got = again.get(["c" * 64, "b" * 64, "a" * 64])
    assert found.tolist() == [False, True, True] and np.array_equal(got, v[::-1])


def test_refresh_sees_another_writer_and_ignores_half_written_shards(tmp_path) -> None:  # type: ignore[no-untyped-def]
    reader, writer = EmbeddingCache(tmp_path, "k"), EmbeddingCache(tmp_path, "k")
    writer.add(["a" * 64], _vecs(1))
    (tmp_path / "k" / "0-crashed.vectors.npy").write_bytes(b"half")  # vectors without the hashes commit mark
    assert reader.refresh() == 1 and len(reader) == 1


def test_model_keys() -> None:
    assert model_key("/some/path") == model_key("/some/path") != model_key("/other")
    assert model_key("x", dataset="news", version="v0002") == "news--v0002"
