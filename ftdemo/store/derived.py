"""Derived state, kept in the same transaction as every change it depends on.

The append-only annotation history is the source of truth; reading "the current label of each
example" from it means finding every annotator's latest row, which at a million annotations is too
slow to do per click (and binding every id as a parameter fails outright). So four things are kept
up to date as rows change, each by the one function here that the change goes through:

- `annotator_states`: each annotator's latest row per example (`record_annotations`);
- `example_states` + `current_labels`: each example's consensus, from those states (`refresh`);
- `dataset_stats`, `label_stats`, `annotator_stats`: running totals, changed by the difference
  between an example's old and new state (`_apply`), so statistics read a handful of rows.

`rebuild` recomputes all of it for a dataset from the history with set-based SQL, and `check`
compares what is stored with what a rebuild would give (`python -m ftdemo rebuild --check`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from ftdemo.store.consensus import AnnotatorState as State
from ftdemo.store.consensus import Consensus, consensus
from ftdemo.store.schema import (
    Annotation,
    AnnotationLabel,
    AnnotatorState,
    AnnotatorStats,
    CurrentLabel,
    Dataset,
    DatasetStats,
    Example,
    ExampleState,
    LabelStats,
)
from ftdemo.tasks import TaskType

log = logging.getLogger(__name__)

CHUNK = 2000  # ids per statement: far below SQLite's and PostgreSQL's limits on bound parameters
# Bulk inserts name the Core tables (`insert(X.__table__)`): the ORM's bulk path spends more time
# building parameters than the database spends writing them.
_SALT = b"ftdemo-queue-v1:"
_OVERLAP_SALT = b"ftdemo-overlap-v1:"  # its own salt: which examples overlap is unrelated to the shuffled order
_AUDIT_SALT = b"ftdemo-audit-v1:"  # and the audit sample's: unrelated to both
KEY_RANGE = OVERLAP_SCALE = 2 ** 31  # shuffle, overlap and audit keys are 31-bit: [0, KEY_RANGE)


def chunks(items: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def shuffle_key(example_id: int) -> int:
    """A fixed pseudo-random 31-bit number per example: the shuffled queue's order."""
    return _salted_key(_SALT, example_id)


def _salted_key(salt: bytes, example_id: int) -> int:
    """A fixed pseudo-random 31-bit number per example and salt (blake2b of the id)."""
    return int.from_bytes(hashlib.blake2b(salt + str(int(example_id)).encode(), digest_size=4).digest(), "big") >> 1


def share_cut(share: float) -> int:
    """The key below which an example is in a sample of `share` (0 to 1) of the examples: raising the share
    only adds examples."""
    return int(round(min(max(float(share or 0.0), 0.0), 1.0) * KEY_RANGE))


def overlap_key(example_id: int) -> int:
    """The example goes to several annotators when this is below overlap_threshold(the dataset's share)."""
    return _salted_key(_OVERLAP_SALT, example_id)


def overlap_threshold(share: float) -> int:
    """The overlap keys below which an example is an overlap example, for a share from 0 to 1."""
    return share_cut(share)


def audit_key(example_id: int) -> int:
    """The example is in the audit sample when this is below audit_cut(the dataset's share)."""
    return _salted_key(_AUDIT_SALT, example_id)


def audit_cut(share: float) -> int:
    """The audit_key below which an example is in an audit sample of `share` (0 → none)."""
    return share_cut(share)


def in_audit(example_id: int, share: float) -> bool:
    return audit_key(example_id) < audit_cut(share)


@dataclass(frozen=True)
class Snapshot:
    """What an example contributes to the totals: nothing unless live."""

    live: bool = False
    labels: tuple[int, ...] = ()  # consensus label ids
    annotators: int = 0
    agreement: float = 1.0

    @property
    def labelled(self) -> bool:
        return self.annotators > 0


# --- creating ------------------------------------------------------------------------------------


def init_dataset(session: Session, ds: Dataset) -> None:
    """Zero totals for a new dataset."""
    session.add(DatasetStats(dataset_id=ds.id, examples=0, labelled=0, multi_annotated=0, conflicts=0,
                             agreement_sum=0.0))
    session.flush()


