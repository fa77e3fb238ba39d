"""Tiny random classifiers for the explanation tests: named labels, a metadata.json like a registry version,
and attention far from uniform (initializer_range 0.2), built by the one builder (tests/tiny.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tiny

os.environ.setdefault("HF_HUB_OFFLINE", "1")


EXPLAIN = dict(max_positions=64, initializer_range=0.2)


@pytest.fixture(scope="session")
def tiny_explain_model_dir(tiny_models) -> Path:
    return tiny_models(labels=("neg", "neu", "pos"), **EXPLAIN)


@pytest.fixture(scope="session")
def tiny_multilabel_dir(tiny_models) -> Path:
    return tiny_models(task="multi_label", labels=("a", "b", "c"), seed=1, thresholds={"a": 0.3, "b": 0.5, "c": 0.9},
                       **EXPLAIN)


@pytest.fixture(scope="session")
def tiny_pair_dir(tiny_models) -> Path:
    return tiny_models(task="pair", labels=("entail", "neutral", "contra"), seed=2, **EXPLAIN)


@pytest.fixture(scope="session")
def bundled_tokenizer():
    return tiny.bundled_tokenizer()


@pytest.fixture(scope="module")
def predictor(tiny_explain_model_dir):
    from ftdemo.serving import Predictor

    p = Predictor(tiny_explain_model_dir, device="cpu")
    yield p
    p.close()
