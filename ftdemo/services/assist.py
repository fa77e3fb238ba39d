"""The model in the loop: the instant model, suggestions, rankings and neighbours, over the embeddings.

The embeddings themselves (one index per dataset, the worker thread that computes them, a new encoder's
index built beside the serving one) are services/embedding_index.py's; this service owns those indexes
and adds what is made from them. The instant model is refit on the labelled examples' embeddings when
labels changed, by the embeddings' worker (at most every embedding_index.REFIT_S), so callers never wait
for it: they use what exists, and get None (suggest) or a shuffled queue (orders) until something does.
`wait=True` on `ensure_embeddings` does the work in the caller instead (the CLI, tests).

Honest scores on a fine-tune's embeddings: once a fine-tuned version embeds the examples, its features
have learned the labels of its training split, and an instant model cross-validated on them scored 0.75
macro-F1 on the sentiment demo's 180 labels (0.58 on the base checkpoint's, 0.65 on the 33 labels the
fine-tune never learned). So its quality is then measured on the labels that version never learned
(validation, test, audit, labelled since: `held_out`), by an instant model fitted on the rest, which is
also what the fine-tuned version's own validation score rests on; and the out-of-fold checks
(`labelled_vectors`) read the base checkpoint's embeddings.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ftdemo.errors import FtdemoError, InvalidInputError, NotFoundError
from ftdemo.models.guard import validation_macro_f1
from ftdemo.services.base import Service
from ftdemo.services.embedding_index import DatasetIndex, EmbeddingIndexes, EmbeddingProgress
from ftdemo.store import embeddings as q
from ftdemo.store import repo

RERANK_S = 2.0  # a ranking older than this is recomputed when the embeddings or the model changed
RANK_K = 500  # ranked candidates kept per order; the SQL candidates filter them
DIVERSE_MIN_K, DIVERSE_MAX_K = 50, 128  # clusters: the labelled count + DIVERSE_MIN_K, within these bounds


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


@dataclass(frozen=True)
class LabelledVectors:
    """Labelled examples with embeddings: their ids, vectors (n, d), label names and the dataset's labels
    and task; `labelled` counts every labelled example, embedded or not yet; `encoder` names the model."""

    ids: list[int]
    X: np.ndarray
    given: list[tuple[str, ...]]
    labels: tuple[str, ...]
    task: Any
    labelled: int
    encoder: str

    def targets(self) -> np.ndarray:
        """The labels as models take them: (n,) indices, or (n, L) 0/1 for multi-label."""
        index = {lab: j for j, lab in enumerate(self.labels)}
        if self.task.is_multi_label:
            out = np.zeros((len(self.ids), len(self.labels)), dtype=np.int64)
            for r, names in enumerate(self.given):
                out[r, [index[n] for n in names if n in index]] = 1
            return out
        return np.array([index[names[0]] for names in self.given], dtype=np.int64)


def ranking_length(strategy: str, n_labelled: int, *, has_model: bool = True) -> int:
    """How long a ranking the queue asks `strategies.rank` for: RANK_K candidates (the SQL candidates filter
    them), or for "diverse" (and any order before there is an instant model) one cluster per labelled
    example plus DIVERSE_MIN_K, within bounds, so that uncovered clusters lead the ranking."""
    if strategy != "diverse" and has_model:
        return RANK_K
    return min(DIVERSE_MAX_K, max(DIVERSE_MIN_K, n_labelled + DIVERSE_MIN_K))


class AssistService(Service):
    """Suggestions, rankings and similar examples over the embeddings it owns (see the module docstring)."""

    def __init__(self, db: Any, settings: Any, models: Any, predict: Any) -> None:
        super().__init__(db, settings)
        self.models = models
        self.predict = predict
        self._indexes = EmbeddingIndexes(db, settings, models, refit=self._refit)
        self._lock = self._indexes.lock  # one lock: the embeddings' worker and this service share the indexes
        self._trained: dict[tuple[str, str], frozenset[int] | None] = {}  # (dataset, version) → trained_ids

    @property
    def embedded_texts(self) -> int:
        """How many texts this process has run through an encoder (tests, benchmarks)."""
        return self._indexes.embedded_texts

    # --- public ------------------------------------------------------------------------------------
    def ensure_embeddings(self, dataset: str, *, wait: bool = False,
                          on_progress: Callable[[EmbeddingProgress], None] | None = None) -> EmbeddingProgress:
        """Embeddings of every live example of `dataset`: start computing what is missing (in the
        background, or here with wait=True, which also refits the instant model) and say how far it is."""
        idx = self._indexes.touch(dataset, force=True)
        if wait:
            self._indexes.fill(dataset, on_progress)
            self._refit(self._indexes[dataset], force=True)
            idx = self._indexes[dataset]
        return idx.progress(running=self._indexes.busy(dataset) or bool(idx.missing))

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
        idx = self._indexes.touch(dataset)
        if idx.instant is None and not idx.fitted_at and len(idx.ids):
            self._refit(idx, score=False)  # the first call of a process: fit now rather than suggest nothing
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
        probs = self._out_of_fold(idx, example_id) if text is None else None
        if probs is None:
            vector = self._vector(idx, example_id, text, text_pair)
            if vector is None:
                return None
            probs = idx.instant.predict_proba(vector[None, :])[0]
        return self._suggestion(idx, probs)

    def similar(self, dataset: str, *, example_id: int | None = None, text: str | None = None,
                text_pair: str | None = None, limit: int = 20, text_filter: str = "") -> list[dict[str, Any]]:
        """Nearest live examples by cosine similarity to an example or a typed text (the example itself left
        out), with their current labels and suggestions; `text_filter` keeps those whose text contains it."""
        from ftdemo.assist.similar import top_k

        if example_id is None and not (isinstance(text, str) and text.strip()):
            raise InvalidInputError("give an example id or a text to find similar examples for")
        limit = max(1, min(int(limit), 500))
        idx = self._indexes.touch(dataset)
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
        idx = self._indexes.touch(dataset)
        instant = dict(idx.instant.quality) if idx.instant is not None and idx.instant.scored else None
        active = self.models.active(dataset)
        fine = None
        if active is not None:
            val = (active.get("metrics") or {}).get("validation") or {}
            fine = {"version": active["version"], "macro_f1": validation_macro_f1(active.get("metrics")),
                    "accuracy": val.get("accuracy")}
        return {"instant": instant, "finetuned": fine, "serving": self._server(dataset, idx, active=active),
                "labelled": len(idx.labelled), "embeddings": idx.progress(self._indexes.busy(dataset)).to_dict()}

    def labelled_vectors(self, dataset: str, *, wait: bool = False) -> LabelledVectors:
        """The current labels of the labelled examples that have embeddings, with those embeddings (what
        out-of-fold models, e.g. the label-error suspects, are fitted on), after bringing the index up to date.
        The embeddings are the base checkpoint's, also while a fine-tuned version serves: its own learned
        the labels being checked (module docstring). `wait`: embed the labelled examples still missing first."""
        idx = self._indexes.touch(dataset)
        self._refit(idx)
        base = self._indexes.base_index(dataset, wait=wait)
        with self._lock:
            labelled = dict(idx.labelled)
            rows = [(i, base.row[i]) for i in sorted(labelled) if i in base.row]
            X = base.X[[r for _, r in rows]] if rows else np.zeros((0, base.X.shape[1] if base.X.ndim == 2 else 0),
                                                                    dtype=np.float32)
        return LabelledVectors([i for i, _ in rows], X, [tuple(labelled[i]) for i, _ in rows], idx.labels, idx.task,
                               len(labelled), base.model_name)

    def ranked_ids(self, dataset: str, strategy: str, *, seed: int = 0) -> list[int] | None:
        """Example ids best first by `strategy` (uncertain, diverse, default, random) over the embedded
        unlabelled pool; None when nothing is embedded yet. Cached: recomputed when the embeddings or
        the model changed and the last ranking is older than RERANK_S."""
        from ftdemo.assist import strategies

        idx = self._indexes.touch(dataset)
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
        k = ranking_length(strategy, len(labelled), has_model=probs is not None)
        order = strategies.rank(strategy, X_pool=X_pool, probs_pool=probs, X_labelled=X_lab, label_counts=counts,
                                task=idx.task, k=k, seed=int(seed))
        ranked = [int(ids[pool_rows[i]]) for i in order]
        with self._lock:
            idx.rankings[key] = (generation, time.monotonic(), ranked)
        return ranked

    def close(self) -> None:
        """Stop the embeddings' worker."""
        self._indexes.close()

    # --- the instant model -------------------------------------------------------------------------
    def _refit(self, idx: DatasetIndex, *, force: bool = False, score: bool = True) -> None:
        """Fit the instant model on the labelled examples that have embeddings, and score it (cross-validated
        or held out). `score=False`, for a caller that cannot wait: fit only, and leave the labels marked as
        not fitted, so that the worker fits and scores again."""
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
            model = InstantModel.fit(X, Y, task=idx.task, labels=idx.labels, held_out=self._held_out(idx, rows))
            if score:
                model.quality  # score it now, in the worker, not in a caller  # noqa: B018
        with self._lock:
            idx.instant, idx.labelled = model, labelled
            idx.fitted_rows = {i: k for k, (i, _) in enumerate(rows)}
            idx.probs = model.predict_proba(idx.X) if model is not None and len(idx.X) else None
            if score:
                idx.fitted_mark = mark
            idx.fitted_at, idx.labels_mark = time.monotonic(), mark
            idx.generation += 1

    def _held_out(self, idx: DatasetIndex, rows: list[tuple[int, int]]) -> np.ndarray | None:
        """For an index embedded by a fine-tuned version, which of the labelled rows (id, row) that version
        never learned (None on the base checkpoint's index: cross-validate). Where no run says what the
        version learned, none is held out, and the instant model goes unscored rather than flattered."""
        if idx.version is None:
            return None
        key = (idx.dataset, idx.version)
        if key not in self._trained:
            try:
                self._trained[key] = self.models.trained_ids(idx.dataset, idx.version)
            except NotFoundError:  # the version was deleted meanwhile: the next touch moves the index
                self._trained[key] = None
        trained = self._trained[key]
        return np.array([trained is not None and i not in trained for i, _ in rows], dtype=bool)

    # --- helpers -----------------------------------------------------------------------------------
    def _server(self, dataset: str, idx: DatasetIndex, *, active: dict | None | bool = False) -> str | None:
        """"instant", a fine-tuned version name, or None (no model yet): the better by macro-F1."""
        if active is False:
            active = self.models.active(dataset)
        fine_f1 = validation_macro_f1(active.get("metrics")) if active else None
        scored = idx.instant is not None and idx.instant.scored  # an unscored one cannot outrank a version yet
        instant_f1 = idx.instant.quality.get("macro_f1") if scored else None
        if active and (instant_f1 is None or (fine_f1 is not None and fine_f1 >= instant_f1)):
            return str(active["version"])
        return "instant" if idx.instant is not None else None

    def _vector(self, idx: DatasetIndex, example_id: int | None, text: str | None, text_pair: str | None
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
            encoder = self._indexes.encoder(idx.model_path)
        except FtdemoError:
            return None
        pair = [text_pair or None] if idx.task.has_pair else None
        return embed(encoder, [text], pair)[0]

    def _instant_row(self, idx: DatasetIndex, row: int | None) -> dict[str, Any] | None:
        """The instant model's suggestion for row `row` of the index (out of fold where it learned the label)."""
        with self._lock:
            if row is None or idx.probs is None or row >= len(idx.probs):
                return None
            probs = idx.probs[row]
            example_id = int(idx.ids[row])
        oof = self._out_of_fold(idx, example_id)
        return self._suggestion(idx, probs if oof is None else oof).to_dict()

    def _out_of_fold(self, idx: DatasetIndex, example_id: int | None) -> np.ndarray | None:
        """For an example whose label the instant model was fitted on, its probabilities from a model that
        never saw that label (InstantModel.out_of_fold); None for other examples. Without this, an example
        whose label was just undone came back with that very label suggested, at the model's full confidence,
        until the next refit."""
        with self._lock:
            model, row = idx.instant, idx.fitted_rows.get(int(example_id)) if example_id is not None else None
        return model.out_of_fold(row) if model is not None and row is not None else None

    @staticmethod
    def _suggestion(idx: DatasetIndex, probs: np.ndarray) -> Suggestion:
        from ftdemo.assist.instant import labels_of

        return Suggestion(labels_of(probs[None, :], idx.task, idx.labels)[0],
                          {lab: round(float(p), 6) for lab, p in zip(idx.labels, probs)}, "instant")