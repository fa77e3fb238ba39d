"""The model in the loop: embeddings of every example, the instant model, suggestions, rankings, neighbours.

Per dataset an `_Index` holds the embeddings of its live examples (ids + an (n, d) matrix) from one
encoder: the active fine-tuned version when there is one, else the base checkpoint. One daemon thread
per process (the "assist" worker) computes what the on-disk cache lacks, in chunks, and refits the
instant model when labels changed (at most every REFIT_S); callers never wait for it: they use what
exists, and get None (suggest) or a shuffled queue (orders) until something does. `wait=True` on
`ensure_embeddings` does the work in the caller instead (the CLI, tests).

When the active version changes, its embeddings are built next to the current index, which keeps
serving until the new one is complete.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftdemo.errors import FtdemoError, InvalidInputError, NotFoundError
from ftdemo.models.guard import validation_macro_f1
from ftdemo.services.base import Service
from ftdemo.store import embeddings as q
from ftdemo.store import repo
from ftdemo.tasks import TaskType

log = logging.getLogger(__name__)

CHUNK = 256  # examples embedded per step: progress moves every second or so, and each step is one shard
CHECK_S = 1.0  # how often a caller's touch re-reads the marks (examples, labels, active version)
REFIT_S = 0.5  # the instant model is refit at most this often
RERANK_S = 2.0  # a ranking older than this is recomputed when the embeddings or the model changed
RANK_K = 500  # ranked candidates kept per order; the SQL candidates filter them
DIVERSE_MIN_K, DIVERSE_MAX_K = 50, 128  # clusters: the labelled count + DIVERSE_MIN_K, within these bounds
MAX_ENCODERS = 2


@dataclass(frozen=True)
class EmbeddingProgress:
    """How far the embeddings of a dataset are: `done` of `total` live examples, by `model`."""

    done: int
    total: int
    model: str
    running: bool = False
    error: str | None = None

    @property
    def complete(self) -> bool:
        return self.done >= self.total

    def to_dict(self) -> dict[str, Any]:
        return {"done": self.done, "total": self.total, "model": self.model, "running": self.running,
                "complete": self.complete, "error": self.error}


@dataclass(frozen=True)
class Suggestion:
    """What the model proposes for one example: its label set, every label's probability, which model."""

    labels: tuple[str, ...]
    probabilities: dict[str, float]
    model: str  # "instant" or a fine-tuned version name

    @property
    def label(self) -> str:
        """The most probable label (for multi-label possibly outside `labels`)."""
        return max(self.probabilities, key=self.probabilities.__getitem__)

    @property
    def probability(self) -> float:
        """How sure the model is of its suggestion: the top label's probability, or for a multi-label set
        the smallest probability inside it (1 - the largest outside it when the set is empty)."""
        if len(self.labels) == 1:
            return self.probabilities[self.labels[0]]
        if self.labels:
            return min(self.probabilities[lab] for lab in self.labels)
        return 1.0 - max(self.probabilities.values(), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "labels": list(self.labels), "probabilities": dict(self.probabilities),
                "model": self.model, "probability": round(float(self.probability), 6)}


@dataclass
class _Index:
    """One dataset's embeddings by one encoder, the instant model on them, and rankings made from them."""

    dataset: str
    task: TaskType
    labels: tuple[str, ...]  # the active labels, in order
    label_names: dict[int, str]  # label id → name (active labels)
    model_path: str
    model_name: str  # what progress shows: a version name or the base checkpoint
    cache: Any  # EmbeddingCache
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    X: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    row: dict[int, int] = field(default_factory=dict)
    total: int = 0
    missing: list[tuple[int, str]] = field(default_factory=list)  # (id, hash) still to embed
    examples_mark: tuple | None = None
    labels_mark: tuple | None = None
    fitted_mark: tuple | None = None
    fitted_at: float = 0.0
    labelled: dict[int, list[str]] = field(default_factory=dict)  # at the last fit
    instant: Any = None  # InstantModel
    probs: np.ndarray | None = None  # instant probabilities of every row of X
    generation: int = 0  # bumps when X or the model change: rankings of older generations are stale
    rankings: dict[tuple[str, int], tuple[int, float, list[int]]] = field(default_factory=dict)
    checked_at: float = 0.0
    error: str | None = None

    def progress(self, running: bool) -> EmbeddingProgress:
        return EmbeddingProgress(len(self.ids), self.total, self.model_name, running, self.error)