def add_examples(session: Session, ds: Dataset, example_ids: Sequence[int]) -> None:
    """States for new examples (live, unlabelled) and the dataset's example count."""
    for part in chunks(list(example_ids)):
        session.execute(insert(ExampleState.__table__), [
            dict(example_id=i, dataset_id=ds.id, live=True, labelled=False, annotators=0, agreement=1.0,
                 shuffle_key=shuffle_key(i), overlap_key=overlap_key(i), audit_key=audit_key(i)) for i in part])
    if example_ids:
        session.execute(update(DatasetStats).where(DatasetStats.dataset_id == ds.id)
                        .values(examples=DatasetStats.examples + len(example_ids)))


# --- annotations -----------------------------------------------------------------------------------


def record_annotations(session: Session, ds: Dataset, rows: Sequence[tuple[int, int, str, str]]) -> None:
    """After new annotation rows (annotation id, example id, annotator, kind), in id order: move each
    annotator's state to the newest, keep the annotators' totals, and refresh the examples' consensus."""
    latest: dict[tuple[int, str], tuple[int, str]] = {}
    for ann_id, ex_id, annotator, kind in rows:
        latest[(ex_id, annotator)] = (ann_id, kind)
    if not latest:
        return
    old: dict[tuple[int, str], str] = {}
    pairs = list(latest)
    for part in _pair_chunks(pairs):
        ids = list({ex for ex, _ in part})
        for ex_id, annotator, kind in session.execute(
                select(AnnotatorState.example_id, AnnotatorState.annotator, AnnotatorState.kind)
                .where(AnnotatorState.example_id.in_(ids))):
            if (ex_id, annotator) in latest:
                old[(ex_id, annotator)] = kind
    changed = [dict(e=ex, n=who, a=ann, k=kind) for (ex, who), (ann, kind) in latest.items() if (ex, who) in old]
    fresh = [dict(example_id=ex, annotator=who, dataset_id=ds.id, annotation_id=ann, kind=kind)
             for (ex, who), (ann, kind) in latest.items() if (ex, who) not in old]
    if changed:
        t = AnnotatorState.__table__
        session.execute(update(t).where(t.c.example_id == bindparam("e"), t.c.annotator == bindparam("n"))
                        .values(annotation_id=bindparam("a"), kind=bindparam("k")), changed)
    for start in range(0, len(fresh), CHUNK):
        session.execute(insert(AnnotatorState.__table__), fresh[start:start + CHUNK])
    counts: Counter[str] = Counter()
    for (ex, who), (_, kind) in latest.items():
        counts[who] += (kind == "label") - (old.get((ex, who)) == "label")
    _add_annotators(session, ds, {who for _, who in latest}, counts)
    refresh(session, ds, sorted({ex for ex, _ in latest}))


def _pair_chunks(pairs: list[tuple[int, str]]) -> Iterator[list[tuple[int, str]]]:
    for start in range(0, len(pairs), CHUNK):
        yield pairs[start:start + CHUNK]


def _add_annotators(session: Session, ds: Dataset, names: set[str], counts: Counter[str]) -> None:
    known = set(session.scalars(select(AnnotatorStats.annotator).where(AnnotatorStats.dataset_id == ds.id,
                                                                       AnnotatorStats.annotator.in_(list(names)))))
    missing = sorted(names - known)
    if missing:
        session.execute(insert(AnnotatorStats), [dict(dataset_id=ds.id, annotator=n, n=0) for n in missing])
    moves = [dict(d=ds.id, n=who, by=by) for who, by in counts.items() if by]
    if moves:
        t = AnnotatorStats.__table__
        session.execute(update(t).where(t.c.dataset_id == bindparam("d"), t.c.annotator == bindparam("n"))
                        .values(n=t.c.n + bindparam("by")), moves)


# --- consensus -----------------------------------------------------------------------------------


