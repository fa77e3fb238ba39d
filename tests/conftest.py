"""Shared fixtures: a tiny random BERT classifier directory with the bundled MiniLM tokenizer.

Kept focused on purpose: one session-scoped `tiny_model_dir` that any suite can use as
a `base_model` (training) or a model to load (serving). Suites add their own fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in the tests may touch the Hub
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A saved, randomly initialised BertForSequenceClassification (hidden 32, 2 layers, 2 heads,
    2 labels) plus the bundled MiniLM tokenizer: loads in milliseconds, trains a step in ~10 ms."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    from ftdemo.config import bundled_model_path

    out = tmp_path_factory.mktemp("tiny-bert")
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_path())
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=2,
                        initializer_range=0.1)  # 0.02 (BERT default) learns toy tasks slowly at this size
    torch.manual_seed(0)
    BertForSequenceClassification(config).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


@pytest.fixture(scope="session")
def serve_app():
    """A context manager that runs the real Gradio app over `services` on a free localhost port.

        with serve_app(services) as url: ...   # url = "http://127.0.0.1:PORT/"
        with serve_app(services, close_services=True) as url: ...   # also closes `services` at the end
    """
    import contextlib

    from apphost import serve_on_free_port

    @contextlib.contextmanager
    def serve(services, *, close_services=False):  # type: ignore[no-untyped-def]
        try:
            with serve_on_free_port(services) as (url, _demo):
                yield url
        finally:
            if close_services:  # the caller made `services` for this app alone
                services.close()

    return serve