class AssistService(Service):
    """Embeddings, the instant model, suggestions, rankings and similar examples (see the module docstring)."""

    def __init__(self, db: Any, settings: Any, models: Any, predict: Any) -> None:
        super().__init__(db, settings)
        self.models = models
        self.predict = predict
        self._indexes: dict[str, _Index] = {}
        self._building: dict[str, _Index] = {}  # a new encoder's index, until it is complete
        self._encoders: dict[str, Any] = {}
        self._lock = threading.RLock()  # guards the dicts and each index's arrays
        self._encoder_lock = threading.Lock()
        self._embed_lock = threading.Lock()
        self._wanted: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy: str | None = None
        self.embedded_texts = 0  # how many texts this process has run through an encoder (tests, benchmarks)

    # --- public ------------------------------------------------------------------------------------
    def ensure_embeddings(self, dataset: str, *, wait: bool = False,
                          on_progress: Callable[[EmbeddingProgress], None] | None = None) -> EmbeddingProgress:
        """Embeddings of every live example of `dataset`: start computing what is missing (in the
        background, or here with wait=True, which also refits the instant model) and say how far it is."""
        idx = self._touch(dataset, force=True)
        if wait:
            target = self._target(dataset)
            while target.missing:
                self._embed_step(target)
                if on_progress is not None:
                    on_progress(target.progress(True))
            self._promote(dataset)
            self._refit(self._indexes[dataset], force=True)
            idx = self._indexes[dataset]
        return idx.progress(running=self._busy == dataset or bool(idx.missing))

    def progress(self, dataset: str) -> EmbeddingProgress:
        """Like ensure_embeddings, for polling (the UI's timer)."""
        return self.ensure_embeddings(dataset)

    def suggest(self, dataset: str, *, example_id: int | None = None, text: str | None = None,
                text_pair: str | None = None) -> Suggestion | None:
        """The serving model's suggestion for an example or a typed text; None while there is no model
        (nothing labelled, no embeddings yet). The fine-tuned version serves when its validation
        macro-F1 beats the instant model's cross-validated one."""
        if example_id is None and not (isinstance(text, str) and text.strip()):
            raise InvalidInputError("give an example id or a text to suggest labels for")
        idx = self._touch(dataset)
        server = self._server(dataset, idx)
        if server is None:
            return None
        if server != "instant":
            if example_id is not None and text is None:
                with self.db.read() as s:
                    ex = repo.get_example(s, repo.get_dataset(s, dataset), int(example_id), include_deleted=True)
                    text, text_pair = ex.text, ex.text_pair
            pred = self.predict.predict(dataset, text, text_pair or None)
            return Suggestion(tuple(pred["labels"]), dict(pred["probabilities"]), pred["model_version"])
        vector = self._vector(idx, example_id, text, text_pair)
        if vector is None:
            return None
        from ftdemo.assist.instant import labels_of

        probs = idx.instant.predict_proba(vector[None, :])[0]
        return Suggestion(labels_of(probs[None, :], idx.task, idx.labels)[0],
                          {lab: round(float(p), 6) for lab, p in zip(idx.labels, probs)}, "instant")

    def similar(self, dataset: str, *, example_id: int | None = None, text: str | None = None,
                text_pair: str | None = None, limit: int = 20, text_filter: str = "") -> list[dict[str, Any]]:
        """Nearest live examples by cosine similarity to an example or a typed text (the example itself left
        out), with their current labels and suggestions; `text_filter` keeps those whose text contains it."""
        from ftdemo.assist.similar import top_k

        if example_id is None and not (isinstance(text, str) and text.strip()):
            raise InvalidInputError("give an example id or a text to find similar examples for")
        limit = max(1, min(int(limit), 500))
        idx = self._touch(dataset)
        vector = self._vector(idx, example_id, text, text_pair)
        if vector is None:
            return []
        with self._lock:
            X, ids = idx.X, idx.ids
        exclude = idx.row.get(int(example_id)) if example_id is not None else None
        needle = (text_filter or "").strip().lower()
        want = limit if not needle else min(len(ids), max(limit * 20, 1000))
        rows, scores = top_k(X, vector, want, exclude=exclude)
        found = [int(ids[r]) for r in rows]
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            contents = q.texts(s, ds, found)
            current = repo.current_labels(s, ds, found)
        out: list[dict[str, Any]] = []
        for ex_id, score in zip(found, scores):
            text_, pair = contents.get(ex_id, ("", None))
            if needle and needle not in text_.lower() and needle not in (pair or "").lower():
                continue
            row = idx.row.get(ex_id)
            out.append({"id": ex_id, "text": text_, "text_pair": pair,
                        "labels": list(current[ex_id].labels) if ex_id in current else [],
                        "suggestion": self._instant_row(idx, row), "score": round(float(score), 6)})
            if len(out) >= limit:
                break
        return out

    def quality(self, dataset: str) -> dict[str, Any]:
        """The instant model's cross-validated quality next to the fine-tuned version's validation scores,
        which of them serves suggestions, and the embeddings' progress."""
        idx = self._touch(dataset)
        instant = dict(idx.instant.quality) if idx.instant is not None else None
        active = self.models.active(dataset)
        fine = None
        if active is not None:
            val = (active.get("metrics") or {}).get("validation") or {}
            fine = {"version": active["version"], "macro_f1": validation_macro_f1(active.get("metrics")),
                    "accuracy": val.get("accuracy")}
        return {"instant": instant, "finetuned": fine, "serving": self._server(dataset, idx, active=active),
                "labelled": len(idx.labelled), "embeddings": idx.progress(self._busy == dataset).to_dict()}

    def ranked_ids(self, dataset: str, strategy: str, *, seed: int = 0) -> list[int] | None:
        """Example ids best first by `strategy` (uncertain, diverse, default, random) over the embedded
        unlabelled pool; None when nothing is embedded yet. Cached: recomputed when the embeddings or
        the model changed and the last ranking is older than RERANK_S."""
        from ftdemo.assist import strategies

        idx = self._touch(dataset)
        key = (strategy, int(seed))
        with self._lock:
            cached = idx.rankings.get(key)
            if cached is not None and (cached[0] == idx.generation or time.monotonic() - cached[1] < RERANK_S):
                return cached[2]
            if not len(idx.ids):
                return None
            labelled = idx.labelled
            pool_rows = np.array([r for r, i in enumerate(idx.ids.tolist()) if i not in labelled], dtype=np.int64)
            X_pool = idx.X[pool_rows]
            probs = idx.probs[pool_rows] if idx.probs is not None and len(idx.probs) == len(idx.X) else None
            X_lab = idx.X[[idx.row[i] for i in labelled if i in idx.row]]
            counts = {lab: 0 for lab in idx.labels}
            for names in labelled.values():
                for name in names:
                    counts[name] = counts.get(name, 0) + 1
            generation, ids = idx.generation, idx.ids
        k = RANK_K if strategy != "diverse" and probs is not None else \
            min(DIVERSE_MAX_K, max(DIVERSE_MIN_K, len(labelled) + DIVERSE_MIN_K))
        order = strategies.rank(strategy, X_pool=X_pool, probs_pool=probs, X_labelled=X_lab, label_counts=counts,
                                task=idx.task, k=k, seed=int(seed))
        ranked = [int(ids[pool_rows[i]]) for i in order]
        with self._lock:
            idx.rankings[key] = (generation, time.monotonic(), ranked)
        return ranked

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=10)

    # --- state -------------------------------------------------------------------------------------
    def _encoder_choice(self, dataset: str) -> tuple[str, str, str]:
        """(cache key, model path, name shown) of the encoder that embeds `dataset` now."""
        from ftdemo.assist.cache import model_key

        active = self.models.active(dataset)
        if active is not None:
            return model_key(active["path"], dataset=dataset, version=active["version"]), active["path"], \
                active["version"]
        base = self.settings.resolved_base_model()
        return model_key(base), base, base.rstrip("/").rsplit("/", 1)[-1] or base

    def _new_index(self, dataset: str, key: str, path: str, name: str) -> _Index:
        from ftdemo.assist.cache import EmbeddingCache

        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            active = [lab for lab in ds.labels if not lab.retired]
            return _Index(dataset, TaskType(ds.task), tuple(lab.name for lab in active),
                          {lab.id: lab.name for lab in active}, path, name,
                          EmbeddingCache(self.settings.data_dir / "embeddings", key))

    def _touch(self, dataset: str, *, force: bool = False) -> _Index:
        """The dataset's serving index, its marks re-read at most every CHECK_S (always with force), and
        the worker woken when there is work."""
        with self._lock:
            idx = self._indexes.get(dataset)
        now = time.monotonic()
        if idx is not None and not force and now - idx.checked_at < CHECK_S:
            self._kick(dataset, idx)
            return idx
        key, path, name = self._encoder_choice(dataset)
        with self._lock:
            idx = self._indexes.get(dataset)
            if idx is None:
                idx = self._indexes[dataset] = self._new_index(dataset, key, path, name)
            if idx.cache.key != key:
                building = self._building.get(dataset)
                if building is None or building.cache.key != key:
                    self._building[dataset] = self._new_index(dataset, key, path, name)
            else:
                self._building.pop(dataset, None)
        self._sync(idx)
        if dataset in self._building:
            self._sync(self._building[dataset])
            self._promote(dataset)
        idx = self._indexes[dataset]
        idx.checked_at = time.monotonic()
        self._kick(dataset, idx)
        return idx

    def _target(self, dataset: str) -> _Index:
        """The index the worker fills: a new encoder's one while it is built, else the serving one."""
        with self._lock:
            return self._building.get(dataset) or self._indexes[dataset]

    def _promote(self, dataset: str) -> None:
        with self._lock:
            building = self._building.get(dataset)
            if building is not None and not building.missing:
                self._indexes[dataset] = self._building.pop(dataset)
                log.info("embeddings of %r now from %s", dataset, building.model_name)

    def _sync(self, idx: _Index) -> None:
        """Bring the index in line with the live examples when their mark changed: rows from the cache,
        the rest listed as missing; rows of deleted examples dropped."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, idx.dataset)
            mark = q.examples_mark(s, ds)
            lmark = q.labels_mark(s, ds)
            if mark == idx.examples_mark:
                idx.labels_mark = lmark
                return
            live = q.live_hashes(s, ds)
        idx.cache.refresh()
        hashes = [h for _, h in live]
        found, vectors = idx.cache.get(hashes)
        ids = np.array([i for (i, _), f in zip(live, found) if f], dtype=np.int64)
        with self._lock:
            idx.ids, idx.X = ids, vectors
            idx.row = {int(i): r for r, i in enumerate(ids.tolist())}
            idx.total = len(live)
            idx.missing = [(i, h) for (i, h), f in zip(live, found) if not f]
            idx.examples_mark, idx.labels_mark = mark, lmark
            idx.probs = idx.instant.predict_proba(vectors) if idx.instant is not None and len(vectors) else None
            idx.generation += 1

    def _kick(self, dataset: str, idx: _Index) -> None:
        """Wake the worker when there is something to embed or the labels moved since the last fit."""
        target = self._target(dataset)
        if target.missing or idx.labels_mark != idx.fitted_mark:
            with self._lock:
                self._wanted.add(dataset)
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(target=self._work, name="assist", daemon=True)
                    self._thread.start()
            self._wake.set()

    # --- the worker --------------------------------------------------------------------------------
    def _work(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=5.0)
            self._wake.clear()
            with self._lock:
                wanted, self._wanted = sorted(self._wanted), set()
            for dataset in wanted:
                if self._stop.is_set():
                    return
                self._busy = dataset
                try:
                    target = self._target(dataset)
                    while target.missing and not self._stop.is_set():
                        self._embed_step(target)
                    self._promote(dataset)
                    idx = self._indexes[dataset]
                    if idx.labels_mark != idx.fitted_mark:
                        wait = REFIT_S - (time.monotonic() - idx.fitted_at)
                        if wait > 0 and self._stop.wait(wait):
                            return
                        self._refit(idx)
                except NotFoundError:  # the dataset was deleted meanwhile
                    with self._lock:
                        self._indexes.pop(dataset, None)
                        self._building.pop(dataset, None)
                except Exception as err:  # noqa: BLE001 - the worker must outlive one bad dataset; it is shown
                    log.warning("assist: embeddings of %r failed", dataset, exc_info=True)
                    with self._lock:
                        if dataset in self._indexes:
                            self._indexes[dataset].error = str(err)
                            self._indexes[dataset].missing = []
                finally:
                    self._busy = None

    def _encoder(self, path: str) -> Any:
        from ftdemo.assist.embedder import load_encoder

        with self._encoder_lock:
            if path not in self._encoders:
                while len(self._encoders) >= MAX_ENCODERS:
                    self._encoders.pop(next(iter(self._encoders)))
                self._encoders[path] = load_encoder(path, device=self.settings.serving_device)
            return self._encoders[path]

    def _embed_step(self, idx: _Index) -> None:
        """Embed the next CHUNK missing examples, store them in the cache and the index. One step at a time
        per process (the worker and a waiting caller would otherwise embed the same chunk twice)."""
        from ftdemo.assist.embedder import embed

        with self._embed_lock:
            with self._lock:
                chunk = idx.missing[:CHUNK]
            if not chunk:
                return
            try:
                encoder = self._encoder(idx.model_path)
            except FtdemoError as err:
                with self._lock:
                    idx.error, idx.missing = f"cannot embed with {idx.model_name}: {err}", []
                return
            with self.db.read() as s:
                contents = q.texts(s, repo.get_dataset(s, idx.dataset), [i for i, _ in chunk])
            present = [(i, h) for i, h in chunk if i in contents]
            vectors = embed(encoder, [contents[i][0] for i, _ in present],
                            [contents[i][1] for i, _ in present] if idx.task.has_pair else None)
            self.embedded_texts += len(present)
            idx.cache.add([h for _, h in present], vectors)
            with self._lock:
                done = {i for i, _ in chunk}
                idx.missing = [m for m in idx.missing if m[0] not in done]  # _sync may have replaced the list
                fresh = [k for k, (i, _) in enumerate(present) if i not in idx.row]
                if not fresh:
                    return
                start = len(idx.ids)
                idx.ids = np.concatenate([idx.ids, np.array([present[k][0] for k in fresh], dtype=np.int64)])
                base = idx.X if len(idx.X) else np.zeros((0, vectors.shape[1]), np.float32)
                idx.X = np.concatenate([base, vectors[fresh]])
                for r, k in enumerate(fresh, start=start):
                    idx.row[present[k][0]] = r
                if idx.instant is not None:
                    idx.probs = idx.instant.predict_proba(idx.X)
                idx.generation += 1

    def _refit(self, idx: _Index, *, force: bool = False) -> None:
        """Fit the instant model on the labelled examples that have embeddings (and cross-validate it)."""
        from ftdemo.assist.instant import InstantModel

        with self.db.read() as s:
            ds = repo.get_dataset(s, idx.dataset)
            mark = q.labels_mark(s, ds)
            if mark == idx.fitted_mark and not force:
                return
            current = q.current_label_ids(s, ds)
        labelled = {i: [idx.label_names[l] for l in ls if l in idx.label_names] for i, ls in current.items()}
        labelled = {i: names for i, names in labelled.items() if names}
        with self._lock:
            rows = [(i, idx.row[i]) for i in labelled if i in idx.row]
            X = idx.X[[r for _, r in rows]] if rows else None
        model = None
        if rows:
            position = {lab: j for j, lab in enumerate(idx.labels)}
            if idx.task.is_multi_label:
                Y = np.zeros((len(rows), len(idx.labels)), dtype=int)
                for k, (i, _) in enumerate(rows):
                    Y[k, [position[n] for n in labelled[i]]] = 1
            else:
                Y = np.array([position[labelled[i][0]] for i, _ in rows])
            model = InstantModel.fit(X, Y, task=idx.task, labels=idx.labels)
            model.quality  # cross-validate now, in the worker, not in a caller  # noqa: B018
        with self._lock:
            idx.instant, idx.labelled = model, labelled
            idx.probs = model.predict_proba(idx.X) if model is not None and len(idx.X) else None
            idx.fitted_mark, idx.fitted_at = mark, time.monotonic()
            idx.labels_mark = mark
            idx.generation += 1

    # --- helpers -----------------------------------------------------------------------------------
    def _server(self, dataset: str, idx: _Index, *, active: dict | None | bool = False) -> str | None:
        """"instant", a fine-tuned version name, or None (no model yet): the better by macro-F1."""
        if active is False:
            active = self.models.active(dataset)
        fine_f1 = validation_macro_f1(active.get("metrics")) if active else None
        instant_f1 = idx.instant.quality.get("macro_f1") if idx.instant is not None else None
        if active and (instant_f1 is None or (fine_f1 is not None and fine_f1 >= instant_f1)):
            return str(active["version"])
        return "instant" if idx.instant is not None else None

    def _vector(self, idx: _Index, example_id: int | None, text: str | None, text_pair: str | None
                ) -> np.ndarray | None:
        """The embedding of an example (from the index) or of a typed text (computed now)."""
        if example_id is not None and text is None:
            with self._lock:
                row = idx.row.get(int(example_id))
                if row is not None:
                    return idx.X[row]
            with self.db.read() as s:
                ex = repo.get_example(s, repo.get_dataset(s, idx.dataset), int(example_id), include_deleted=True)
                text, text_pair = ex.text, ex.text_pair
        if not text or not text.strip():
            return None
        if len(text) > self.settings.max_text_chars or len(text_pair or "") > self.settings.max_text_chars:
            raise InvalidInputError(f"the text is longer than {self.settings.max_text_chars} characters "
                                    "(FTDEMO_MAX_TEXT_CHARS); shorten it")
        from ftdemo.assist.embedder import embed

        try:
            encoder = self._encoder(idx.model_path)
        except FtdemoError:
            return None
        pair = [text_pair or None] if idx.task.has_pair else None
        return embed(encoder, [text], pair)[0]

    def _instant_row(self, idx: _Index, row: int | None) -> dict[str, Any] | None:
        with self._lock:
            if row is None or idx.probs is None or row >= len(idx.probs):
                return None
            probs = idx.probs[row]
        from ftdemo.assist.instant import labels_of

        return Suggestion(labels_of(probs[None, :], idx.task, idx.labels)[0],
                          {lab: round(float(p), 6) for lab, p in zip(idx.labels, probs)}, "instant").to_dict()
