"""The embeddings of every live example, per dataset, and the one background thread that computes them.

Per dataset a `DatasetIndex` holds the embeddings of its live examples (ids + an (n, d) matrix) from one
encoder: the active fine-tuned version when there is one, else the base checkpoint. One daemon thread
per process (the "assist" worker) computes what the on-disk cache lacks, in chunks, so callers never wait
for an encoder: they use what exists. When the active version changes, its embeddings are built next to
the current index, which keeps serving until the new one is complete.

A fine-tuned version's embeddings have learned the labels of its training split, so they cannot judge
those labels: out-of-fold checks on them (the label-error suspects) would find the labels right because
the features encode them. While a version serves, `base_index` keeps a second index beside the serving
one, by the base checkpoint and of the labelled examples only (what those checks read); the worker fills it
after the serving one, so a new label costs one more short text to embed.

This module knows embeddings only. The instant model and the rankings made from an index are the assist
service's (services/assist.py): it owns an `EmbeddingIndexes`, hands it the refit to run when the labels
moved (the worker does that too, so a label never makes a caller wait for a fit), and shares its lock,
because the worker and the callers read and write the same index arrays.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftdemo.errors import FtdemoError, NotFoundError
from ftdemo.store import embeddings as q
from ftdemo.store import repo
from ftdemo.tasks import TaskType

log = logging.getLogger(__name__)

CHUNK = 256  # examples embedded per step: progress moves every second or so, and each step is one shard
CHECK_S = 1.0  # how often a caller's touch re-reads the marks (examples, labels, active version)
REFIT_S = 0.5  # the worker refits the instant model at most this often
MAX_ENCODERS = 3  # encoders kept loaded: the serving one, a new version's, the base checkpoint (base_index)


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


@dataclass
class DatasetIndex:
    """One dataset's embeddings by one encoder, the instant model on them, and rankings made from them.

    The embedding fields are this module's; `instant`, `labelled`, `fitted_*` and `rankings` are set by the
    assist service. `probs` follows both: recomputed here when rows arrive, there when the model changes."""

    dataset: str
    task: TaskType
    labels: tuple[str, ...]  # the active labels, in order
    label_names: dict[int, str]  # label id → name (active labels)
    model_path: str
    model_name: str  # what progress shows: a version name or the base checkpoint
    cache: Any  # EmbeddingCache
    version: str | None = None  # the fine-tuned version that embeds; None: the base checkpoint
    labelled_only: bool = False  # holds the labelled examples only (base_index)
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
    fitted_rows: dict[int, int] = field(default_factory=dict)  # example id → its row in the instant model's fit
    instant: Any = None  # InstantModel
    probs: np.ndarray | None = None  # instant probabilities of every row of X
    generation: int = 0  # bumps when X or the model change: rankings of older generations are stale
    rankings: dict[tuple[str, int], tuple[int, float, list[int]]] = field(default_factory=dict)
    checked_at: float = 0.0
    error: str | None = None

    def progress(self, running: bool) -> EmbeddingProgress:
        return EmbeddingProgress(len(self.ids), self.total, self.model_name, running, self.error)


class EmbeddingIndexes:
    """The serving index of every dataset touched in this process, the ones being built for a new encoder,
    the loaded encoders, and the worker thread that fills them. `refit(index)` is called by the worker after
    embedding when the index's labels moved since its last fit (at most every REFIT_S)."""

    def __init__(self, db: Any, settings: Any, models: Any, refit: Callable[[DatasetIndex], None]) -> None:
        self.db = db
        self.settings = settings
        self.models = models
        self._refit = refit
        self._indexes: dict[str, DatasetIndex] = {}
        self._building: dict[str, DatasetIndex] = {}  # a new encoder's index, until it is complete
        self._base: dict[str, DatasetIndex] = {}  # base_index while a fine-tuned version serves
        self._encoders: dict[str, Any] = {}
        self.lock = threading.RLock()  # guards the dicts and each index's arrays (the assist service takes it too)
        self._encoder_lock = threading.Lock()
        self._embed_lock = threading.Lock()
        self._wanted: set[str] = set()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._busy: str | None = None
        self.embedded_texts = 0  # how many texts this process has run through an encoder (tests, benchmarks)

    def __getitem__(self, dataset: str) -> DatasetIndex:
        """The serving index of a dataset already touched."""
        return self._indexes[dataset]

    def busy(self, dataset: str) -> bool:
        """Whether the worker is working on `dataset` right now."""
        return self._busy == dataset

    def touch(self, dataset: str, *, force: bool = False) -> DatasetIndex:
        """The dataset's serving index, its marks re-read at most every CHECK_S (always with force), and
        the worker woken when there is work."""
        with self.lock:
            idx = self._indexes.get(dataset)
        now = time.monotonic()
        if idx is not None and not force and now - idx.checked_at < CHECK_S:
            self._kick(dataset, idx)
            return idx
        key, path, name, version = self._encoder_choice(dataset)
        with self.lock:
            idx = self._indexes.get(dataset)
            if idx is None:
                idx = self._indexes[dataset] = self._new_index(dataset, key, path, name, version)
            if idx.cache.key != key:
                building = self._building.get(dataset)
                if building is None or building.cache.key != key:
                    self._building[dataset] = self._new_index(dataset, key, path, name, version)
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

    def fill(self, dataset: str, on_progress: Callable[[EmbeddingProgress], None] | None = None) -> None:
        """Embed every missing example of a touched dataset here, in the caller (the worker may share the
        chunks), and promote a new encoder's index once it is complete."""
        target = self._target(dataset)
        while target.missing:
            self._embed_step(target)
            if on_progress is not None:
                on_progress(target.progress(True))
        self._promote(dataset)
        base = self._synced_base(dataset)
        while base is not None and base.missing:
            self._embed_step(base)

    def base_index(self, dataset: str, *, wait: bool = False) -> DatasetIndex:
        """The dataset's index by the base checkpoint, whose embeddings never learned a label: the serving
        index when the base checkpoint serves, else one of the labelled examples kept beside it (see the
        module docstring). The worker fills what it lacks; `wait` fills it here, in the caller."""
        idx = self.touch(dataset)
        base = self._synced_base(dataset)
        if base is None:
            return idx
        while wait and base.missing:
            self._embed_step(base)
        self._kick(dataset, idx)
        return base

    def encoder(self, path: str) -> Any:
        """The loaded encoder of a model directory (the last MAX_ENCODERS used are kept)."""
        from ftdemo.assist.embedder import load_encoder

        with self._encoder_lock:
            if path not in self._encoders:
                while len(self._encoders) >= MAX_ENCODERS:
                    self._encoders.pop(next(iter(self._encoders)))
                self._encoders[path] = load_encoder(path, device=self.settings.serving_device)
            return self._encoders[path]

    def close(self) -> None:
        """Stop the worker (within its current chunk)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread.is_alive():
            thread.join(timeout=10)

    # --- state -------------------------------------------------------------------------------------
    def _encoder_choice(self, dataset: str) -> tuple[str, str, str, str | None]:
        """(cache key, model path, name shown, version or None) of the encoder that embeds `dataset` now."""
        from ftdemo.assist.cache import model_key

        active = self.models.active(dataset)
        if active is not None:
            return model_key(active["path"], dataset=dataset, version=active["version"]), active["path"], \
                active["version"], active["version"]
        return (*self._base_choice(), None)

    def _base_choice(self) -> tuple[str, str, str]:
        """(cache key, model path, name shown) of the base checkpoint."""
        from ftdemo.assist.cache import model_key

        base = self.settings.resolved_base_model()
        return model_key(base), base, self.settings.base_model_name()

    def _new_index(self, dataset: str, key: str, path: str, name: str, version: str | None, *,
                   labelled_only: bool = False) -> DatasetIndex:
        from ftdemo.assist.cache import EmbeddingCache

        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            active = [lab for lab in ds.labels if not lab.retired]
            return DatasetIndex(dataset, TaskType(ds.task), tuple(lab.name for lab in active),
                                {lab.id: lab.name for lab in active}, path, name,
                                EmbeddingCache(self.settings.data_dir / "embeddings", key), version, labelled_only)

    def _synced_base(self, dataset: str) -> DatasetIndex | None:
        """The base checkpoint's labelled-only index beside a fine-tuned version's serving one (made when
        missing, brought up to date); None while the base checkpoint serves."""
        with self.lock:
            idx = self._indexes.get(dataset)
            if idx is None or idx.version is None:
                return None
            key, path, name = self._base_choice()
            base = self._base.get(dataset)
            if base is None or base.cache.key != key:
                base = self._base[dataset] = self._new_index(dataset, key, path, name, None, labelled_only=True)
        self._sync(base)
        return base

    def _target(self, dataset: str) -> DatasetIndex:
        """The index the worker fills: a new encoder's one while it is built, else the serving one."""
        with self.lock:
            return self._building.get(dataset) or self._indexes[dataset]

    def _promote(self, dataset: str) -> None:
        with self.lock:
            building = self._building.get(dataset)
            if building is None or building.missing:
                return
            old = self._indexes.get(dataset)
            self._indexes[dataset] = self._building.pop(dataset)
            if building.version is None:
                self._base.pop(dataset, None)
            elif old is not None and old.version is None and dataset not in self._base:
                # the base checkpoint's index stays, as base_index, for the checks; of the labelled rows only
                old.labelled_only, old.examples_mark, old.missing = True, None, []  # base_index re-syncs it
                old.instant, old.probs, old.fitted_mark, old.fitted_rows = None, None, None, {}
                old.rankings.clear()
                self._base[dataset] = old
            log.info("embeddings of %r now from %s", dataset, building.model_name)

    def _sync(self, idx: DatasetIndex) -> None:
        """Bring the index in line with the live examples when their mark changed: rows from the cache,
        the rest listed as missing; rows of deleted examples dropped."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, idx.dataset)
            self._sync_labels(idx, [lab for lab in ds.labels if not lab.retired])
            lmark = q.labels_mark(s, ds)
            mark = (q.examples_mark(s, ds), lmark) if idx.labelled_only else q.examples_mark(s, ds)
            if mark == idx.examples_mark:
                idx.labels_mark = lmark
                return
            live = q.live_hashes(s, ds, labelled=idx.labelled_only)
        idx.cache.refresh()
        hashes = [h for _, h in live]
        found, vectors = idx.cache.get(hashes)
        ids = np.array([i for (i, _), f in zip(live, found) if f], dtype=np.int64)
        with self.lock:
            idx.ids, idx.X = ids, vectors
            idx.row = {int(i): r for r, i in enumerate(ids.tolist())}
            idx.total = len(live)
            idx.missing = [(i, h) for (i, h), f in zip(live, found) if not f]
            idx.examples_mark, idx.labels_mark = mark, lmark
            idx.probs = idx.instant.predict_proba(vectors) if idx.instant is not None and len(vectors) else None
            idx.generation += 1

    def _sync_labels(self, idx: DatasetIndex, active: list[Any]) -> None:
        """Follow the dataset's label set (a label added, renamed or retired since the index was made): the
        instant model's columns are the old labels', so it and everything made from it go, and the next
        refit learns the new set."""
        names, by_id = tuple(lab.name for lab in active), {lab.id: lab.name for lab in active}
        if names == idx.labels and by_id == idx.label_names:
            return
        with self.lock:
            idx.labels, idx.label_names = names, by_id
            idx.instant, idx.probs, idx.fitted_mark = None, None, None
            idx.rankings.clear()
            idx.generation += 1

    def _kick(self, dataset: str, idx: DatasetIndex) -> None:
        """Wake the worker when there is something to embed or the labels moved since the last fit."""
        target, base = self._target(dataset), self._base.get(dataset)
        if target.missing or (base is not None and base.missing) or idx.labels_mark != idx.fitted_mark:
            with self.lock:
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
            with self.lock:
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
                    base = self._synced_base(dataset)
                    while base is not None and base.missing and not self._stop.is_set():
                        self._embed_step(base)
                    idx = self._indexes[dataset]
                    if idx.labels_mark != idx.fitted_mark:
                        wait = REFIT_S - (time.monotonic() - idx.fitted_at)
                        if wait > 0 and self._stop.wait(wait):
                            return
                        self._refit(idx)
                except NotFoundError:  # the dataset was deleted meanwhile
                    with self.lock:
                        self._indexes.pop(dataset, None)
                        self._building.pop(dataset, None)
                        self._base.pop(dataset, None)
                except Exception as err:  # noqa: BLE001 - the worker must outlive one bad dataset; it is shown
                    log.warning("assist: embeddings of %r failed", dataset, exc_info=True)
                    with self.lock:
                        if dataset in self._indexes:
                            self._indexes[dataset].error = str(err)
                            self._indexes[dataset].missing = []
                finally:
                    self._busy = None

    def _embed_step(self, idx: DatasetIndex) -> None:
        """Embed the next CHUNK missing examples, store them in the cache and the index. One step at a time
        per process (the worker and a waiting caller would otherwise embed the same chunk twice)."""
        from ftdemo.assist.embedder import embed

        with self._embed_lock:
            with self.lock:
                chunk = idx.missing[:CHUNK]
            if not chunk:
                return
            try:
                encoder = self.encoder(idx.model_path)
            except FtdemoError as err:
                with self.lock:
                    idx.error, idx.missing = f"cannot embed with {idx.model_name}: {err}", []
                return
            with self.db.read() as s:
                contents = q.texts(s, repo.get_dataset(s, idx.dataset), [i for i, _ in chunk])
            present = [(i, h) for i, h in chunk if i in contents]
            vectors = embed(encoder, [contents[i][0] for i, _ in present],
                            [contents[i][1] for i, _ in present] if idx.task.has_pair else None)
            self.embedded_texts += len(present)
            idx.cache.add([h for _, h in present], vectors)
            with self.lock:
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
