"""Deletion test with a model stand-in whose important word is known."""

from __future__ import annotations

import numpy as np

from ftdemo.explain.faithfulness import deletion_test
from ftdemo.explain.words import WordSpan


def spans(text):
    out, pos = [WordSpan("[CLS]", 0, 0, 0, (0,), True)], 0
    for i, word in enumerate(text.split(" ")):
        out.append(WordSpan(word, 0, pos, pos + len(word), (i + 1,)))
        pos += len(word) + 1
    return out


def predict(variants):
    # p(positive) is high exactly when "good" is still in the text
    return np.array([[0.1, 0.9] if "good" in v[0] else [0.8, 0.2] for v in variants])


TEXT = "the movie was good and long and slow"


def test_top_word_deletion_beats_random():
    words = spans(TEXT)
    scores = np.array([0.0] + [1.0 if w.text == "good" else 0.1 for w in words[1:]])
    f = deletion_test([TEXT], words, scores, predict, target=1, k=1, seed=0)
    assert f.deleted == ["good"]
    assert f.topk_drop > 0.6 and f.topk_drop > f.random_drop


def test_seeded_and_clamped():
    words = spans("good fun")
    scores = np.array([0.0, 0.5, 0.2])
    a = deletion_test(["good fun"], words, scores, predict, target=1, k=10, seed=7)
    b = deletion_test(["good fun"], words, scores, predict, target=1, k=10, seed=7)
    assert a == b
    assert a.k == 1  # one word is always left