def consensus_of(session: Session, ds: Dataset, example_ids: Sequence[int]) -> dict[int, Consensus]:
    """Each example's consensus computed from its annotators' current states (retired labels dropped)."""
    names = {lab.id: lab.name for lab in ds.labels}
    retired = {lab.id for lab in ds.labels if lab.retired}
    order = [lab.name for lab in ds.labels]
    multi = TaskType(ds.task).is_multi_label
    states: dict[int, dict[str, tuple[str, int, list[str]]]] = defaultdict(dict)
    for part in chunks(list(example_ids)):
        q = (select(AnnotatorState.example_id, AnnotatorState.annotator, AnnotatorState.kind,
                    AnnotatorState.annotation_id, AnnotationLabel.label_id)
             .outerjoin(AnnotationLabel, AnnotationLabel.annotation_id == AnnotatorState.annotation_id)
             .where(AnnotatorState.example_id.in_(part)))
        for ex_id, who, kind, ann_id, label_id in session.execute(q):
            entry = states[ex_id].setdefault(who, (kind, ann_id, []))
            if label_id is not None and label_id not in retired:
                entry[2].append(names[label_id])
    out = {}
    for ex_id, by_annotator in states.items():
        current = {who: State(kind, tuple(labels), ann_id) for who, (kind, ann_id, labels) in by_annotator.items()
                   if kind != "label" or labels}  # a label state left empty by retired labels counts as none
        out[ex_id] = consensus(current, multi_label=multi, label_order=order)
    return out


def refresh(session: Session, ds: Dataset, example_ids: Sequence[int]) -> None:
    """Recompute these examples' consensus from their annotators' states and move the totals by the change."""
    ids = {lab.name: lab.id for lab in ds.labels}
    new = consensus_of(session, ds, example_ids)
    before = _snapshots(session, list(example_ids))
    after = {}
    for ex_id in example_ids:
        c = new.get(ex_id)
        old = before.get(ex_id, Snapshot())
        after[ex_id] = Snapshot(old.live, tuple(sorted(ids[n] for n in c.labels)) if c else (),
                                c.annotators if c else 0, round(c.agreement, 6) if c else 1.0)
    _write(session, ds, before, after)


def set_live(session: Session, ds: Dataset, example_id: int, live: bool) -> None:
    """An example deleted (soft) or restored: it leaves or rejoins the totals."""
    before = _snapshots(session, [example_id])
    old = before.get(example_id, Snapshot())
    _write(session, ds, before, {example_id: Snapshot(live, old.labels, old.annotators, old.agreement)})


def _snapshots(session: Session, example_ids: list[int]) -> dict[int, Snapshot]:
    labels: dict[int, list[int]] = defaultdict(list)
    rows = {}
    for part in chunks(example_ids):
        for ex_id, label_id in session.execute(select(CurrentLabel.example_id, CurrentLabel.label_id)
                                               .where(CurrentLabel.example_id.in_(part))):
            labels[ex_id].append(label_id)
        for ex_id, live, annotators, agreement in session.execute(
                select(ExampleState.example_id, ExampleState.live, ExampleState.annotators, ExampleState.agreement)
                .where(ExampleState.example_id.in_(part))):
            rows[ex_id] = (bool(live), int(annotators), float(agreement))
    return {ex: Snapshot(live, tuple(sorted(labels.get(ex, ()))), n, agreement)
            for ex, (live, n, agreement) in rows.items()}


def _write(session: Session, ds: Dataset, before: dict[int, Snapshot], after: dict[int, Snapshot]) -> None:
    """Store the new snapshots and move the totals by after − before."""
    changed = {ex: snap for ex, snap in after.items() if before.get(ex) != snap}
    if not changed:
        return
    rows = [dict(e=ex, live=s.live, labelled=s.labelled, n=s.annotators, agr=s.agreement) for ex, s in changed.items()]
    t = ExampleState.__table__
    session.execute(update(t).where(t.c.example_id == bindparam("e"))
                    .values(live=bindparam("live"), labelled=bindparam("labelled"), annotators=bindparam("n"),
                            agreement=bindparam("agr")), rows)
    relabelled = [ex for ex, s in changed.items() if before.get(ex, Snapshot()).labels != s.labels]
    for part in chunks(relabelled):
        session.execute(delete(CurrentLabel).where(CurrentLabel.example_id.in_(part)))
    new_labels = [dict(example_id=ex, label_id=lab, dataset_id=ds.id) for ex in relabelled for lab in changed[ex].labels]
    for start in range(0, len(new_labels), CHUNK):
        session.execute(insert(CurrentLabel.__table__), new_labels[start:start + CHUNK])
    _apply(session, ds, [before.get(ex, Snapshot()) for ex in changed], list(changed.values()))


