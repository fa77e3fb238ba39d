"""Queries the assist service needs (caller owns the transaction): what to embed, what is labelled, and
cheap marks that say whether either changed since the last look."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ftdemo.store import derived
from ftdemo.store.schema import AnnotatorState, CurrentLabel, Dataset, Example, ExampleState


def examples_mark(session: Session, ds: Dataset) -> tuple:
    """Changes when a live example is added, deleted, restored or edited (count, newest id, last edit)."""
    row = session.execute(select(func.count(), func.max(Example.id), func.max(Example.updated_at))
                          .where(Example.dataset_id == ds.id, Example.deleted_at.is_(None))).one()
    return tuple(row)


def labels_mark(session: Session, ds: Dataset) -> tuple:
    """Changes when anyone's current annotation of the dataset changes (label, skip, clear, undo)."""
    row = session.execute(select(func.count(), func.max(AnnotatorState.annotation_id))
                          .where(AnnotatorState.dataset_id == ds.id)).one()
    return tuple(row)


def live_hashes(session: Session, ds: Dataset, *, labelled: bool = False) -> list[tuple[int, str]]:
    """(id, content hash) of every live example (with `labelled`, of those with a current label), in id order."""
    q = select(Example.id, Example.content_hash).where(Example.dataset_id == ds.id, Example.deleted_at.is_(None))
    if labelled:
        q = q.where(Example.id.in_(select(CurrentLabel.example_id).where(CurrentLabel.dataset_id == ds.id)))
    return [(int(i), h) for i, h in session.execute(q.order_by(Example.id))]


def texts(session: Session, ds: Dataset, example_ids: Sequence[int]) -> dict[int, tuple[str, str | None]]:
    """id → (text, text_pair) of these examples."""
    out: dict[int, tuple[str, str | None]] = {}
    for part in derived.chunks(list(example_ids)):
        for i, text, pair in session.execute(select(Example.id, Example.text, Example.text_pair)
                                             .where(Example.dataset_id == ds.id, Example.id.in_(part))):
            out[int(i)] = (text, pair)
    return out


def current_label_ids(session: Session, ds: Dataset) -> dict[int, list[int]]:
    """id → current consensus label ids of every live labelled example."""
    out: dict[int, list[int]] = defaultdict(list)
    rows = session.execute(select(CurrentLabel.example_id, CurrentLabel.label_id)
                           .join(ExampleState, ExampleState.example_id == CurrentLabel.example_id)
                           .where(CurrentLabel.dataset_id == ds.id, ExampleState.live.is_(True)))
    for ex_id, label_id in rows:
        out[int(ex_id)].append(int(label_id))
    return dict(out)
