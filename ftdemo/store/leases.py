"""Leases: an example handed out by the queue is kept from other annotators for a while (FTDEMO_LEASE_S).

One lease per annotator and dataset (the table's key): handing out the next example replaces it, labelling
or skipping the example releases it, and one that expires simply stops counting (the row stays until its
annotator's next hand-out: a row per annotator and dataset, never more). Take them inside a write
transaction: that holds the database's one write lock, so two annotators asking at once are served one
after the other, and the second sees the first's lease.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import Select, delete, insert, select
from sqlalchemy.orm import Session

from ftdemo.store.schema import Dataset, Lease, utcnow


def held_by_others(ds: Dataset, annotator: str, now: dt.datetime | None = None) -> Select:
    """The example ids other annotators hold unexpired leases on (a query through the table's key)."""
    return select(Lease.example_id).where(Lease.dataset_id == ds.id, Lease.annotator != annotator,
                                          Lease.expires_at > (now or utcnow()))


def take(session: Session, ds: Dataset, annotator: str, example_id: int | None, seconds: float) -> None:
    """The annotator's lease in this dataset now holds `example_id` for `seconds` (None: they hold nothing)."""
    session.execute(delete(Lease).where(Lease.dataset_id == ds.id, Lease.annotator == annotator))
    if example_id is not None:
        session.execute(insert(Lease).values(dataset_id=ds.id, annotator=annotator, example_id=example_id,
                                             expires_at=utcnow() + dt.timedelta(seconds=seconds)))


def release(session: Session, ds: Dataset, annotator: str, example_ids: Collection[int]) -> None:
    """Drop the annotator's lease in this dataset if it holds one of `example_ids` (they acted on it)."""
    held = session.scalar(select(Lease.example_id).where(Lease.dataset_id == ds.id, Lease.annotator == annotator))
    if held is not None and held in example_ids:
        session.execute(delete(Lease).where(Lease.dataset_id == ds.id, Lease.annotator == annotator))

