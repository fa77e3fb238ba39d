"""Deletion test of faithfulness: do the words a method ranks highest matter to the model?

Delete the top-k scored words and measure the drop in the target label's
probability; compare with deleting k random words (seeded, averaged over a few
draws). A method worth looking at drops the probability more than chance.
Pure: the model is a callback that maps segment texts to probabilities.

`Faithfulness.verdict` says how far the result goes: "matters" only when the top-k deletion beats every
random draw by a clear margin, and "too_few" when the text has so few words that k of them can be
chosen in only a handful of ways (3 of 4 words: 4 ways, one of them the top-k itself), where any gap,
however large it looks, could be chance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ftdemo.explain.words import WordSpan, delete_words

# texts per input → probabilities [n_inputs, n_labels]; each input is [text] or [text, text_pair]
PredictFn = Callable[[list[list[str]]], np.ndarray]

RANDOM_DRAWS = 10  # random deletions compared with: beating all of them has chance 1/11 when scores are noise
MIN_CHOICES = 20  # fewer ways than this to choose k words: no verdict
MIN_GAP = 0.05  # the top-k drop must exceed the mean random drop by this much (a probability) too


@dataclass(frozen=True)
class Faithfulness:
    k: int  # words deleted (clamped so that at least one word remains)
    base_prob: float  # p(target) of the full input
    topk_prob: float  # p(target) with the top-k scored words deleted
    random_prob: float  # mean p(target) with k random words deleted
    topk_drop: float  # base_prob - topk_prob
    random_drop: float  # base_prob - random_prob
    deleted: list[str]  # the top-k words, as typed
    seed: int
    random_draws: int
    random_drops: tuple[float, ...] = ()  # each random draw's drop
    choices: int = 0  # ways to choose k of the words that may be deleted

    @property
    def verdict(self) -> str:
        """"matters" (the top-k drop is at least every random draw's and beats their mean by MIN_GAP),
        "too_few" (fewer than MIN_CHOICES ways to choose the words: no test is possible), or "unclear"."""
        if not self.k or self.choices < MIN_CHOICES:
            return "too_few"
        beats_all = all(self.topk_drop >= d for d in self.random_drops)  # a draw that hits the same words ties
        return "matters" if beats_all and self.topk_drop >= self.random_drop + MIN_GAP else "unclear"

    def to_dict(self) -> dict:
        return {**asdict(self), "random_drops": list(self.random_drops), "verdict": self.verdict}


def top_k_words(scores: np.ndarray, candidates: Sequence[int], k: int) -> list[int]:
    """Indices of the k highest-scored candidates (ties broken by reading order)."""
    order = sorted(candidates, key=lambda i: (-float(scores[i]), i))
    return order[:k]


def deletion_test(
    texts: Sequence[str],
    words: Sequence[WordSpan],
    scores: np.ndarray,
    predict: PredictFn,
    *,
    target: int,
    k: int = 3,
    seed: int = 0,
    random_draws: int = RANDOM_DRAWS,
) -> Faithfulness:
    """Probability drop from deleting the top-k words vs k random words.

    texts: the segment texts; words/scores: all words of the input (specials are
    never deleted) with one score each, higher = more important for the target.
    """
    candidates = [i for i, w in enumerate(words) if not w.special]
    k = max(0, min(k, len(candidates) - 1))  # keep one word so the input is never empty
    top = top_k_words(scores, candidates, k)
    rng = np.random.default_rng(seed)
    draws = [list(rng.choice(candidates, size=k, replace=False)) if k else [] for _ in range(random_draws)]
    variants = [list(texts), delete_words(texts, [words[i] for i in top])]
    variants += [delete_words(texts, [words[i] for i in d]) for d in draws]
    probs = np.asarray(predict(variants), dtype=np.float64)[:, target]
    base, top_p, rand_p = float(probs[0]), float(probs[1]), float(probs[2:].mean()) if draws else float(probs[0])
    drops = tuple(round(base - float(p), 6) for p in probs[2:]) if k else ()
    return Faithfulness(
        k=k,
        base_prob=base,
        topk_prob=top_p,
        random_prob=rand_p,
        topk_drop=base - top_p,
        random_drop=base - rand_p,
        deleted=[words[i].text for i in top],
        seed=seed,
        random_draws=random_draws,
        random_drops=drops,
        choices=math.comb(len(candidates), k) if k else 0,
    )
