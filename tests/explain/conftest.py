"""Tiny random BERT classifiers (hidden 32, 2 layers, 2 heads) with the bundled MiniLM tokenizer.

Local to the explain tests on purpose: they must not depend on fixtures other
suites may or may not define.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_tiny_model(out_dir: Path, *, task: str = "single_label", labels=("neg", "neu", "pos"), seed: int = 0,
                     max_positions: int = 64, thresholds: dict | None = None) -> Path:
    """save_pretrained a random tiny BertForSequenceClassification + tokenizer + metadata.json."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ftdemo.config import bundled_model_path

    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=max_positions, initializer_range=0.2,
        num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={lab: i for i, lab in enumerate(labels)},
        problem_type="multi_label_classification" if task == "multi_label" else "single_label_classification",
    )
    torch.manual_seed(seed)
    model = BertForSequenceClassification(config).eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    meta = {"task": task, "labels": list(labels)}
    if thresholds:
        meta["thresholds"] = thresholds
    (Path(out_dir) / "metadata.json").write_text(json.dumps(meta))
    return Path(out_dir)


@pytest.fixture(scope="session")
def tiny_explain_model_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-single"))


@pytest.fixture(scope="session")
def tiny_multilabel_dir(tmp_path_factory) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-multi"), task="multi_label", labels=("a", "b", "c"), seed=1,
        thresholds={"a": 0.3, "b": 0.5, "c": 0.9},
    )


@pytest.fixture(scope="session")
def tiny_pair_dir(tmp_path_factory) -> Path:
    return build_tiny_model(
        tmp_path_factory.mktemp("tiny-pair"), task="pair", labels=("entail", "neutral", "contra"), seed=2
    )


@pytest.fixture(scope="session")
def bundled_tokenizer():
    from transformers import AutoTokenizer

    from ftdemo.config import bundled_model_path

    return AutoTokenizer.from_pretrained(bundled_model_path())


@pytest.fixture(scope="module")
def predictor(tiny_explain_model_dir):
    from ftdemo.serving import Predictor

    p = Predictor(tiny_explain_model_dir, device="cpu")
    yield p
    p.close()
