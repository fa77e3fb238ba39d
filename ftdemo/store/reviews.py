"""The review table's queries: what reviewers confirmed, and their last action to undo (append-only)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ftdemo.store.schema import Dataset, Review

VERDICTS = ("confirm", "relabel", "undo")


def append_review(session: Session, ds: Dataset, example_id: int, annotator: str, verdict: str,
                  labels: Sequence[str], *, annotation_id: int | None = None, reverts_id: int | None = None) -> Review:
    """Append one review row (see schema.Review)."""
    if verdict not in VERDICTS:
        raise ValueError(f"unknown review verdict {verdict!r}")
    row = Review(dataset_id=ds.id, example_id=int(example_id), annotator=annotator, verdict=verdict,
                 labels=sorted(labels), annotation_id=annotation_id, reverts_id=reverts_id)
    session.add(row)
    session.flush()
    return row


def _undone(ds: Dataset):  # noqa: ANN202 - a subquery
    return select(Review.reverts_id).where(Review.dataset_id == ds.id, Review.reverts_id.is_not(None))


def confirmed(session: Session, ds: Dataset) -> dict[int, tuple[str, ...]]:
    """example id → the labels a reviewer last confirmed for it (confirmations not undone)."""
    rows = session.execute(select(Review.example_id, Review.labels)
                           .where(Review.dataset_id == ds.id, Review.verdict == "confirm",
                                  Review.id.not_in(_undone(ds))).order_by(Review.id))
    return {int(ex): tuple(labels) for ex, labels in rows}


def last_review(session: Session, ds: Dataset, annotator: str) -> Review | None:
    """The annotator's most recent confirm or relabel in the dataset that is not undone yet."""
    return session.scalars(select(Review).where(Review.dataset_id == ds.id, Review.annotator == annotator,
                                                Review.verdict != "undo", Review.id.not_in(_undone(ds)))
                           .order_by(Review.id.desc()).limit(1)).first()
