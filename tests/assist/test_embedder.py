"""The embedder on tiny random BERTs: normalised, input order kept, pairs encoded as pairs, padding inert."""

from __future__ import annotations

import numpy as np
import pytest

from ftdemo.assist.embedder import embed, load_encoder


@pytest.fixture(scope="module")
def encoder(tiny_models):  # type: ignore[no-untyped-def]
    return load_encoder(tiny_models("plain-encoder", model_class="BertModel"), device="cpu")


TEXTS = ["a short one", "a much longer text with many more words than the others in this list", "mid length text",
         "x", "the film was good"]


def test_normalised_float32_and_shape(encoder) -> None:  # type: ignore[no-untyped-def]
    X = embed(encoder, TEXTS, batch_size=2)
    assert X.shape == (len(TEXTS), encoder.dim) and X.dtype == np.float32
    assert np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)


def test_order_restored_and_padding_changes_nothing(encoder) -> None:  # type: ignore[no-untyped-def]
    together = embed(encoder, TEXTS, batch_size=3)  # length-sorted batches with padding
    alone = np.stack([embed(encoder, [t])[0] for t in TEXTS])  # no padding at all
    assert np.allclose(together, alone, atol=1e-5)
    reversed_ = embed(encoder, TEXTS[::-1], batch_size=3)
    assert np.allclose(reversed_[::-1], together, atol=1e-5)


def test_pairs_are_encoded_as_pairs(encoder) -> None:  # type: ignore[no-untyped-def]
    texts = ["a man plays", "a man plays"]
    X = embed(encoder, texts, ["a person is playing", None])
    single = embed(encoder, ["a man plays"])[0]
    assert np.allclose(X[1], single, atol=1e-5)
    assert not np.allclose(X[0], single, atol=1e-3)
    swapped = embed(encoder, ["a person is playing"], ["a man plays"])[0]
    assert not np.allclose(X[0], swapped, atol=1e-3)  # token types tell the two texts apart


def test_fine_tuned_version_uses_its_body(tiny_models) -> None:  # type: ignore[no-untyped-def]
    enc = load_encoder(tiny_models("clf", labels=["pos", "neg"]), device="cpu", max_length=16)
    assert enc.max_length == 16
    X = embed(enc, ["word " * 100, "short"])  # truncated at 16 tokens, still embedded
    assert X.shape == (2, 32) and np.allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert embed(enc, []).shape == (0, 32)
