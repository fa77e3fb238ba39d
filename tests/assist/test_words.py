"""The word model (assist/words.py): out-of-fold TF-IDF probabilities that see what a word says, on the
instant model's folds, for every task (pure, no model)."""

import random

import numpy as np

from ftdemo.assist import words
from ftdemo.assist.suspects import find_suspects
from ftdemo.training.splits import fold_splits

FILLER = "the movie was and it really a plot acting film story scene some very quite".split()


def _texts(n: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = random.Random(seed)
    keys = [["good", "great", "lovely"], ["bad", "awful", "poor"]]
    Y = np.array([i % 2 for i in range(n)])
    texts = [" ".join(rng.sample(FILLER, 4) + [rng.choice(keys[y])]) for y in Y]
    return texts, Y


def test_flipped_labels_of_keyword_texts_are_found_out_of_fold():
    texts, Y = _texts(200)
    noisy = Y.copy()
    flips = [4, 51, 120, 199]
    noisy[flips] = 1 - noisy[flips]
    probs, folds = words.out_of_fold_probabilities(texts, noisy, task="single_label", labels=("pos", "neg"), seed=0)
    assert folds == 5 and probs.shape == (200, 2) and np.allclose(probs.sum(axis=1), 1)
    assert (probs.argmax(axis=1) == Y).mean() > 0.95  # the keyword decides, the flips notwithstanding
    found = [s.row for s in find_suspects(noisy, probs, task="single_label", labels=("pos", "neg"))]
    # cleanlab's per-label thresholds may pass over a flip the model is only fairly sure of (row 4: 0.84)
    assert len(set(flips) & set(found[:len(flips)])) >= 3


def test_folds_are_the_instant_models_and_too_few_labels_give_none():
    texts, Y = _texts(40)
    split = fold_splits(Y, task="single_label", seed=3)
    assert len(split) == 5 and sorted(np.concatenate([h for _, h in split]).tolist()) == list(range(40))
    assert words.out_of_fold_probabilities(texts[:3], np.array([0, 1, 1]), task="single_label",
                                           labels=("a", "b")) == (None, 0)


def test_multi_label_pairs_and_texts_without_words():
    texts, Y = _texts(60)
    multi = np.stack([Y, 1 - Y], axis=1)
    probs, folds = words.out_of_fold_probabilities(texts, multi, task="multi_label", labels=("x", "y"))
    assert folds == 5 and ((probs >= 0.5) == multi.astype(bool)).mean() > 0.85
    joined = [words.joined(a, b) for a, b in zip(texts, reversed(texts))]
    assert joined[0].startswith(texts[0]) and joined[0].endswith(texts[-1]) and words.joined("a", None) == "a"
    probs, _ = words.out_of_fold_probabilities(joined, Y, task="pair", labels=("e", "c"))
    assert probs.shape == (60, 2)
    emoji = ["🙂"] * 10  # no word at all: the labels' shares, not an error
    probs, _ = words.out_of_fold_probabilities(emoji, np.array([0, 1] * 5), task="single_label", labels=("a", "b"))
    assert np.allclose(probs, 0.5)
