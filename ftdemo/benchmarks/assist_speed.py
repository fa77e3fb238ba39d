"""Speed of the model in the loop: embeddings, ranking, and the next example with its suggestion.

`measure()` returns
- `embed_texts_per_s`: short texts (5-25 words) through the bundled MiniLM on this machine's CPU
  threads, in the app's length-sorted batches (the model is loaded once, outside the timing);
- `rank_50k_ms`: the default order over 50,000 pool embeddings once every label has enough examples
  (instant-model probabilities of the pool + uncertainty + exploration), and `rank_50k_ms_by_strategy`;
- `next_with_suggestion_p50_ms` (and p95): `AnnotationService.next(order="default")` with its suggestion
  through real services at 50,000 examples, each call followed by a label, as an annotator works.
  The 50,000 embeddings are written into the on-disk cache beforehand (random unit vectors: their
  computation is what `embed_texts_per_s` measures), so the service loads them as after a restart.

The label-efficiency benchmark (`bench label-efficiency`) reports these next to its curves; targets:
≥ 300 texts/s, < 1,000 ms, ≤ 50 ms.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

WORDS = ("the movie was good bad great terrible plot acting boring fun long short story actor film scene "
         "music slow fast funny sad price delivery service quality phone battery screen").split()
LABELS = ("positive", "negative", "neutral")


def short_texts(n: int, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 25))) for _ in range(n)]


def embed_speed(n: int = 2000, model: str | None = None) -> float:
    """Texts per second through the embedder (after one warm-up batch)."""
    from ftdemo.assist.embedder import embed, load_encoder
    from ftdemo.settings import bundled_model_path

    encoder = load_encoder(model or bundled_model_path(), device="cpu")
    texts = short_texts(n)
    embed(encoder, texts[:64])
    t = time.perf_counter()
    embed(encoder, texts)
    return n / (time.perf_counter() - t)


def _pool(n: int, dim: int = 384, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(50, dim))
    X = (centers[rng.integers(0, 50, n)] + rng.normal(size=(n, dim)) * 1.5).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def rank_speed(n: int = 50_000, labelled: int = 300) -> dict[str, float]:
    """Milliseconds to rank n pool embeddings per strategy (default: including the instant model's
    probabilities of the pool, as the service computes them after a refit)."""
    from ftdemo.assist import strategies
    from ftdemo.assist.instant import InstantModel

    X = _pool(n + labelled)
    X_lab, X_pool = X[:labelled], X[labelled:]
    y = np.arange(labelled) % len(LABELS)
    model = InstantModel.fit(X_lab, y, task="single_label", labels=LABELS)
    counts = {lab: labelled // len(LABELS) for lab in LABELS}
    out: dict[str, float] = {}
    for strategy in strategies.STRATEGIES:
        t = time.perf_counter()
        probs = model.predict_proba(X_pool)
        strategies.rank(strategy, X_pool=X_pool, probs_pool=probs, X_labelled=X_lab, label_counts=counts,
                        task="single_label", k=500 if strategy != "diverse" else 128, seed=0)
        out[strategy] = round((time.perf_counter() - t) * 1000, 1)
    return out


def next_speed(n: int = 50_000, labelled: int = 300, calls: int = 60) -> dict[str, float]:
    """p50/p95 ms of next(order="default") with its suggestion through the services at n examples."""
    from ftdemo.assist.cache import EmbeddingCache, model_key
    from ftdemo.services import Actor, Services
    from ftdemo.settings import Settings
    from ftdemo.store import embeddings as q
    from ftdemo.store import repo

    with tempfile.TemporaryDirectory(prefix="ftdemo-assist-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp), seed_demo=False)
        sv = Services(settings)
        try:
            sv.datasets.create("bench", "single_label", list(LABELS), actor=Actor.local())
            texts = [f"{i} {t}" for i, t in enumerate(short_texts(n))]
            with sv.db.write() as s:
                ds = repo.get_dataset(s, "bench")
                ids = repo.add_examples(s, ds, [repo.NewExample(t) for t in texts], created_by="bench")
                repo.add_label_annotations(s, ds, [(i, [LABELS[k % 3]]) for k, i in enumerate(ids[:labelled])],
                                           annotator="bench")
                hashes = [h for _, h in q.live_hashes(s, ds)]
            cache = EmbeddingCache(settings.data_dir / "embeddings", model_key(settings.resolved_base_model()))
            X = _pool(len(hashes))
            for start in range(0, len(hashes), 5000):
                cache.add(hashes[start:start + 5000], X[start:start + 5000])
            sv.assist.ensure_embeddings("bench", wait=True)
            me = Actor("bench-annotator", "annotator")
            times: list[float] = []
            for k in range(calls + 1):
                t = time.perf_counter()
                view = sv.annotate.next("bench", me, order="default", seed=0)
                elapsed = time.perf_counter() - t
                if k:  # the first call ranks from scratch: a one-off, like the model loading
                    times.append(elapsed)
                assert view is not None and view.suggestion is not None, "no suggestion: the benchmark is broken"
                sv.annotate.label("bench", view.id, view.suggestion["labels"], actor=me)
            times.sort()
            return {"p50_ms": round(statistics.median(times) * 1000, 1),
                    "p95_ms": round(times[int(0.95 * (len(times) - 1))] * 1000, 1)}
        finally:
            sv.close()


def measure(*, embed_n: int = 2000, pool: int = 50_000, calls: int = 60) -> dict[str, Any]:
    """Every figure above in one dict (keys in the module docstring)."""
    ranks = rank_speed(pool)
    nxt = next_speed(pool, calls=calls)
    return {"embed_texts_per_s": round(embed_speed(embed_n), 1), "rank_50k_ms": ranks["default"],
            "rank_50k_ms_by_strategy": ranks, "next_with_suggestion_p50_ms": nxt["p50_ms"],
            "next_with_suggestion_p95_ms": nxt["p95_ms"], "pool": pool}


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