def _contribution(snaps: Iterable[Snapshot]) -> tuple[Counter[str], Counter[int]]:
    totals: Counter[str] = Counter()
    per_label: Counter[int] = Counter()
    for s in snaps:
        if not s.live:
            continue
        totals["examples"] += 1
        if s.labelled:
            totals["labelled"] += 1
            per_label.update(s.labels)
            if s.annotators > 1:
                totals["multi_annotated"] += 1
                totals["agreement_sum"] += s.agreement
                totals["conflicts"] += s.agreement < 1.0
    return totals, per_label


def _apply(session: Session, ds: Dataset, old: list[Snapshot], new: list[Snapshot]) -> None:
    """Move the dataset's and its labels' totals by (new − old)."""
    (t_new, l_new), (t_old, l_old) = _contribution(new), _contribution(old)
    delta = {k: t_new.get(k, 0) - t_old.get(k, 0) for k in ("examples", "labelled", "multi_annotated", "conflicts",
                                                               "agreement_sum")}
    if any(delta.values()):
        session.execute(update(DatasetStats).where(DatasetStats.dataset_id == ds.id).values(
            examples=DatasetStats.examples + delta["examples"], labelled=DatasetStats.labelled + delta["labelled"],
            multi_annotated=DatasetStats.multi_annotated + delta["multi_annotated"],
            conflicts=DatasetStats.conflicts + delta["conflicts"],
            agreement_sum=DatasetStats.agreement_sum + delta["agreement_sum"]))
    moves = {lab: l_new.get(lab, 0) - l_old.get(lab, 0) for lab in set(l_new) | set(l_old)}
    moves = {lab: by for lab, by in moves.items() if by}
    if moves:
        known = set(session.scalars(select(LabelStats.label_id).where(LabelStats.dataset_id == ds.id)))
        missing = [lab for lab in moves if lab not in known]
        if missing:
            session.execute(insert(LabelStats), [dict(dataset_id=ds.id, label_id=lab, n=0) for lab in missing])
        t = LabelStats.__table__
        session.execute(update(t).where(t.c.dataset_id == bindparam("d"), t.c.label_id == bindparam("l"))
                        .values(n=t.c.n + bindparam("by")), [dict(d=ds.id, l=lab, by=by) for lab, by in moves.items()])


def forget_examples(session: Session, ds: Dataset, example_ids: Sequence[int]) -> None:
    """Delete examples for good (a failed import's rows): they leave the totals, then the rows go (their
    annotations and derived rows with them, by cascade)."""
    ids = list(example_ids)
    before = _snapshots(session, ids)
    _apply(session, ds, list(before.values()), [Snapshot() for _ in before])
    counts: Counter[str] = Counter()
    for part in chunks(ids):
        counts.update(session.scalars(select(AnnotatorState.annotator).where(AnnotatorState.example_id.in_(part),
                                                                              AnnotatorState.kind == "label")))
    _add_annotators(session, ds, set(counts), Counter({who: -n for who, n in counts.items()}))
    for part in chunks(ids):
        session.execute(delete(Example).where(Example.id.in_(part)))


def examples_with_label(session: Session, ds: Dataset, label_id: int) -> list[int]:
    """Examples where some annotator's current state holds the label (a retire or un-retire changes them)."""
    return list(session.scalars(
        select(AnnotatorState.example_id).join(AnnotationLabel, AnnotationLabel.annotation_id == AnnotatorState.annotation_id)
        .where(AnnotatorState.dataset_id == ds.id, AnnotationLabel.label_id == label_id).distinct()))


# --- rebuilding and checking --------------------------------------------------------------------------


