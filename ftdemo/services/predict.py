"""Live predictions and explanations from a dataset's active (or a chosen) model version.

One Predictor per dataset serves the active version; when another version becomes active it is
swapped in on the next request without a restart (requests in flight finish on the old one).
Predictors for explicitly chosen versions (compare mode) live in a small LRU cache.

Explanations can take seconds of CPU each (Integrated Gradients most; the Predictor bounds one), so
one caller (a signed-in user, else a browser session) runs at most MAX_EXPLAIN_PER_CALLER at once.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Iterator
from typing import Any

from ftdemo.errors import BusyError, InvalidInputError
from ftdemo.services.base import Service
from ftdemo.services.models import ModelService

MAX_PINNED = 3  # non-active versions kept loaded for compare mode
MAX_EXPLAIN_PER_CALLER = 2  # e.g. the Predict tab and a script at once; more would only compete with each other


class CallerSlots:
    """At most `limit` calls at once per caller. One more is refused at once (BusyError), not queued:
    a queue here would hold a server thread per waiting request."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what
        self._running: Counter[str] = Counter()
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def slot(self, caller: str) -> Iterator[None]:
        with self._lock:
            if self._running[caller] >= self.limit:
                raise BusyError(f"you already have {self.limit} {self.what} running; wait for one to finish, "
                                "then try again")
            self._running[caller] += 1
        try:
            yield
        finally:
            with self._lock:
                self._running[caller] -= 1
                if not self._running[caller]:
                    del self._running[caller]

    def running(self) -> dict[str, int]:
        """Calls in progress per caller (for tests and diagnostics)."""
        with self._lock:
            return dict(self._running)

log = logging.getLogger(__name__)


class PredictService(Service):
    def __init__(self, db: Any, settings: Any, models: ModelService) -> None:
        super().__init__(db, settings)
        self.models = models
        self._active: dict[str, Any] = {}
        self._pinned: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()
        self.explaining = CallerSlots(MAX_EXPLAIN_PER_CALLER, "explanations")

    def predictor(self, dataset: str, version: str | None = None) -> Any:
        """The Predictor for `version`, or for the active version (hot-swapped when it changes)."""
        from ftdemo.serving import Predictor

        name, path = self.models.path(dataset, version)
        with self._lock:
            if version is None:
                current = self._active.get(dataset)
                if current is None:
                    current = self._active[dataset] = Predictor(path, device=self.settings.serving_device)
                    log.info("serving %s of %r", name, dataset)
                elif current.version != name:
                    current.swap(path)
                    log.info("serving %s of %r (swapped in without a restart)", name, dataset)
                return current
            key = (dataset, name)
            if key not in self._pinned:
                self._pinned[key] = Predictor(path, device=self.settings.serving_device)
                while len(self._pinned) > MAX_PINNED:
                    self._pinned.popitem(last=False)[1].close()
            self._pinned.move_to_end(key)
            return self._pinned[key]

    def _check_length(self, text: str, text_pair: str | None) -> None:
        """Refuse megabyte-sized inputs before they reach the tokenizer (the model reads at most
        max_length tokens anyway; texts up to FTDEMO_MAX_TEXT_CHARS are truncated with a notice)."""
        limit = self.settings.max_text_chars
        longest = max(len(text or ""), len(text_pair or ""))
        if longest > limit:
            raise InvalidInputError(f"the text is {longest:,} characters; send at most {limit:,} "
                                    "(FTDEMO_MAX_TEXT_CHARS) - the model only reads its first few hundred words anyway")

    def predict(self, dataset: str, text: str, text_pair: str | None = None, *,
                version: str | None = None) -> dict[str, Any]:
        self._check_length(text, text_pair)
        return self.predictor(dataset, version).predict(text, text_pair or None).to_dict()

    def explain(self, dataset: str, text: str, text_pair: str | None = None, *, method: str = "cls",
                version: str | None = None, caller: str = "", **options: Any) -> dict[str, Any]:
        """One explanation view (see Predictor.explain for the options); `caller` names whose request it
        is, for the per-caller limit."""
        return self.explanation(dataset, text, text_pair, method=method, version=version, caller=caller,
                                **options).to_dict()

    def explanation(self, dataset: str, text: str, text_pair: str | None = None, *, method: str = "cls",
                    version: str | None = None, caller: str = "", **options: Any) -> Any:
        """Like explain() but the Explanation object (the UI renders it)."""
        self._check_length(text, text_pair)
        with self.explaining.slot(caller):
            return self.predictor(dataset, version).explain(text, text_pair or None, method=method, **options)

    def loaded(self) -> list[str]:
        """The model versions in memory, as "dataset/version" (the active ones, then pinned ones)."""
        with self._lock:
            return [f"{d}/{p.version}" for d, p in self._active.items()] + [f"{d}/{v}" for d, v in self._pinned]

    def shape(self, dataset: str, version: str | None = None) -> Any:
        """Layers, heads and labels of `version` (default: the active one), read from its files: what the
        Predict tab needs to draw its controls, without waiting for the model to load."""
        from ftdemo.models.registry import version_shape

        return version_shape(self.models.path(dataset, version)[1])

    def warm(self, dataset: str) -> None:
        """Load (or swap in) the active version in the background, so the first prediction after a run
        does not wait for it. Errors are left for the first real request to report."""
        def load() -> None:
            try:
                self.predictor(dataset)
            except Exception:  # noqa: BLE001 - a failed warm-up is only a missed speed-up
                log.info("could not preload the model of %r", dataset, exc_info=True)

        threading.Thread(target=load, name=f"warm-{dataset}", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            for p in list(self._active.values()) + list(self._pinned.values()):
                p.close()
            self._active.clear()
            self._pinned.clear()
