"""Labelling: the queue (with leases), label/skip/undo, bulk labelling, adding, editing and browsing examples."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftdemo.errors import InvalidInputError
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.services.queue import QueueService
from ftdemo.settings import Settings
from ftdemo.store import Database, leases, repo
from ftdemo.store.consensus import UNLABELLED
from ftdemo.store.schema import Dataset, Example
from ftdemo.tasks import LabelledText, TaskType, check_labels_for_task, normalize_text

log = logging.getLogger(__name__)

MAX_BULK = 10_000  # examples one bulk action may label: one write transaction of a few seconds at most
MAX_MODEL_NAME = 64  # annotations.suggestion_model


@dataclass
class ExampleView:
    id: int
    text: str
    text_pair: str | None
    labels: list[str]  # current (consensus) labels; [] when unlabelled
    annotators: int = 0
    agreement: float = 1.0
    source: str = ""
    deleted: bool = False
    history: list[dict[str, Any]] = field(default_factory=list)
    suggestion: dict[str, Any] | None = None  # the model's proposal (Suggestion.to_dict), when asked for

    def to_dict(self, *, full: bool = False) -> dict[str, Any]:
        if full:
            return asdict(self)
        return {"id": self.id, "text": self.text, "text_pair": self.text_pair, "labels": self.labels,
                "suggestion": self.suggestion}


def _views(s: Session, ds: Dataset, rows: list[Example], *, with_history: bool = False) -> list[ExampleView]:
    ids = [r.id for r in rows]
    current = repo.current_labels(s, ds, ids)
    hist = repo.history(s, ds, ids) if with_history else {}
    out = []
    for r in rows:
        c = current.get(r.id, UNLABELLED)
        out.append(ExampleView(r.id, r.text, r.text_pair, list(c.labels), c.annotators, round(c.agreement, 4),
                               r.source, r.deleted_at is not None, hist.get(r.id, [])))
    return out


@dataclass(frozen=True)
class Undone:
    """What an undo did: the example as it is now, the action undone and the state put back (in words)."""

    example: ExampleView
    action: str  # e.g. "label “pos”", "skip", "label “pos” on 40 examples"
    restored: str  # e.g. "label “neg”", "no label of yours"
    examples: int = 1  # how many examples it put back (a bulk action: all of its examples, in one step)
    example_ids: tuple[int, ...] = ()  # which (a bulk action; a single one: example.id)
    left: int = 0  # a bulk action's examples left as they are: the annotator changed them since
    bulk: bool = False  # a bulk action (label_many) was undone

    def describe(self) -> str:
        """'undone: your label “pos” on #12 (back to no label of yours)', or for a bulk action
        'undone: your label “pos” on 3 examples (#4, #9, #12; back to the labels each had before)'."""
        if not self.bulk:
            return f"undone: your {self.action} on #{self.example.id} (back to {self.restored})"
        shown = ", ".join(f"#{i}" for i in self.example_ids[:SHOWN_IDS]) + (
            ", …" if len(self.example_ids) > SHOWN_IDS else "")
        text = f"undone: your {self.action} ({shown}; back to {self.restored})"
        if self.left:
            text += (f"; {self.left} you changed since {'was' if self.left == 1 else 'were'} left as "
                     f"{'it is' if self.left == 1 else 'they are'}")
        return text


SHOWN_IDS = 8  # example ids an undo message lists


@dataclass(frozen=True)
class BulkResult:
    """What one bulk label action did: `labelled` rows written (all tagged `batch`; undo reverts them in one
    step), `unchanged` examples that already carried exactly these labels of the actor, and the ids that
    were not labelled: `missing` (no such example in the dataset) and `deleted` ones."""

    batch: str | None  # None when nothing was written
    labels: list[str]
    labelled: int
    unchanged: int
    missing: list[int] = field(default_factory=list)
    deleted: list[int] = field(default_factory=list)

    @property
    def message(self) -> str:
        parts = [f"labelled {self.labelled} example{'s' * (self.labelled != 1)} {', '.join(self.labels)}"]
        if self.unchanged:
            parts.append(f"{self.unchanged} already had {'these labels' if len(self.labels) > 1 else 'this label'}")
        if self.missing:
            parts.append(f"{len(self.missing)} not in the dataset (ids {_ids(self.missing)})")
        if self.deleted:
            parts.append(f"{len(self.deleted)} deleted, left alone (ids {_ids(self.deleted)})")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "message": self.message}


def _ids(ids: list[int], shown: int = 10) -> str:
    return ", ".join(map(str, ids[:shown])) + (f" and {len(ids) - shown} more" if len(ids) > shown else "")


def label_names(labels: list[str] | str) -> list[str]:
    """Label names as given: a list, or "a,b" (the API's and the CLI's form); blanks dropped."""
    names = labels.split(",") if isinstance(labels, str) else list(labels)
    return [n.strip() for n in names if n.strip()]


def parse_suggestion(suggestion: Any) -> repo.Shown | None:
    """The suggestion a face showed, as recorded with the annotation: {"labels": [...], "model": "...",
    "probability": ...} (or a Suggestion's to_dict(), whose "label" also names a single one); None: none shown."""
    if suggestion is None:
        return None
    example = '{"labels": ["positive"], "model": "instant", "probability": 0.9}'
    if not isinstance(suggestion, dict):
        raise InvalidInputError(f"suggestion must be a JSON object such as {example}, or null")
    labels = suggestion.get("labels", [suggestion["label"]] if isinstance(suggestion.get("label"), str) else None)
    if not isinstance(labels, (list, tuple)) or not all(isinstance(x, str) and 0 < len(x) <= 64 for x in labels) \
            or len(labels) > 100:
        raise InvalidInputError(f"a suggestion's labels must be a list of label names, as in {example}")
    model = suggestion.get("model", "")
    if not isinstance(model, str) or len(model) > MAX_MODEL_NAME:
        raise InvalidInputError(f"a suggestion's model must be the name of the model that made it (at most "
                                f"{MAX_MODEL_NAME} characters), e.g. \"instant\" or \"v0003\"")
    return repo.Shown(tuple(dict.fromkeys(labels)), model)


def _describe(kind: str, labels: list[str]) -> str:
    if kind == "label":
        return "label " + ", ".join(f"“{name}”" for name in labels)
    return "skip" if kind == "skip" else "withdrawn label"


class AnnotationService(Service):
    def __init__(self, db: Database, settings: Settings, queue: QueueService) -> None:
        super().__init__(db, settings)
        self.queue = queue
        # called with the dataset's name after each write that added labels (Services wires the retraining
        # trigger here, so this module needs no training import); an error in one is logged, never raised
        self.listeners: list[Callable[[str], None]] = []

    def _labelled(self, dataset: str) -> None:
        for listener in self.listeners:
            try:
                listener(dataset)
            except Exception:  # the label is saved; what follows it must not turn the click into an error
                log.exception("after new labels in %r, %s failed", dataset, getattr(listener, "__qualname__", listener))

    # --- queue ---------------------------------------------------------------------------------
    def next(self, dataset: str, actor: Actor, *, order: str = "in_order", seed: int = 0,
             exclude: list[int] | None = None, overlap: bool = False, suggest: bool = True) -> ExampleView | None:
        """The next example for this annotator, or None when the queue is empty; with the model's suggestion
        unless `suggest` is off (a gold-standard set must not be anchored by the model).

        It is leased to them for FTDEMO_LEASE_S seconds: other annotators are not handed it until they label
        or skip it, ask for another, or the lease runs out. `overlap`: examples others hold may be handed out
        too (several annotators on the same examples, for agreement). One write transaction: the database's
        write lock serves two annotators asking at once one after the other, so they never get the same one
        (a model order's ranking is brought up to date before it, outside the lock)."""
        self.queue.prepare(dataset, order, seed=seed)
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ids = self.queue.next_ids(s, ds, actor, order=order, seed=seed, limit=1, exclude=exclude or (),
                                      overlap=overlap)
            leases.take(s, ds, actor.name, ids[0] if ids else None, self.settings.lease_s)
            view = _views(s, ds, [repo.get_example(s, ds, ids[0])])[0] if ids else None
        if view is not None and suggest:
            view.suggestion = self.suggestion(dataset, view.id)
        return view

    def upcoming(self, dataset: str, actor: Actor, *, order: str = "in_order", seed: int = 0, limit: int = 20,
                 suggest: bool = True) -> list[ExampleView]:
        """The next `limit` examples the queue would hand this annotator, best first, with suggestions (a
        look ahead: nothing is handed out)."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            ids = self.queue.next_ids(s, ds, actor, order=order, seed=seed, limit=limit)
            rows = {r.id: r for r in s.scalars(select(Example).where(Example.id.in_(ids)))} if ids else {}
            views = _views(s, ds, [rows[i] for i in ids if i in rows])
        for view in views if suggest else ():
            view.suggestion = self.suggestion(dataset, view.id)
        return views

    def suggestion(self, dataset: str, example_id: int) -> dict[str, Any] | None:
        """The serving model's suggestion for an example as a dict, or None (no model yet, or it failed:
        a suggestion is help, never a reason to withhold the example)."""
        assist = self.queue.assist
        if assist is None:
            return None
        try:
            found = assist.suggest(dataset, example_id=example_id)
        except Exception:  # noqa: BLE001 - e.g. a fine-tuned version that cannot load; logged, labelling goes on
            log.warning("no suggestion for example %s of %r", example_id, dataset, exc_info=True)
            return None
        return found.to_dict() if found is not None else None

    def get(self, dataset: str, example_id: int, *, with_history: bool = True) -> ExampleView:
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, example_id, include_deleted=True)
            return _views(s, ds, [ex], with_history=with_history)[0]

    # --- annotate ------------------------------------------------------------------------------
    def label(self, dataset: str, example_id: int, labels: list[str] | str, *, actor: Actor,
              origin: str = "", suggestion: dict[str, Any] | None = None) -> ExampleView:
        """Record `actor`'s labels for an example (appends a row; earlier rows stay as history).

        Labels equal to the actor's current ones add nothing: history records changes, not saves.
        `origin`: the face it came from ("label" for the Label tab, whose undo acts on its own actions).
        `suggestion`: what the face showed ({"labels": [...], "model": "...", "probability": p}; see
        parse_suggestion), recorded with the row as accepted (the same labels) or changed."""
        names = label_names(labels)
        shown = parse_suggestion(suggestion)
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id))
            chosen = check_labels_for_task(TaskType(ds.task), names, repo.active_label_names(ds))
            if not chosen:
                raise InvalidInputError("choose at least one label, or skip the example")
            ids = [lab.id for lab in ds.labels if lab.name in chosen]
            now = repo.current_state(s, ex.id, actor.name)
            added = now is None or now.kind != "label" or sorted(l.label_id for l in now.labels) != sorted(ids)
            if added:
                repo.append_annotation(s, ex, actor.name, "label", ids, origin=origin, shown=shown, chosen=chosen)
                repo.count_new_labels(s, ds, 1)
            leases.release(s, ds, actor.name, {ex.id})
            view = _views(s, ds, [ex])[0]
        if added:
            self._labelled(dataset)
        return view

    def label_many(self, dataset: str, example_ids: Sequence[int], labels: list[str] | str, *, actor: Actor,
                   origin: str = "", shown: Mapping[int, repo.Shown] | None = None) -> BulkResult:
        """Give many examples the same labels in one action: one annotation row each (none where the actor's
        labels already are these), all with one batch id, so `undo` takes the whole action back in one step.
        `shown`: the suggestion the list showed per example id, recorded on its row as accepted or changed
        (the acceptance rate per model counts them like single labels).

        At most MAX_BULK ids; ids that are not examples of the dataset, or deleted ones, are reported in the
        result and left alone. Bulk-inserted with their derived state, like an import."""
        names = label_names(labels)
        ids = list(dict.fromkeys(int(i) for i in example_ids))
        if not ids:
            raise InvalidInputError("choose at least one example to label")
        if len(ids) > MAX_BULK:
            raise InvalidInputError(f"{len(ids)} examples are more than one bulk action may label ({MAX_BULK}); "
                                    f"label them in parts of at most {MAX_BULK}")
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            chosen = check_labels_for_task(TaskType(ds.task), names, repo.active_label_names(ds))
            if not chosen:
                raise InvalidInputError("choose at least one label for the examples")
            want = frozenset(lab.id for lab in ds.labels if lab.name in chosen)
            found = repo.existing_examples(s, ds, ids)
            live = [i for i in ids if found.get(i)]
            states = repo.own_states(s, live, actor.name)
            todo = [i for i in live if states.get(i) != ("label", want)]
            batch = uuid.uuid4().hex if todo else None
            repo.add_label_annotations(s, ds, [(i, chosen) for i in todo], annotator=actor.name, origin=origin,
                                       batch=batch, shown=shown)
            repo.count_new_labels(s, ds, len(todo))
            leases.release(s, ds, actor.name, set(live))
        if todo:
            self._labelled(dataset)
        return BulkResult(batch, chosen, len(todo), len(live) - len(todo), [i for i in ids if i not in found],
                          [i for i in ids if found.get(i) is False])

    def skip(self, dataset: str, example_id: int, *, actor: Actor, origin: str = "") -> ExampleView:
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id))
            repo.append_annotation(s, ex, actor.name, "skip", origin=origin)
            leases.release(s, ds, actor.name, {ex.id})
            return _views(s, ds, [ex])[0]

    def clear(self, dataset: str, example_id: int, *, actor: Actor, origin: str = "") -> ExampleView:
        """Withdraw the actor's current label for an example (a new 'clear' row; none if there is none)."""
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id))
            now = repo.current_state(s, ex.id, actor.name)
            if now is not None and now.kind != "clear":
                repo.append_annotation(s, ex, actor.name, "clear", origin=origin)
            return _views(s, ds, [ex])[0]

    def undo(self, dataset: str, *, actor: Actor, origin: str | None = None, bulk: bool = False) -> Undone | None:
        """Undo the actor's last action in the dataset (only those made from `origin`, when given; only bulk
        actions with `bulk`, as the similar-examples list's "Undo that" means) by appending a row with the
        state before it.

        Returns what was undone and the example (so the UI can show it again and say what changed),
        or None if nothing is left to undo. A bulk action (label_many) is undone as a whole: every example
        of it goes back to its state before, in one step, and `examples` says how many; an example the actor
        changed since (a later label on the card, a review) keeps that change and is counted in `left`.
        """
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            spent: set[str] = set()  # bulk actions whose every example was changed since: passed over
            while True:
                last = repo.last_undoable(s, ds.id, actor.name, origin, bulk=bulk, skip_batches=spent)
                if last is None:
                    return None
                if last.batch is None:
                    break
                whole = self._undo_batch(s, ds, actor, last.batch, last.origin)
                if whole is not None:
                    return whole
                spent.add(last.batch)
            ex = repo.get_example(s, ds, last.example_id, include_deleted=True)
            before = repo.state_before(s, last)
            names = {lab.id: lab.name for lab in ds.labels}
            undone = _describe(last.kind, [names[l.label_id] for l in last.labels])
            if before is None:
                repo.append_annotation(s, ex, actor.name, "clear", reverts_id=last.id, origin=last.origin)
                restored = "no label of yours"
            else:
                repo.append_annotation(s, ex, actor.name, before.kind, [l.label_id for l in before.labels],
                                       reverts_id=last.id, origin=last.origin)
                restored = _describe(before.kind, [names[l.label_id] for l in before.labels])
            if last.kind == "label":
                repo.count_new_labels(s, ds, -1)
            return Undone(_views(s, ds, [ex])[0], undone, restored, example_ids=(ex.id,))

    def _undo_batch(self, s: Session, ds: Dataset, actor: Actor, batch: str, origin: str) -> Undone | None:
        """Append, for every row of the bulk action not undone yet whose example still carries what it gave
        (the actor's current kind and labels there), the state before it (one bulk insert); None when the
        actor changed every one of them since. The rows of changed examples stay: once that change is undone,
        the example carries the action's labels again, and a later undo takes them back then."""
        rows = repo.batch_rows(s, batch)
        current = repo.own_states(s, [r.example_id for r in rows], actor.name)
        carried = [current.get(r.example_id) == (r.kind, frozenset(l.label_id for l in r.labels)) for r in rows]
        superseded = [r for r, same in zip(rows, carried) if not same]
        rows = [r for r, same in zip(rows, carried) if same]
        if not rows:
            return None
        before = repo.states_before(s, rows)
        items = [repo.NewAnnotation(r.example_id, "clear", (), r.id) if r.id not in before else
                 repo.NewAnnotation(r.example_id, before[r.id].kind, tuple(l.label_id for l in before[r.id].labels), r.id)
                 for r in rows]
        repo.append_annotations(s, ds, items, annotator=actor.name, origin=origin, batch=batch)
        repo.count_new_labels(s, ds, -sum(r.kind == "label" for r in rows))
        names = {lab.id: lab.name for lab in ds.labels}
        first = rows[0]
        action = _describe(first.kind, [names[l.label_id] for l in first.labels])
        view = _views(s, ds, [repo.get_example(s, ds, first.example_id, include_deleted=True)])[0]
        return Undone(view, f"{action} on {len(rows)} example{'s' * (len(rows) != 1)}",
                      "the labels each had before", examples=len(rows),
                      example_ids=tuple(r.example_id for r in rows), left=len(superseded), bulk=True)

    # --- examples ------------------------------------------------------------------------------
    def add(self, dataset: str, text: str, text_pair: str | None = None, labels: list[str] | None = None, *,
            actor: Actor, source: str = "typed", origin: str = "") -> ExampleView:
        """Add one typed example (optionally labelled by the actor at once)."""
        if not normalize_text(text):
            raise InvalidInputError("type a text first: an example cannot be empty")
        if len(text) > self.settings.max_text_chars or len(text_pair or "") > self.settings.max_text_chars:
            raise InvalidInputError(f"the text is longer than {self.settings.max_text_chars} characters "
                                    "(FTDEMO_MAX_TEXT_CHARS); shorten it")
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            task = TaskType(ds.task)
            if task.has_pair and not normalize_text(text_pair):
                raise InvalidInputError(f"{ds.name!r} is a sentence-pair dataset: type the second text too")
            if not task.has_pair:
                text_pair = None
            chosen = check_labels_for_task(task, labels, repo.active_label_names(ds)) if labels else []
            [new_id] = repo.add_examples(s, ds, [repo.NewExample(text, text_pair, source)], created_by=actor.name)
            if new_id is None:
                raise InvalidInputError("this example is already in the dataset")
            ex = repo.get_example(s, ds, new_id)
            if chosen:
                repo.append_annotation(s, ex, actor.name, "label", [l.id for l in ds.labels if l.name in chosen],
                                       origin=origin)
                repo.count_new_labels(s, ds, 1)
            view = _views(s, ds, [ex])[0]
        if chosen:
            self._labelled(dataset)
        return view

    def edit(self, dataset: str, example_id: int, text: str, text_pair: str | None = None, *,
             actor: Actor) -> ExampleView:
        require_admin(actor, "edit examples")
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id))
            repo.edit_example(s, ds, ex, text, text_pair if TaskType(ds.task).has_pair else None)
            return _views(s, ds, [ex])[0]

    def delete(self, dataset: str, example_id: int, *, actor: Actor, restore: bool = False) -> ExampleView:
        """Soft delete (or restore): the row and its history stay; it leaves queues, stats and training."""
        require_admin(actor, "delete examples")
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id), include_deleted=True)
            repo.soft_delete_example(s, ex, restore=restore)
            return _views(s, ds, [ex])[0]

    def search(self, dataset: str, *, text: str = "", label: str | None = None, annotator: str | None = None,
               unlabelled: bool = False, include_deleted: bool = False, limit: int | None = 100, offset: int = 0
               ) -> tuple[list[ExampleView], int]:
        """A page of matching examples (limit None: all of them) and how many match."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            rows, total = repo.search_examples(s, ds, text=text, label=label or None, annotator=annotator or None,
                                               unlabelled=unlabelled, include_deleted=include_deleted,
                                               limit=limit, offset=offset)
            return _views(s, ds, rows), total

    def conflicts(self, dataset: str, limit: int | None = 100) -> list[ExampleView]:
        """Examples whose annotators currently disagree, lowest agreement first, with their history
        (limit None: all of them)."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            rows = [s.get(Example, i) for i in repo.conflicts(s, ds, limit)]
            return _views(s, ds, [r for r in rows if r is not None], with_history=True)

    def acceptance(self, dataset: str) -> list[dict[str, Any]]:
        """How often each model's suggestions were taken, per model that made them ("instant", "v0003", …):
        {model, shown, accepted, changed, rate} (rate: accepted / shown), from the annotations made with a
        suggestion on screen and not undone. One grouped query over those rows only."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            return [{"model": model, "shown": acc + chg, "accepted": acc, "changed": chg,
                     "rate": round(acc / (acc + chg), 4) if acc + chg else None}
                    for model, acc, chg in repo.acceptance(s, ds)]

    def annotators(self, dataset: str) -> list[str]:
        with self.db.read() as s:
            return repo.annotators(s, repo.get_dataset(s, dataset))

    def snapshot(self, dataset: str) -> list[LabelledText]:
        """Every live, labelled example with its consensus labels, in id order (what training sees)."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            return [LabelledText(i, text, pair, labels) for i, text, pair, labels in repo.labelled_snapshot(s, ds)]