def rebuild(session: Session, ds: Dataset) -> None:
    """Recompute every derived row of the dataset from its examples and annotation history."""
    for table in (CurrentLabel, ExampleState, AnnotatorState, LabelStats, AnnotatorStats, DatasetStats):
        session.execute(delete(table).where(table.dataset_id == ds.id))
    init_dataset(session, ds)
    live: dict[int, bool] = dict(session.execute(select(Example.id, Example.deleted_at.is_(None))
                                                 .where(Example.dataset_id == ds.id)).all())
    ids = sorted(live)
    add_examples(session, ds, ids)
    for part in chunks([i for i in ids if not live[i]]):  # deleted ones: out of the totals
        session.execute(update(ExampleState).where(ExampleState.example_id.in_(part)).values(live=False))
    if ids:
        session.execute(update(DatasetStats).where(DatasetStats.dataset_id == ds.id)
                        .values(examples=sum(live.values())))
    # each annotator's latest row per example, set-based: the history itself decides
    latest = (select(func.max(Annotation.id).label("id")).join(Example, Example.id == Annotation.example_id)
              .where(Example.dataset_id == ds.id).group_by(Annotation.example_id, Annotation.annotator).subquery())
    rows = session.execute(select(Annotation.id, Annotation.example_id, Annotation.annotator, Annotation.kind)
                           .join(latest, latest.c.id == Annotation.id).order_by(Annotation.id)).all()
    for start in range(0, len(rows), 20 * CHUNK):
        record_annotations(session, ds, rows[start:start + 20 * CHUNK])
    session.flush()


def backfill(db: Any) -> list[str]:
    """Rebuild the derived rows of every dataset that has none (made before they existed); their names."""
    with db.read() as s:
        missing = list(s.scalars(select(Dataset.id).where(Dataset.id.not_in(select(DatasetStats.dataset_id)))))
    names = []
    for ds_id in missing:
        with db.write() as s:
            ds = s.get(Dataset, ds_id)
            if ds is not None and s.get(DatasetStats, ds_id) is None:
                rebuild(s, ds)
                names.append(ds.name)
    for name in names:
        log.info("computed the current labels and totals of dataset %r from its history", name)
    return names


def stored(session: Session, ds: Dataset) -> dict[str, object]:
    """Every derived row of a dataset, in a comparable form (floats rounded in Python: PostgreSQL has
    no round() for double precision)."""
    def rows(q):  # noqa: ANN001, ANN202
        return sorted(tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in session.execute(q))

    return {
        "annotator_states": rows(select(AnnotatorState.example_id, AnnotatorState.annotator,
                                        AnnotatorState.annotation_id, AnnotatorState.kind)
                                 .where(AnnotatorState.dataset_id == ds.id)),
        "example_states": rows(select(ExampleState.example_id, ExampleState.live, ExampleState.labelled,
                                      ExampleState.annotators, ExampleState.agreement)
                               .where(ExampleState.dataset_id == ds.id)),
        "current_labels": rows(select(CurrentLabel.example_id, CurrentLabel.label_id)
                               .where(CurrentLabel.dataset_id == ds.id)),
        "dataset_stats": rows(select(DatasetStats.examples, DatasetStats.labelled, DatasetStats.multi_annotated,
                                     DatasetStats.conflicts, DatasetStats.agreement_sum)
                              .where(DatasetStats.dataset_id == ds.id)),
        "label_stats": [r for r in rows(select(LabelStats.label_id, LabelStats.n)
                                        .where(LabelStats.dataset_id == ds.id)) if r[1]],
        "annotator_stats": [r for r in rows(select(AnnotatorStats.annotator, AnnotatorStats.n)
                                            .where(AnnotatorStats.dataset_id == ds.id))],
    }


def check(session: Session, ds: Dataset) -> list[str]:
    """The derived tables that differ from what a rebuild from the history gives ([] = all agree).
    Runs the rebuild in a savepoint and rolls it back: nothing changes."""
    before = stored(session, ds)
    nested = session.begin_nested()
    try:
        rebuild(session, ds)
        after = stored(session, ds)
    finally:
        nested.rollback()
    return [name for name in before if before[name] != after[name]]
