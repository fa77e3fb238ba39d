"""Queries. Every function takes `session` and never commits: the caller owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, func, insert, or_, select, text
from sqlalchemy.orm import Session

from ftdemo.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from ftdemo.store.consensus import AnnotatorState, Consensus, consensus
from ftdemo.store.schema import Annotation, AnnotationLabel, Dataset, Example, Label, utcnow
from ftdemo.tasks import (
    TaskType,
    content_hash,
    normalize_text,
    parse_label_list,
    validate_dataset_name,
    validate_label_name,
)

# --- rows by id -----------------------------------------------------------------------------------

# The ids a row can have on every backend: an INTEGER key is 32 bits on PostgreSQL (64 on SQLite), and
# PostgreSQL answers a larger one with an error, not with "no such row".
MAX_ID = 2**31 - 1
T = TypeVar("T")


def get_by_id(session: Session, table: type[T], row_id: int) -> T | None:
    """`session.get` for an id from outside (a request, a file on disk): None when no row can have it."""
    if not 0 < row_id <= MAX_ID:
        return None
    return session.get(table, row_id)


def _after_bulk_insert(session: Session, tables: Sequence[str], rows: int) -> None:
    """PostgreSQL plans queries from table statistics that autovacuum refreshes a minute or more after a big
    import; until then it plans for nearly empty tables (nested loops), and counting the labels of 20,000
    imported rows took 25 s, of 70,000 six minutes. So a bulk insert refreshes them (ANALYZE counts the
    transaction's own new rows; SQLite needs nothing: its plans do not depend on statistics here)."""
    if rows >= BULK_ANALYZE_ROWS and session.get_bind().dialect.name == "postgresql":
        for table in tables:
            session.execute(text(f"ANALYZE {table}"))


BULK_ANALYZE_ROWS = 1000


# --- datasets and labels -----------------------------------------------------------------------


def get_dataset(session: Session, name: str) -> Dataset:
    ds = session.scalars(select(Dataset).where(Dataset.name == name)).one_or_none()
    if ds is None:
        names = session.scalars(select(Dataset.name).order_by(Dataset.name)).all()
        hint = f"; existing datasets: {', '.join(names)}" if names else "; create one with `datasets create`"
        raise NotFoundError(f"no dataset named {name!r}{hint}")
    return ds


def list_datasets(session: Session) -> list[Dataset]:
    return list(session.scalars(select(Dataset).order_by(Dataset.id)))


def create_dataset(
    session: Session, name: str, task: TaskType, labels: Sequence[str], *, created_by: str = "", description: str = ""
) -> Dataset:
    name = validate_dataset_name((name or "").strip())  # typed names lose their stray spaces
    if session.scalars(select(Dataset.id).where(Dataset.name == name)).first() is not None:
        raise AlreadyExistsError(f"a dataset named {name!r} already exists; choose another name")
    names = parse_label_list(labels)
    if len(names) < 2 and not task.is_multi_label:
        raise InvalidInputError(f"a {task.value} dataset needs at least 2 labels, e.g. --labels positive,negative")
    if not names:
        raise InvalidInputError("a dataset needs at least 1 label, e.g. --labels sports,politics")
    ds = Dataset(name=name, task=task.value, description=description, created_by=created_by)
    ds.labels = [Label(name=n, position=i) for i, n in enumerate(names)]
    session.add(ds)
    session.flush()
    return ds


def active_label_names(ds: Dataset) -> list[str]:
    return [lab.name for lab in ds.labels if not lab.retired]


def _label(ds: Dataset, name: str) -> Label:
    for lab in ds.labels:
        if lab.name == name:
            return lab
    raise NotFoundError(f"label {name!r} is not in dataset {ds.name!r}; labels: {', '.join(l.name for l in ds.labels)}")


def add_label(session: Session, ds: Dataset, name: str) -> Label:
    name = validate_label_name(name)
    if any(lab.name == name for lab in ds.labels):
        existing = _label(ds, name)
        if existing.retired:
            existing.retired = False  # adding a retired label back restores it with its history
            return existing
        raise AlreadyExistsError(f"label {name!r} already exists in {ds.name!r}")
    lab = Label(name=name, position=max((l.position for l in ds.labels), default=-1) + 1)
    ds.labels.append(lab)
    session.flush()
    return lab


def rename_label(session: Session, ds: Dataset, old: str, new: str) -> Label:
    lab = _label(ds, old)
    new = validate_label_name(new)
    if new != old and any(l.name == new for l in ds.labels):
        raise AlreadyExistsError(f"label {new!r} already exists in {ds.name!r}")
    lab.name = new  # annotations point at the label id, so their history follows the rename
    session.flush()
    return lab


def retire_label(session: Session, ds: Dataset, name: str) -> Label:
    lab = _label(ds, name)
    if sum(1 for l in ds.labels if not l.retired) <= (1 if TaskType(ds.task).is_multi_label else 2):
        raise InvalidInputError(f"cannot retire {name!r}: {ds.name!r} would have too few labels left")
    lab.retired = True
    session.flush()
    return lab


# --- examples ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewExample:
    text: str
    text_pair: str | None = None
    source: str = ""
    meta: dict[str, Any] | None = None
    labels: tuple[str, ...] = ()


def existing_hashes(session: Session, dataset_id: int) -> set[str]:
    return set(session.scalars(select(Example.content_hash).where(Example.dataset_id == dataset_id)))


def add_examples(session: Session, ds: Dataset, items: Sequence[NewExample], *, created_by: str) -> list[int | None]:
    """Insert examples in bulk; returns the new id per item, or None for a duplicate of a stored one."""
    if not items:
        return []
    seen = existing_hashes(session, ds.id)
    now = utcnow()
    rows, positions = [], []
    for i, item in enumerate(items):
        h = content_hash(item.text, item.text_pair)
        if h in seen:
            continue
        seen.add(h)
        rows.append(dict(dataset_id=ds.id, text=normalize_text(item.text),
                         text_pair=normalize_text(item.text_pair) if item.text_pair is not None else None,
                         content_hash=h, source=item.source, meta=item.meta, created_at=now, created_by=created_by))
        positions.append(i)
    ids: list[int | None] = [None] * len(items)
    # Insert in chunks with RETURNING so each item knows its id (SQLite ≥3.35 and PostgreSQL support it).
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        new_ids = session.execute(insert(Example).returning(Example.id, sort_by_parameter_order=True), chunk).scalars().all()
        for pos, new_id in zip(positions[start:start + 500], new_ids):
            ids[pos] = new_id
    _after_bulk_insert(session, ["examples"], len(rows))
    return ids


def get_example(session: Session, ds: Dataset, example_id: int, *, include_deleted: bool = False) -> Example:
    ex = get_by_id(session, Example, example_id)
    if ex is None or ex.dataset_id != ds.id or (ex.deleted_at is not None and not include_deleted):
        raise NotFoundError(f"example {example_id} is not in dataset {ds.name!r} (see `examples {ds.name}`)")
    return ex


def edit_example(session: Session, ds: Dataset, ex: Example, text: str, text_pair: str | None) -> Example:
    if not normalize_text(text):
        raise InvalidInputError("the text cannot be empty")
    h = content_hash(text, text_pair)
    clash = session.scalars(select(Example.id).where(Example.dataset_id == ds.id, Example.content_hash == h,
                                                     Example.id != ex.id)).first()
    if clash is not None:
        raise AlreadyExistsError(f"example {clash} already has this text; edit or delete that one instead")
    ex.text, ex.text_pair, ex.content_hash, ex.updated_at = normalize_text(text), text_pair, h, utcnow()
    session.flush()
    return ex


def soft_delete_example(session: Session, ex: Example, *, restore: bool = False) -> None:
    ex.deleted_at = None if restore else utcnow()
    session.flush()


# --- annotations ---------------------------------------------------------------------------------


def append_annotation(session: Session, ex: Example, annotator: str, kind: str, label_ids: Iterable[int] = (),
                      *, reverts_id: int | None = None, origin: str = "") -> Annotation:
    """Append one action; `origin` names the face it came from ("label", "data", "api", "cli", "import")."""
    if kind not in ("label", "skip", "clear"):
        raise InvalidInputError(f"unknown annotation kind {kind!r}")
    ann = Annotation(example_id=ex.id, annotator=annotator, kind=kind, reverts_id=reverts_id, origin=origin)
    ann.labels = [AnnotationLabel(label_id=i) for i in label_ids]
    session.add(ann)
    session.flush()
    return ann


def last_undoable(session: Session, dataset_id: int, annotator: str, origin: str | None = None) -> Annotation | None:
    """The annotator's most recent action in a dataset that is neither an undo nor already undone
    (only actions made from `origin`, e.g. the Label tab, when given)."""
    undone = select(Annotation.reverts_id).where(Annotation.reverts_id.is_not(None))
    q = (select(Annotation).join(Example, Example.id == Annotation.example_id)
         .where(Example.dataset_id == dataset_id, Annotation.annotator == annotator, Annotation.reverts_id.is_(None),
                Annotation.id.not_in(undone)))
    if origin is not None:
        q = q.where(Annotation.origin == origin)
    return session.scalars(q.order_by(Annotation.id.desc()).limit(1)).first()


def current_state(session: Session, example_id: int, annotator: str) -> Annotation | None:
    """The annotator's latest row on an example (None: they never acted on it)."""
    return session.scalars(select(Annotation).where(Annotation.example_id == example_id,
                                                    Annotation.annotator == annotator)
                           .order_by(Annotation.id.desc()).limit(1)).first()


def state_before(session: Session, ann: Annotation) -> Annotation | None:
    """The same annotator's latest row on the same example before `ann` (None: no earlier state)."""
    return session.scalars(select(Annotation).where(Annotation.example_id == ann.example_id,
                                                    Annotation.annotator == ann.annotator, Annotation.id < ann.id)
                           .order_by(Annotation.id.desc()).limit(1)).first()


def _latest_ids(dataset_id: int) -> Select:
    return (select(func.max(Annotation.id)).join(Example, Example.id == Annotation.example_id)
            .where(Example.dataset_id == dataset_id).group_by(Annotation.example_id, Annotation.annotator))


def current_states(session: Session, ds: Dataset, example_ids: Sequence[int] | None = None
                   ) -> dict[int, dict[str, AnnotatorState]]:
    """Per example, each annotator's latest state (only examples that have any annotation)."""
    names = {lab.id: lab.name for lab in ds.labels}
    q = select(Annotation.id, Annotation.example_id, Annotation.annotator, Annotation.kind).where(
        Annotation.id.in_(_latest_ids(ds.id)))
    if example_ids is None:
        rows = session.execute(q).all()
    else:
        rows = [r for part in chunked(list(example_ids)) for r in session.execute(
            q.where(Annotation.example_id.in_(part))).all()]
    by_ann: dict[int, list[str]] = defaultdict(list)
    for part in chunked([r.id for r in rows if r.kind == "label"]):
        for ann_id, label_id in session.execute(select(AnnotationLabel.annotation_id, AnnotationLabel.label_id)
                                                .where(AnnotationLabel.annotation_id.in_(part))):
            by_ann[ann_id].append(names[label_id])
    out: dict[int, dict[str, AnnotatorState]] = defaultdict(dict)
    for r in rows:
        out[r.example_id][r.annotator] = AnnotatorState(r.kind, tuple(by_ann.get(r.id, ())), r.id)
    return out


def current_labels(session: Session, ds: Dataset, example_ids: Sequence[int] | None = None) -> dict[int, Consensus]:
    """Consensus label per annotated example; retired labels are dropped from the consensus."""
    order = [lab.name for lab in ds.labels]
    retired = {lab.name for lab in ds.labels if lab.retired}
    multi = TaskType(ds.task).is_multi_label
    out = {}
    for ex_id, states in current_states(session, ds, example_ids).items():
        if retired:
            states = {a: AnnotatorState(s.kind, tuple(l for l in s.labels if l not in retired), s.annotation_id)
                      for a, s in states.items()}
            states = {a: s for a, s in states.items() if s.kind != "label" or s.labels}
        out[ex_id] = consensus(states, multi_label=multi, label_order=order)
    return out


def history(session: Session, ds: Dataset, example_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Full annotation history per example, oldest first, as plain dicts (for export and the UI)."""
    names = {lab.id: lab.name for lab in ds.labels}
    # an example's rows all come in one part, oldest first
    anns = [a for part in chunked(list(example_ids)) for a in session.scalars(
        select(Annotation).where(Annotation.example_id.in_(part)).order_by(Annotation.id))]
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for a in anns:
        out[a.example_id].append({"id": a.id, "annotator": a.annotator, "kind": a.kind,
                                  "labels": sorted((names[l.label_id] for l in a.labels),
                                                   key=[lab.name for lab in ds.labels].index),
                                  "created_at": a.created_at.isoformat(timespec="seconds") + "Z",
                                  "reverts_id": a.reverts_id})
    return out


# --- listing and queue ---------------------------------------------------------------------------


def labelled_ids_query(ds: Dataset) -> Select:
    """Example ids that at least one annotator currently labels (the 'labelled' set)."""
    return select(Annotation.example_id).where(Annotation.id.in_(_latest_ids(ds.id)), Annotation.kind == "label")


def live_examples(ds: Dataset) -> Select:
    return select(Example).where(Example.dataset_id == ds.id, Example.deleted_at.is_(None))


def count_examples(session: Session, ds: Dataset) -> tuple[int, int]:
    """(live examples, labelled live examples)."""
    total = session.scalar(select(func.count()).select_from(live_examples(ds).subquery())) or 0
    labelled = session.scalar(select(func.count()).select_from(
        live_examples(ds).where(Example.id.in_(labelled_ids_query(ds))).subquery())) or 0
    return int(total), int(labelled)


def queue_candidates(ds: Dataset, annotator: str, *, exclude: Sequence[int] = ()) -> Select:
    """Example ids an annotator may be offered: live, unlabelled by anyone, not skipped by this annotator.

    Only a filter: how candidates are ranked is the queue service's business (it can see models).
    """
    skipped = select(Annotation.example_id).where(Annotation.id.in_(_latest_ids(ds.id)), Annotation.kind == "skip",
                                                  Annotation.annotator == annotator)
    q = select(Example.id).where(Example.dataset_id == ds.id, Example.deleted_at.is_(None),
                                 Example.id.not_in(labelled_ids_query(ds)), Example.id.not_in(skipped))
    if exclude:
        q = q.where(Example.id.not_in(list(exclude)))
    return q


def search_examples(session: Session, ds: Dataset, *, text: str = "", label: str | None = None,
                    annotator: str | None = None, unlabelled: bool = False, include_deleted: bool = False,
                    limit: int | None = 100, offset: int = 0) -> tuple[list[Example], int]:
    """Filtered page of examples (oldest first, by id; limit None: all) and the total matching count."""
    q = select(Example).where(Example.dataset_id == ds.id)
    if not include_deleted:
        q = q.where(Example.deleted_at.is_(None))
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        q = q.where(or_(Example.text.ilike(pattern, escape="\\"), Example.text_pair.ilike(pattern, escape="\\")))
    if unlabelled:
        q = q.where(Example.id.not_in(labelled_ids_query(ds)))
    if annotator:
        q = q.where(Example.id.in_(select(Annotation.example_id).where(Annotation.annotator == annotator)))
    if label:
        lab = _label(ds, label)
        current = select(Annotation.example_id).join(AnnotationLabel, AnnotationLabel.annotation_id == Annotation.id).where(
            and_(Annotation.id.in_(_latest_ids(ds.id)), Annotation.kind == "label", AnnotationLabel.label_id == lab.id))
        q = q.where(Example.id.in_(current))
    total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
    rows = list(session.scalars(q.order_by(Example.id).limit(limit).offset(offset)))
    return rows, int(total)


def annotators(session: Session, ds: Dataset) -> list[str]:
    return list(session.scalars(select(Annotation.annotator).join(Example, Example.id == Annotation.example_id)
                                .where(Example.dataset_id == ds.id).distinct().order_by(Annotation.annotator)))


def annotator_counts(session: Session, ds: Dataset) -> dict[str, int]:
    rows = session.execute(select(Annotation.annotator, func.count()).where(Annotation.id.in_(_latest_ids(ds.id)),
                                                                           Annotation.kind == "label")
                           .group_by(Annotation.annotator)).all()
    return {a: int(n) for a, n in rows}


def add_label_annotations(session: Session, ds: Dataset, labelled: Sequence[tuple[int, Sequence[str]]],
                          *, annotator: str, origin: str = "import") -> int:
    """Bulk-append one 'label' annotation per (example_id, label names) — for imports of many rows."""
    ids_by_name = {lab.name: lab.id for lab in ds.labels}
    now = utcnow()
    written = 0
    for start in range(0, len(labelled), 500):
        chunk = labelled[start:start + 500]
        ann_ids = session.execute(
            insert(Annotation).returning(Annotation.id, sort_by_parameter_order=True),
            [dict(example_id=ex_id, annotator=annotator, kind="label", created_at=now, origin=origin)
             for ex_id, _ in chunk],
        ).scalars().all()
        links = [dict(annotation_id=a, label_id=ids_by_name[name]) for a, (_, names) in zip(ann_ids, chunk)
                 for name in names]
        if links:
            session.execute(insert(AnnotationLabel), links)
        written += len(ann_ids)
    _after_bulk_insert(session, ["annotations", "annotation_labels"], written)
    return written


def chunked(ids: Sequence[int], size: int = 5000) -> Iterable[Sequence[int]]:
    """Split id lists for IN (...) clauses: every id is a bound parameter, and a statement may have at most
    65,535 of them on PostgreSQL (32,766 or 250,000 on SQLite, as it was built)."""
    for start in range(0, len(ids), size):
        yield ids[start:start + size]
