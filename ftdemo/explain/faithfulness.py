"""Deletion test of faithfulness: do the words a method ranks highest matter to the model?

Delete the top-k scored words and measure the drop in the target label's
probability; compare with deleting k random words (seeded, averaged over a few
draws). A method worth looking at drops the probability more than chance.
Pure: the model is a callback that maps segment texts to probabilities.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ftdemo.explain.words import WordSpan, delete_words

# texts per input → probabilities [n_inputs, n_labels]; each input is [text] or [text, text_pair]
PredictFn = Callable[[list[list[str]]], np.ndarray]


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

    def to_dict(self) -> dict:
        return asdict(self)


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
    random_draws: int = 5,
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
    )
