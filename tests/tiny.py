"""Tiny random BERT models and fast training options for tests: the one builder and the one set of options.

conftest.py turns them into fixtures (`tiny_model_dir`, `tiny_models`, `fast_options`); a test module
needing them at import time (parametrize tables) imports from here.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# Training settings that finish in about a second on the tiny models (a test overrides what it studies).
FAST_TRAIN: dict[str, Any] = {"epochs": 1, "batch_size": 16, "max_length": 32, "num_threads": 1}


@functools.lru_cache(maxsize=1)
def bundled_tokenizer() -> Any:
    from transformers import AutoTokenizer

    from ftdemo.settings import bundled_model_path

    return AutoTokenizer.from_pretrained(bundled_model_path())


def build_tiny_model(out_dir: Path, *, task: str = "single_label", labels: Sequence[str] | None = None, seed: int = 0,
                     hidden: int = 32, layers: int = 2, heads: int = 2, max_positions: int = 128,
                     initializer_range: float = 0.1, thresholds: dict[str, float] | None = None,
                     metadata: bool | None = None, model_class: str = "BertForSequenceClassification",
                     vocab_size: int | None = None) -> Path:
    """save_pretrained a random tiny BERT (hidden 32, 2 layers, 2 heads by default) with the bundled MiniLM
    tokenizer: loads in milliseconds, trains a step in ~10 ms.

    labels: named labels (with id2label, problem type and, unless metadata=False, a metadata.json like a
    registry version's); None: an unnamed 2-label head, as a base model to fine-tune from.
    initializer_range 0.1 learns toy tasks quickly (BERT's 0.02 is slow at this size); 0.2 gives attention
    that is far from uniform, for explanation tests. model_class "BertModel": a plain encoder without a head.
    vocab_size: a smaller vocabulary and no tokenizer (models that are only built, never fed text).
    """
    import torch
    import transformers

    tokenizer = None if vocab_size else bundled_tokenizer()
    named = dict(num_labels=len(labels), id2label=dict(enumerate(labels)),
                 label2id={lab: i for i, lab in enumerate(labels)},
                 problem_type="multi_label_classification" if task == "multi_label" else "single_label_classification",
                 ) if labels else {"num_labels": 2}
    config = transformers.BertConfig(
        vocab_size=vocab_size or tokenizer.vocab_size, hidden_size=hidden, num_hidden_layers=layers,
        num_attention_heads=heads, intermediate_size=2 * hidden, max_position_embeddings=max_positions,
        initializer_range=initializer_range, **named)
    torch.manual_seed(seed)
    getattr(transformers, model_class)(config).eval().save_pretrained(out_dir)
    if tokenizer is not None:
        tokenizer.save_pretrained(out_dir)
    if metadata if metadata is not None else bool(labels):
        meta = {"task": task, "labels": list(labels or ()), **({"thresholds": thresholds} if thresholds else {})}
        (Path(out_dir) / "metadata.json").write_text(json.dumps(meta))
    return Path(out_dir)


def keyword_dataset(services: Any, name: str, n: int = 60) -> str:
    """Create dataset `name` with `n` labelled texts whose label is decided by one word (pos: "good", neg: "bad"):
    toy data the tiny models learn in a second. Written in one transaction; returns the name."""
    from ftdemo.services import Actor
    from ftdemo.store import repo

    services.datasets.create(name, "single_label", "pos,neg", actor=Actor.local())
    with services.db.write() as s:
        ds = repo.get_dataset(s, name)
        ids = repo.add_examples(s, ds, [repo.NewExample(f"{name} {i} is {'good' if i % 2 else 'bad'}") for i in range(n)],
                                created_by="t")
        repo.add_label_annotations(s, ds, [(i, ["pos" if k % 2 else "neg"]) for k, i in enumerate(ids)], annotator="t")
    return name
