"""Learnable toy tasks for the engine tests (a keyword decides the label)."""

from __future__ import annotations

import random

import pytest

from ftdemo.tasks import LabelledText

FILLER = "the movie was and it really a plot acting film story scene some very quite".split()


def _sentence(rng: random.Random, keywords: list[str]) -> str:
    words = rng.sample(FILLER, rng.randint(2, 6)) + keywords
    rng.shuffle(words)
    return " ".join(words)


def toy_single(n: int = 160, seed: int = 0) -> list[LabelledText]:
    rng = random.Random(seed)
    words = {"pos": ["good", "great", "lovely"], "neg": ["bad", "awful", "poor"]}
    out = []
    for i in range(n):
        lab = "pos" if i % 2 else "neg"
        out.append(LabelledText(i, _sentence(rng, [rng.choice(words[lab])]), None, (lab,)))
    return out


def toy_multi(n: int = 200, seed: int = 0) -> list[LabelledText]:
    rng = random.Random(seed)
    keys = {"sport": "football", "money": "bank", "food": "pizza"}
    out = []
    for i in range(n):
        labs = tuple(lab for lab in keys if rng.random() < 0.4)
        out.append(LabelledText(i, _sentence(rng, [keys[lab] for lab in labs]), None, labs))
    return out


def toy_pair(n: int = 200, seed: int = 0) -> list[LabelledText]:
    """The word "yes" sits in the first or the second text: only segment information tells which."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        first = i % 2 == 0
        a, b = _sentence(rng, ["yes"] if first else []), _sentence(rng, [] if first else ["yes"])
        out.append(LabelledText(i, a, b, ("first" if first else "second",)))
    return out


@pytest.fixture
def fast_config(fast_options):
    """A TrainConfig factory for the tiny random model: the shared fast options, plus what makes the
    engine learn a toy task in a few epochs (high LR, no warmup, no early stop)."""
    from ftdemo.training.config import TrainConfig

    def make(**changes):
        # a random model must learn everything (nothing frozen); one thread: ops this small
        # gain nothing from a second thread and lose a lot when the machine is busy
        base = {**fast_options, "epochs": 8, "learning_rate": 3e-3, "warmup_ratio": 0.0, "early_stopping_patience": 0,
                "log_every": 2, "seed": 0, "freeze_embeddings": False, "freeze_layers": 0}
        base.update(changes)
        return TrainConfig(**base)

    return make
