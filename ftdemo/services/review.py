"""Label-error review: the suspects list (out-of-fold models + confident learning), and the reviewer's
relabel / confirm / undo, recorded append-only.

The out-of-fold models are the instant model on the embeddings and the word model on the texts (seconds),
and, once a fine-tune check of the dataset succeeded (TrainingService.check: k fine-tunes, minutes), the
newest check's fine-tunes for the examples it covered; their probabilities are averaged
(assist/suspects.combine). Suspects are recomputed when the labels, the embeddings or the newest check
change (a few seconds for thousands of labels; kept per dataset until then). A confirmed example leaves
the list until its label changes. A relabel is an ordinary annotation by the reviewer with origin
"review" (so history, consensus and training see it) plus a review row pointing at it; undo takes back
the reviewer's last confirm or relabel.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ftdemo.errors import InvalidInputError, NotFoundError
from ftdemo.services.annotate import AnnotationService, ExampleView
from ftdemo.services.base import Actor, Service
from ftdemo.store import embeddings as q
from ftdemo.store import repo, reviews
from ftdemo.store import runs as run_repo

ORIGIN = "review"  # the annotations a relabel makes
DEFAULT_LIMIT = 50
MIN_LABELS = 10  # fewer labelled examples than this: nothing to cross-validate


@dataclass
class SuspectView:
    """One suspected label error as the faces show it."""

    id: int
    text: str
    text_pair: str | None
    given: list[str]
    suggested: list[str]
    probability: float  # the out-of-fold model's probability of its suggestion
    confidence: float  # how sure the suspicion is (1 − the given label's quality score)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "text_pair": self.text_pair, "given": self.given,
                "suggested": self.suggested, "probability": self.probability, "confidence": self.confidence,
                "history": self.history}


@dataclass(frozen=True)
class SuspectList:
    """The suspects (surest first) and what they rest on: labelled examples, how many had embeddings yet,
    the encoder and the number of folds."""

    suspects: list[SuspectView]
    labelled: int
    checked: int
    encoder: str
    folds: int
    note: str = ""
    models: tuple[str, ...] = ()  # the out-of-fold models averaged, in words
    check_run: int | None = None  # the fine-tune check used, if any

    def to_dict(self) -> dict[str, Any]:
        return {"suspects": [s.to_dict() for s in self.suspects], "labelled": self.labelled, "checked": self.checked,
                "encoder": self.encoder, "folds": self.folds, "note": self.note, "models": list(self.models),
                "check_run": self.check_run}


@dataclass(frozen=True)
class ReviewResult:
    """What a review action did, in words, and the example after it."""

    message: str
    example: ExampleView


class ReviewService(Service):
    def __init__(self, db: Any, settings: Any, assist: Any, annotate: AnnotationService) -> None:
        super().__init__(db, settings)
        self.assist = assist
        self.annotate = annotate
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[tuple, Any]] = {}  # dataset -> (marks, ranked suspects)

    def suspects(self, dataset: str, *, limit: int | None = DEFAULT_LIMIT, wait: bool = False) -> SuspectList:
        """Probably mislabelled examples, surest first, leaving out those a reviewer confirmed with their
        current label. `wait`: compute every missing embedding first (CLI, API); otherwise the examples
        embedded so far are checked and `checked` < `labelled` says so."""
        if limit is not None and limit < 1:
            raise InvalidInputError("limit must be at least 1")
        self.assist.ensure_embeddings(dataset, wait=wait)
        vec = self.assist.labelled_vectors(dataset, wait=wait)
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            check = run_repo.latest_check(s, ds)
            check_id = check.id if check is not None else None
            marks = (q.labels_mark(s, ds), len(vec.ids), vec.encoder, tuple(vec.labels), check_id)
            confirmed = reviews.confirmed(s, ds)
        if len(vec.ids) < MIN_LABELS:
            return SuspectList([], vec.labelled, len(vec.ids), vec.encoder, 0,
                               f"{len(vec.ids)} labelled examples have embeddings so far; suspects need at least "
                               f"{MIN_LABELS}")
        with self._lock:
            cached = self._cache.get(dataset)
        if cached is not None and cached[0] == marks:
            found, folds, models, note, used = cached[1]
        else:
            found, folds, models, note, used = self._find(dataset, vec, check_id)
            with self._lock:
                self._cache[dataset] = (marks, (found, folds, models, note, used))
        if not folds:
            note = "too few labels per class for out-of-fold checks (each label needs at least 2)"
        kept = [x for x in found if confirmed.get(vec.ids[x.row]) != tuple(sorted(vec.given[x.row]))]
        kept = kept[:limit] if limit is not None else kept
        views = self._views(dataset, [(vec.ids[x.row], x) for x in kept])
        return SuspectList(views, vec.labelled, len(vec.ids), vec.encoder, folds, note, models, used)

    def _find(self, dataset: str, vec: Any, check_id: int | None
              ) -> tuple[list[Any], int, tuple[str, ...], str, int | None]:
        """Out-of-fold probabilities of the instant model (embeddings), the word model (texts) and the newest
        fine-tune check (`check_id`), averaged, then confident learning: (suspects, folds, the models in
        words, a note, the check used or None); ([], 0, (), "", None) when too few labels per class to fold."""
        from ftdemo.assist import instant, suspects, words

        Y = vec.targets()
        emb, folds = instant.out_of_fold_probabilities(vec.X, Y, task=vec.task, labels=vec.labels,
                                                       C=suspects.SUSPECTS_C)
        if emb is None:
            return [], 0, (), "", None
        with self.db.read() as s:
            texts = q.texts(s, repo.get_dataset(s, dataset), vec.ids)
        parts, models = [emb], ["instant model (embeddings)"]
        lexical, _ = words.out_of_fold_probabilities([words.joined(*texts.get(i, ("", None))) for i in vec.ids], Y,
                                                     task=vec.task, labels=vec.labels)
        if lexical is not None:
            parts.append(lexical)
            models.append("word model (TF-IDF of words and word pairs)")
        checked, note = self._check_rows(dataset, vec, check_id)
        if checked is not None:
            parts.append(checked)
            covered = int((~np.isnan(checked[:, 0])).sum())
            models.append(f"fine-tune check (run {check_id}: {covered} of {len(vec.ids)} examples)")
        probs = suspects.combine(parts)
        used = check_id if checked is not None else None
        return suspects.find_suspects(Y, probs, task=vec.task, labels=vec.labels), folds, tuple(models), note, used

    def _check_rows(self, dataset: str, vec: Any, check_id: int | None) -> tuple[np.ndarray | None, str]:
        """The check's probabilities for vec's rows (NaN rows for examples it did not cover), or None and why."""
        from ftdemo.models.checks import CheckStore

        if check_id is None:
            return None, ""
        check = CheckStore(self.settings.models_dir).load(dataset, check_id)
        if check is None:
            return None, f"the result of fine-tune check run {check_id} is gone from the models folder; run a check again"
        if list(check.labels) != list(vec.labels):
            return None, (f"the labels changed since fine-tune check run {check_id} ({', '.join(check.labels)}); "
                          "run a check again to use fine-tunes")
        where = {int(i): r for r, i in enumerate(check.ids.tolist())}
        out = np.full((len(vec.ids), len(vec.labels)), np.nan)
        rows = [(r, where[i]) for r, i in enumerate(vec.ids) if i in where]
        if not rows:
            return None, ""
        out[[r for r, _ in rows]] = check.probabilities[[c for _, c in rows]]
        return out, ""

    def _views(self, dataset: str, rows: list[tuple[int, Any]]) -> list[SuspectView]:
        out = []
        for example_id, x in rows:
            try:
                view = self.annotate.get(dataset, example_id)
            except NotFoundError:
                continue
            out.append(SuspectView(example_id, view.text, view.text_pair, list(x.given), list(x.suggested),
                                   x.probability, x.confidence, view.history))
        return out

    # --- the reviewer's actions -----------------------------------------------------------------
    def confirm(self, dataset: str, example_id: int, *, actor: Actor) -> ReviewResult:
        """The example's current label is right: it leaves the suspects list until its label changes."""
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id))
            current = self.annotate.get(dataset, ex.id, with_history=False).labels
            if not current:
                raise InvalidInputError(f"example #{ex.id} has no label to confirm; label it in the Label tab")
            reviews.append_review(s, ds, ex.id, actor.name, "confirm", current)
        view = self.annotate.get(dataset, int(example_id))
        return ReviewResult(f"#{example_id}: {', '.join(current)} confirmed", view)

    def relabel(self, dataset: str, example_id: int, labels: list[str] | str, *, actor: Actor) -> ReviewResult:
        """Give the example other labels: an annotation by the reviewer (origin "review"), marked by a review row."""
        from ftdemo.services.annotate import label_names

        before = self.annotate.get(dataset, int(example_id), with_history=False).labels
        if before and sorted(label_names(labels)) == sorted(before):
            return self.confirm(dataset, example_id, actor=actor)  # the label it has: that is a confirmation
        view = self.annotate.label(dataset, int(example_id), labels, actor=actor, origin=ORIGIN)
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            mine = repo.current_state(s, int(example_id), actor.name)
            reviews.append_review(s, ds, int(example_id), actor.name, "relabel", view.labels,
                                  annotation_id=mine.id if mine is not None else None)
        was = ", ".join(before) or "no label"
        return ReviewResult(f"#{example_id}: {was} → {', '.join(view.labels)}", view)

    def undo(self, dataset: str, *, actor: Actor) -> ReviewResult | None:
        """Take back the actor's last confirm or relabel (None when there is nothing to undo)."""
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            last = reviews.last_review(s, ds, actor.name)
            if last is None:
                return None
            reviews.append_review(s, ds, last.example_id, actor.name, "undo", last.labels, reverts_id=last.id)
            verdict, example_id = last.verdict, last.example_id
        if verdict == "relabel":
            self.annotate.undo(dataset, actor=actor, origin=ORIGIN)
        view = self.annotate.get(dataset, example_id)
        what = "confirmation" if verdict == "confirm" else "relabel"
        return ReviewResult(f"#{example_id}: {what} undone; its label is {', '.join(view.labels) or 'none'}", view)
