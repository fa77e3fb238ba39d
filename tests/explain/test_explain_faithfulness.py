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


def test_the_verdict_needs_a_clear_win_over_every_random_choice_and_enough_words():
    words = spans(TEXT)  # 8 words: 1 of them can be chosen 8 ways, 3 of them 56
    right = np.array([0.0] + [1.0 if w.text == "good" else 0.1 for w in words[1:]])
    assert deletion_test([TEXT], words, right, predict, target=1, k=1).verdict == "too_few"
    f = deletion_test([TEXT], words, right, predict, target=1, k=3)
    assert (f.choices, f.verdict, len(f.random_drops)) == (56, "matters", 10)
    assert f.to_dict()["verdict"] == "matters" and f.to_dict()["random_drops"] == list(f.random_drops)
    wrong = np.array([0.0] + [0.0 if w.text == "good" else float(i) for i, w in enumerate(words[1:])])
    assert deletion_test([TEXT], words, wrong, predict, target=1, k=3).verdict == "unclear"
    short = spans("good fun was had")  # 3 of 4 words: 4 ways, one of them the top 3 themselves
    short_scores = np.array([0.0, 1.0, 0.1, 0.1, 0.1])
    assert deletion_test(["good fun was had"], short, short_scores, predict, target=1, k=3).verdict == "too_few"
