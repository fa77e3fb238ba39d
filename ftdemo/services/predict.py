"""Live predictions and explanations from a dataset's active (or a chosen) model version.

One Predictor per dataset serves the active version; when another version becomes active it is
swapped in on the next request without a restart (requests in flight finish on the old one).
Predictors for explicitly chosen versions (compare mode) live in a small LRU cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from ftdemo.errors import InvalidInputError
from ftdemo.services.base import Service
from ftdemo.services.models import ModelService

MAX_PINNED = 3  # non-active versions kept loaded for compare mode


class PredictService(Service):
    def __init__(self, db: Any, settings: Any, models: ModelService) -> None:
        super().__init__(db, settings)
        self.models = models
        self._active: dict[str, Any] = {}
        self._pinned: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._lock = threading.Lock()

    def predictor(self, dataset: str, version: str | None = None) -> Any:
        """The Predictor for `version`, or for the active version (hot-swapped when it changes)."""
        from ftdemo.serving import Predictor

        name, path = self.models.path(dataset, version)
        with self._lock:
            if version is None:
                current = self._active.get(dataset)
                if current is None:
                    current = self._active[dataset] = Predictor(path)
                elif current.version != name:
                    current.swap(path)
                return current
            key = (dataset, name)
            if key not in self._pinned:
                self._pinned[key] = Predictor(path)
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
                version: str | None = None, **options: Any) -> dict[str, Any]:
        """One explanation view (see Predictor.explain for the options)."""
        self._check_length(text, text_pair)
        expl = self.predictor(dataset, version).explain(text, text_pair or None, method=method, **options)
        return expl.to_dict()

    def explanation(self, dataset: str, text: str, text_pair: str | None = None, *, method: str = "cls",
                    version: str | None = None, **options: Any) -> Any:
        """Like explain() but the Explanation object (the UI renders it)."""
        self._check_length(text, text_pair)
        return self.predictor(dataset, version).explain(text, text_pair or None, method=method, **options)

    def close(self) -> None:
        with self._lock:
            for p in list(self._active.values()) + list(self._pinned.values()):
                p.close()
            self._active.clear()
            self._pinned.clear()
