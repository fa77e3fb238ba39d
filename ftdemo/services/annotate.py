"""Labelling: the queue, label/skip/undo, adding, editing and browsing examples."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftdemo.errors import InvalidInputError
from ftdemo.services.base import Actor, Service, require_admin
from ftdemo.services.queue import QueueService
from ftdemo.settings import Settings
from ftdemo.store import Database, repo
from ftdemo.store.consensus import UNLABELLED
from ftdemo.store.schema import Dataset, Example
from ftdemo.tasks import LabelledText, TaskType, check_labels_for_task, normalize_text

log = logging.getLogger(__name__)


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
    action: str  # e.g. "label “pos”", "skip"
    restored: str  # e.g. "label “neg”", "no label of yours"


def _describe(kind: str, labels: list[str]) -> str:
    if kind == "label":
        return "label " + ", ".join(f"“{name}”" for name in labels)
    return "skip" if kind == "skip" else "withdrawn label"


class AnnotationService(Service):
    def __init__(self, db: Database, settings: Settings, queue: QueueService) -> None:
        super().__init__(db, settings)
        self.queue = queue

    # --- queue ---------------------------------------------------------------------------------
    def next(self, dataset: str, actor: Actor, *, order: str = "in_order", seed: int = 0,
             exclude: list[int] | None = None, suggest: bool = True) -> ExampleView | None:
        """The next example for this annotator, or None when the queue is empty; with the model's
        suggestion unless `suggest` is off (a gold-standard set must not be anchored by the model)."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            ids = self.queue.next_ids(s, ds, actor, order=order, seed=seed, limit=1, exclude=exclude or ())
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
              origin: str = "") -> ExampleView:
        """Record `actor`'s labels for an example (appends a row; earlier rows stay as history).

        Labels equal to the actor's current ones add nothing: history records changes, not saves.
        `origin`: the face it came from ("label" for the Label tab, whose undo acts on its own actions)."""
        names = labels.split(",") if isinstance(labels, str) else list(labels)
        names = [n.strip() for n in names if n.strip()]
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id))
            chosen = check_labels_for_task(TaskType(ds.task), names, repo.active_label_names(ds))
            if not chosen:
                raise InvalidInputError("choose at least one label, or skip the example")
            ids = [lab.id for lab in ds.labels if lab.name in chosen]
            now = repo.current_state(s, ex.id, actor.name)
            if now is None or now.kind != "label" or sorted(l.label_id for l in now.labels) != sorted(ids):
                repo.append_annotation(s, ex, actor.name, "label", ids, origin=origin)
            return _views(s, ds, [ex])[0]

    def skip(self, dataset: str, example_id: int, *, actor: Actor, origin: str = "") -> ExampleView:
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            ex = repo.get_example(s, ds, int(example_id))
            repo.append_annotation(s, ex, actor.name, "skip", origin=origin)
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

    def undo(self, dataset: str, *, actor: Actor, origin: str | None = None) -> Undone | None:
        """Undo the actor's last action in the dataset (only those made from `origin`, when given) by
        appending a row with the state before it.

        Returns what was undone and the example (so the UI can show it again and say what changed),
        or None if nothing is left to undo.
        """
        with self.db.write() as s:
            ds = repo.get_dataset(s, dataset)
            last = repo.last_undoable(s, ds.id, actor.name, origin)
            if last is None:
                return None
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
            return Undone(_views(s, ds, [ex])[0], undone, restored)

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
            return _views(s, ds, [ex])[0]

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

    def annotators(self, dataset: str) -> list[str]:
        with self.db.read() as s:
            return repo.annotators(s, repo.get_dataset(s, dataset))

    def snapshot(self, dataset: str) -> list[LabelledText]:
        """Every live, labelled example with its consensus labels, in id order (what training sees)."""
        with self.db.read() as s:
            ds = repo.get_dataset(s, dataset)
            return [LabelledText(i, text, pair, labels) for i, text, pair, labels in repo.labelled_snapshot(s, ds)]
