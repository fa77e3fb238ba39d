"""Which unlabelled examples to offer next: pure functions over embeddings and probabilities.

- uncertain: the smallest margin between the two most probable labels ("breaking ties", the least
  sensitive to the number of labels), or the highest entropy; multi-label: the label whose
  probability is closest to its threshold.
- diverse: k-means over the pool's embeddings (k-means++ seeding, MiniBatchKMeans beyond a few
  thousand points) and the example nearest each centroid, clusters that no labelled example falls in
  first (Zhdanov 2019, small-text's EmbeddingKMeans): the first labels cover the data.
- default: diverse until every label has `DefaultPolicy.min_per_label` labelled examples, then mostly
  uncertain, with a share of random picks that keeps exploring what the model is wrongly sure of.
- random: a seeded permutation.

Every function takes a seed and is reproducible with it; `rank` is the one entry the queue and the
label-efficiency benchmark call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ftdemo.assist.instant import small_math
from ftdemo.tasks import TaskType

STRATEGIES = ("random", "uncertain", "diverse", "default")
KMEANS_FIT_MAX = 4_000  # k-means is fitted on a sample of at most this many pool points, then assigns all


@dataclass(frozen=True)
class DefaultPolicy:
    """The knobs of the default order (tuned by `bench label-efficiency`, see docs/)."""

    min_per_label: int = 5  # diverse until every label has this many labelled examples
    explore: float = 0.15  # then this share of the ranking is random picks, the rest most uncertain
    measure: str = "margin"  # "margin" or "entropy" (single-label and pair)

    def __post_init__(self) -> None:
        if self.min_per_label < 0:
            raise ValueError("DefaultPolicy.min_per_label must be >= 0")
        if not 0.0 <= self.explore <= 1.0:
            raise ValueError("DefaultPolicy.explore is a share between 0 and 1")
        if self.measure not in ("margin", "entropy"):
            raise ValueError("DefaultPolicy.measure is 'margin' or 'entropy'")


DEFAULT_POLICY = DefaultPolicy()


def uncertainty(probs: np.ndarray, task: TaskType | str, *, measure: str = "margin",
                thresholds: Sequence[float] | np.ndarray | None = None) -> np.ndarray:
    """Per row, higher = more uncertain. Single-label / pair: 1 - (p1 - p2) (margin) or the entropy;
    multi-label: 1 - min over labels of |p - threshold| (the label the model is least sure of)."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or len(probs) == 0:
        return np.zeros(len(probs))
    if TaskType.parse(task).is_multi_label:
        t = np.full(probs.shape[1], 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
        return 1.0 - np.abs(probs - t).min(axis=1)
    if measure == "entropy":
        p = np.clip(probs, 1e-12, 1.0)
        return -(p * np.log(p)).sum(axis=1)
    if probs.shape[1] < 2:
        return np.zeros(len(probs))
    top2 = np.partition(probs, -2, axis=1)[:, -2:]
    return 1.0 - (top2[:, 1] - top2[:, 0])


def _kmeans(X: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Centroids (k, d) by k-means with k-means++ seeding; a sample of the pool when it is large."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    rng = np.random.default_rng(seed)
    sample = X if len(X) <= KMEANS_FIT_MAX else X[rng.choice(len(X), KMEANS_FIT_MAX, replace=False)]
    if len(sample) <= 2_000:
        km = KMeans(n_clusters=k, init="k-means++", n_init=1, max_iter=50, random_state=seed)
    else:
        km = MiniBatchKMeans(n_clusters=k, init="k-means++", n_init=1, batch_size=2048, max_iter=20,
                             random_state=seed)
    with small_math():
        return km.fit(sample).cluster_centers_.astype(np.float32)


def diverse(X_pool: np.ndarray, k: int, *, seed: int = 0, X_labelled: np.ndarray | None = None) -> np.ndarray:
    """Up to k pool indices, one per cluster of the pool's embeddings: the member nearest its centroid.

    Clusters that no labelled example falls in come first, larger clusters first; covered ones after."""
    X_pool = np.asarray(X_pool, dtype=np.float32)
    n = len(X_pool)
    k = int(min(k, n))
    if k <= 0:
        return np.zeros(0, dtype=int)
    if k == n:
        return np.random.default_rng(seed).permutation(n)
    centroids = _kmeans(X_pool, k, seed)
    # nearest centroid of every pool point: argmax of x·c - |c|²/2 (|x| is the same for all centroids)
    half_norm = 0.5 * (centroids ** 2).sum(axis=1)
    assign = (X_pool @ centroids.T - half_norm).argmax(axis=1)
    sizes = np.bincount(assign, minlength=k)
    covered = np.zeros(k, dtype=bool)
    if X_labelled is not None and len(X_labelled):
        covered[np.unique((np.asarray(X_labelled, dtype=np.float32) @ centroids.T - half_norm).argmax(axis=1))] = True
    # the representative: the member with the smallest distance to its centroid
    dist = ((X_pool - centroids[assign]) ** 2).sum(axis=1)
    order = np.lexsort((dist, assign))  # by cluster, nearest first
    first = np.ones(n, dtype=bool)
    first[1:] = assign[order][1:] != assign[order][:-1]
    reps = np.full(k, -1)
    reps[assign[order][first]] = order[first]
    clusters = [c for c in np.lexsort((-sizes, covered)) if reps[c] >= 0]
    return reps[clusters].astype(int)


def _blend(best: np.ndarray, n: int, k: int, explore: float, rng: np.random.Generator) -> np.ndarray:
    """k picks: most of them from `best` in order, a share `explore` random ones, no repeats."""
    k = min(k, n)
    randoms = rng.permutation(n)
    take_random = rng.random(k) < explore
    out: list[int] = []
    seen: set[int] = set()
    bi = ri = 0
    for slot in range(k):
        source, idx = (randoms, ri) if take_random[slot] else (best, bi)
        while idx < len(source) and int(source[idx]) in seen:
            idx += 1
        if idx >= len(source):  # that source ran out: the other one fills the slot
            source, idx = (best, bi) if source is randoms else (randoms, ri)
            while int(source[idx]) in seen:
                idx += 1
        pick = int(source[idx])
        seen.add(pick)
        out.append(pick)
        if source is randoms:
            ri = idx + 1
        else:
            bi = idx + 1
    return np.array(out, dtype=int)


def needs_coverage(label_counts: Mapping[str, int] | Sequence[int] | np.ndarray | None, min_per_label: int) -> bool:
    """Whether some label still has fewer than `min_per_label` labelled examples."""
    if label_counts is None:
        return True
    counts = list(label_counts.values()) if isinstance(label_counts, Mapping) else list(label_counts)
    return not counts or min(int(c) for c in counts) < min_per_label


def rank(strategy: str, *, X_pool: np.ndarray, probs_pool: np.ndarray | None = None,
         X_labelled: np.ndarray | None = None, label_counts: Mapping[str, int] | Sequence[int] | None = None,
         task: TaskType | str = TaskType.SINGLE_LABEL, k: int = 100, seed: int = 0,
         policy: DefaultPolicy = DEFAULT_POLICY, thresholds: Sequence[float] | None = None) -> np.ndarray:
    """Up to k indices into the pool, best first.

    Without probabilities (no model yet) "uncertain" and "default" fall back to "diverse"; "diverse"
    without embeddings of the pool is not asked for (the caller shuffles instead)."""
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of: {', '.join(STRATEGIES)}")
    n = len(X_pool) if X_pool is not None else (len(probs_pool) if probs_pool is not None else 0)
    k = int(min(k, n))
    rng = np.random.default_rng(seed)
    if k <= 0:
        return np.zeros(0, dtype=int)
    if strategy == "random":
        return rng.permutation(n)[:k]
    has_model = probs_pool is not None and len(probs_pool) == n
    if strategy == "diverse" or not has_model or (
            strategy == "default" and needs_coverage(label_counts, policy.min_per_label)):
        return diverse(X_pool, k, seed=seed, X_labelled=X_labelled)
    scores = uncertainty(probs_pool, task, measure=policy.measure, thresholds=thresholds)
    # most uncertain first; ties broken by a seeded shuffle so equal scores do not favour low ids
    jitter = rng.random(n)
    top = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    best = top[np.lexsort((jitter[top], -scores[top]))]
    if strategy == "uncertain":
        return best
    return _blend(best, n, k, policy.explore, rng)
