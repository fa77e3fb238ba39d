"""Queries. Every function takes `session` and never commits: the caller owns the transaction."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Select, and_, case, func, insert, or_, select, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session, aliased

from ftdemo.errors import AlreadyExistsError, InvalidInputError, NotFoundError
from ftdemo.store import derived, leases
from ftdemo.store.consensus import AnnotatorState, Consensus
from ftdemo.store.schema import (
    Annotation,
    AnnotationLabel,
    AnnotatorStats,
    CurrentLabel,
    Dataset,
    DatasetStats,
    Example,
    ExampleState,
    Label,
    LabelStats,
    utcnow,
)
from ftdemo.store.schema import AnnotatorState as AnnotatorStateRow
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
    imported rows took 25 s, of 70,000 six minutes. So bulk inserts refresh them once a table has grown by
    a fifth since its statistics (and by BULK_ANALYZE_ROWS at least): a handful of ANALYZEs over a
    million-row import, not one per chunk. ANALYZE counts the transaction's own new rows; SQLite needs
    nothing (its plans do not depend on statistics here)."""
    if not rows or session.get_bind().dialect.name != "postgresql":
        return
    for table in tables:
        _UNANALYZED[table] = _UNANALYZED.get(table, 0) + rows
        known = session.execute(sql_text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table}).scalar()
        if _UNANALYZED[table] >= max(BULK_ANALYZE_ROWS, 0.2 * max(known or 0, 0)):
            session.execute(sql_text(f"ANALYZE {table}"))
            _UNANALYZED[table] = 0


BULK_ANALYZE_ROWS = 1000
_UNANALYZED: dict[str, int] = {}  # rows this process inserted per table since its last ANALYZE


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
    derived.init_dataset(session, ds)
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
            session.flush()
            derived.refresh(session, ds, derived.examples_with_label(session, ds, existing.id))
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
    derived.refresh(session, ds, derived.examples_with_label(session, ds, lab.id))  # it leaves their consensus
    return lab


# --- examples ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewExample:
    text: str
    text_pair: str | None = None
    source: str = ""
    meta: dict[str, Any] | None = None
    labels: tuple[str, ...] = ()


def existing_hashes(session: Session, dataset_id: int, hashes: Iterable[str]) -> set[str]:
    """Which of these content hashes the dataset already holds (an index lookup per chunk, never the whole set)."""
    found: set[str] = set()
    for part in derived.chunks(list(hashes)):
        found.update(session.scalars(select(Example.content_hash).where(Example.dataset_id == dataset_id,
                                                                        Example.content_hash.in_(part))))
    return found


def add_examples(session: Session, ds: Dataset, items: Sequence[NewExample], *, created_by: str,
                 import_id: str | None = None) -> list[int | None]:
    """Insert examples in bulk; returns the new id per item, or None for a duplicate of a stored one.
    `import_id` tags the rows of an import in progress (a failed import removes them by it)."""
    if not items:
        return []
    hashes = [content_hash(item.text, item.text_pair) for item in items]
    seen = existing_hashes(session, ds.id, hashes)
    now = utcnow()
    rows, positions = [], []
    for i, (item, h) in enumerate(zip(items, hashes)):
        if h in seen:
            continue
        seen.add(h)
        rows.append(dict(dataset_id=ds.id, text=normalize_text(item.text),
                         text_pair=normalize_text(item.text_pair) if item.text_pair is not None else None,
                         content_hash=h, source=item.source, meta=item.meta, created_at=now, created_by=created_by,
                         import_id=import_id))
        positions.append(i)
    ids: list[int | None] = [None] * len(items)
    # Core INSERT … RETURNING (SQLite ≥3.35, PostgreSQL), batched into multi-row statements: each row
    # comes back with its content hash, unique within the dataset, so no row order has to be kept
    # (asking for the order makes SQLAlchemy send SQLite one statement per row).
    table = Example.__table__
    by_hash = dict(session.execute(insert(table).returning(table.c.content_hash, table.c.id), rows).all()) if rows else {}
    for pos, row in zip(positions, rows):
        ids[pos] = by_hash[row["content_hash"]]
    derived.add_examples(session, ds, [i for i in ids if i is not None])
    _after_bulk_insert(session, ["examples", "example_states"], len(rows))
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
    derived.set_live(session, session.get(Dataset, ex.dataset_id), ex.id, restore)


# --- annotations ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shown:
    """The suggestion an annotator saw when acting: its label names and the model that made them."""

    labels: tuple[str, ...]
    model: str = ""

    def outcome(self, chosen: Iterable[str]) -> str:
        """'accepted' when the chosen labels are the suggested ones, else 'changed'."""
        return "accepted" if set(chosen) == set(self.labels) else "changed"


def append_annotation(session: Session, ex: Example, annotator: str, kind: str, label_ids: Iterable[int] = (),
                      *, reverts_id: int | None = None, origin: str = "", shown: Shown | None = None,
                      chosen: Sequence[str] = ()) -> Annotation:
    """Append one action; `origin` names the face it came from ("label", "data", "api", "cli", "import");
    `shown`: the suggestion on screen, recorded with whether `chosen` (the label names) took it."""
    if kind not in ("label", "skip", "clear"):
        raise InvalidInputError(f"unknown annotation kind {kind!r}")
    ann = Annotation(example_id=ex.id, annotator=annotator, kind=kind, reverts_id=reverts_id, origin=origin)
    if shown is not None:
        ann.suggested, ann.suggestion_model = list(shown.labels), shown.model
        ann.suggestion_outcome = shown.outcome(chosen)
    ann.labels = [AnnotationLabel(label_id=i) for i in label_ids]
    session.add(ann)
    session.flush()
    derived.record_annotations(session, session.get(Dataset, ex.dataset_id), [(ann.id, ex.id, annotator, kind)])
    return ann


@dataclass(frozen=True)
class NewAnnotation:
    """One row of a bulk append."""

    example_id: int
    kind: str = "label"
    label_ids: tuple[int, ...] = ()
    reverts_id: int | None = None
    shown: Shown | None = None  # the suggestion on screen when it was made (bulk labelling from a list)
    chosen: tuple[str, ...] = ()  # the label names given, to record whether `shown` was taken


def append_annotations(session: Session, ds: Dataset, items: Sequence[NewAnnotation], *, annotator: str,
                       origin: str, batch: str | None = None) -> list[int]:
    """Bulk-append one annotator's rows (imports, bulk labelling and its undo), with their derived state;
    returns the new ids in the items' order. `batch` tags the rows of one bulk action."""
    now = utcnow()
    ann, links = Annotation.__table__, AnnotationLabel.__table__
    out: list[int] = []
    for start in range(0, len(items), 2000):
        chunk = items[start:start + 2000]
        rows = [dict(example_id=it.example_id, annotator=annotator, kind=it.kind, created_at=now, origin=origin,
                     reverts_id=it.reverts_id, batch=batch) for it in chunk]
        if any(it.shown is not None for it in chunk):
            for row, it in zip(rows, chunk):
                row.update(_suggestion_columns(it))
        if len({it.example_id for it in chunk}) == len(chunk):
            # one row per example: RETURNING the example id says which row got which id, in any order
            by_example = dict(session.execute(insert(ann).returning(ann.c.example_id, ann.c.id), rows).all())
            ann_ids = [by_example[it.example_id] for it in chunk]
        else:  # an example twice: the ids must come back in the rows' order (slower: a statement per row)
            ann_ids = session.execute(insert(ann).returning(ann.c.id, sort_by_parameter_order=True), rows).scalars().all()
        chosen = [dict(annotation_id=a, label_id=lab) for a, it in zip(ann_ids, chunk) for lab in it.label_ids]
        if chosen:
            session.execute(insert(links), chosen)
        derived.record_annotations(session, ds, [(a, it.example_id, annotator, it.kind) for a, it in zip(ann_ids, chunk)])
        out += ann_ids
    _after_bulk_insert(session, ["annotations", "annotation_labels", "annotator_states", "current_labels"], len(out))
    return out


def _suggestion_columns(item: NewAnnotation) -> dict[str, Any]:
    # every row of one insert must name the same columns: rows without a suggestion get the defaults
    if item.shown is None:
        return dict(suggested=None, suggestion_model="", suggestion_outcome="")
    return dict(suggested=list(item.shown.labels), suggestion_model=item.shown.model,
                suggestion_outcome=item.shown.outcome(item.chosen))


def last_undoable(session: Session, dataset_id: int, annotator: str, origin: str | None = None, *,
                  bulk: bool = False, skip_batches: Collection[str] = ()) -> Annotation | None:
    """The annotator's most recent action in a dataset that is neither an undo nor already undone
    (only actions made from `origin`, e.g. the Label tab, when given; only bulk actions with `bulk`; none
    of the bulk actions in `skip_batches`)."""
    undone = select(Annotation.reverts_id).where(Annotation.reverts_id.is_not(None))
    q = (select(Annotation).join(Example, Example.id == Annotation.example_id)
         .where(Example.dataset_id == dataset_id, Annotation.annotator == annotator, Annotation.reverts_id.is_(None),
                Annotation.id.not_in(undone)))
    if origin is not None:
        q = q.where(Annotation.origin == origin)
    if bulk:
        q = q.where(Annotation.batch.is_not(None))
    if skip_batches:
        q = q.where(or_(Annotation.batch.is_(None), Annotation.batch.not_in(list(skip_batches))))
    return session.scalars(q.order_by(Annotation.id.desc()).limit(1)).first()


def current_state(session: Session, example_id: int, annotator: str) -> Annotation | None:
    """The annotator's latest row on an example (None: they never acted on it)."""
    state = session.get(AnnotatorStateRow, (example_id, annotator))
    return session.get(Annotation, state.annotation_id) if state is not None else None


def state_before(session: Session, ann: Annotation) -> Annotation | None:
    """The same annotator's latest row on the same example before `ann` (None: no earlier state)."""
    return session.scalars(select(Annotation).where(Annotation.example_id == ann.example_id,
                                                    Annotation.annotator == ann.annotator, Annotation.id < ann.id)
                           .order_by(Annotation.id.desc()).limit(1)).first()


def current_states(session: Session, ds: Dataset, example_ids: Sequence[int]) -> dict[int, dict[str, AnnotatorState]]:
    """Per example, each annotator's current state (only examples that have any annotation)."""
    names = {lab.id: lab.name for lab in ds.labels}
    out: dict[int, dict[str, AnnotatorState]] = defaultdict(dict)
    for part in derived.chunks(list(example_ids)):
        q = (select(AnnotatorStateRow.example_id, AnnotatorStateRow.annotator, AnnotatorStateRow.kind,
                    AnnotatorStateRow.annotation_id, AnnotationLabel.label_id)
             .outerjoin(AnnotationLabel, AnnotationLabel.annotation_id == AnnotatorStateRow.annotation_id)
             .where(AnnotatorStateRow.example_id.in_(part)))
        for ex_id, who, kind, ann_id, label_id in session.execute(q):
            old = out[ex_id].get(who)
            labels = (old.labels if old else ()) + ((names[label_id],) if label_id is not None else ())
            out[ex_id][who] = AnnotatorState(kind, labels, ann_id)
    return out


def current_labels(session: Session, ds: Dataset, example_ids: Sequence[int]) -> dict[int, Consensus]:
    """The stored consensus of these examples (those nobody labels are left out: UNLABELLED)."""
    names = {lab.id: lab.name for lab in ds.labels}
    order = {lab.id: i for i, lab in enumerate(ds.labels)}
    out: dict[int, Consensus] = {}
    labels: dict[int, list[int]] = defaultdict(list)
    for part in derived.chunks(list(example_ids)):
        for ex_id, label_id in session.execute(select(CurrentLabel.example_id, CurrentLabel.label_id)
                                               .where(CurrentLabel.example_id.in_(part))):
            labels[ex_id].append(label_id)
        for ex_id, n, agreement in session.execute(
                select(ExampleState.example_id, ExampleState.annotators, ExampleState.agreement)
                .where(ExampleState.example_id.in_(part), ExampleState.annotators > 0)):
            out[ex_id] = Consensus(tuple(names[i] for i in sorted(labels[ex_id], key=order.__getitem__)), int(n),
                                   float(agreement))
    return out


def history(session: Session, ds: Dataset, example_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Full annotation history per example, oldest first, as plain dicts (for export and the UI).

    Plain column queries, two per chunk of ids: export reads this for every example, and loading
    ORM objects for a million annotations costs more than the rest of the export together.
    """
    names = {lab.id: lab.name for lab in ds.labels}
    order = {lab.id: i for i, lab in enumerate(ds.labels)}
    out: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for part in derived.chunks(list(example_ids)):
        chosen: dict[int, list[int]] = defaultdict(list)
        for ann_id, label_id in session.execute(
                select(AnnotationLabel.annotation_id, AnnotationLabel.label_id)
                .join(Annotation, Annotation.id == AnnotationLabel.annotation_id)
                .where(Annotation.example_id.in_(part))):
            chosen[ann_id].append(label_id)
        for ann_id, ex_id, annotator, kind, created_at, reverts_id, suggested, model, outcome, batch, origin in session.execute(
                select(Annotation.id, Annotation.example_id, Annotation.annotator, Annotation.kind,
                       Annotation.created_at, Annotation.reverts_id, Annotation.suggested, Annotation.suggestion_model,
                       Annotation.suggestion_outcome, Annotation.batch, Annotation.origin)
                .where(Annotation.example_id.in_(part)).order_by(Annotation.id)):
            out[ex_id].append({"id": ann_id, "annotator": annotator, "kind": kind,
                               "labels": [names[i] for i in sorted(chosen.get(ann_id, ()), key=order.__getitem__)],
                               "created_at": created_at.isoformat(timespec="seconds") + "Z",
                               "reverts_id": reverts_id,
                               # the suggestion on screen (None: none), its model, accepted | changed | ""
                               "suggested": suggested, "suggestion_model": model, "suggestion_outcome": outcome,
                               "batch": batch, "origin": origin})  # the face it came from; "review": a relabel
    return out


def has_pairs(session: Session, ds: Dataset) -> bool:
    """Whether any live example has a second text."""
    return session.scalar(select(live_examples(ds).where(Example.text_pair.is_not(None)).exists())) or False


ExportRow = tuple[int, str, str | None, tuple[str, ...], list[dict[str, Any]]]


def export_pages(session: Session, ds: Dataset, page: int = 2000) -> Iterator[list[ExportRow]]:
    """Every live example as (id, text, text_pair, current labels, history), `page` rows at a time in
    id order. Keyset pages (id > last seen) keep each query as fast as the first, and the caller's
    one read transaction makes the whole export a single consistent snapshot."""
    after = 0
    while True:
        rows = session.execute(select(Example.id, Example.text, Example.text_pair)
                               .where(Example.dataset_id == ds.id, Example.deleted_at.is_(None), Example.id > after)
                               .order_by(Example.id).limit(page)).all()
        if not rows:
            return
        ids = [r[0] for r in rows]
        current, hist = current_labels(session, ds, ids), history(session, ds, ids)
        yield [(i, text, pair, current[i].labels if i in current else (), hist.get(i, []))
               for i, text, pair in rows]
        after = ids[-1]


# --- listing and queue ---------------------------------------------------------------------------


def live_examples(ds: Dataset) -> Select:
    return select(Example).where(Example.dataset_id == ds.id, Example.deleted_at.is_(None))


def dataset_stats(session: Session, ds: Dataset) -> DatasetStats:
    stats = session.get(DatasetStats, ds.id)
    if stats is None:  # a dataset from before the derived tables: Database() backfills at start
        derived.rebuild(session, ds)
        stats = session.get(DatasetStats, ds.id)
    return stats


def count_examples(session: Session, ds: Dataset) -> tuple[int, int]:
    """(live examples, labelled live examples), from the running totals."""
    stats = dataset_stats(session, ds)
    return int(stats.examples), int(stats.labelled)


def label_counts(session: Session, ds: Dataset) -> dict[str, int]:
    """Live examples per active label, in the dataset's label order (0 for labels nobody chose)."""
    n = dict(session.execute(select(LabelStats.label_id, LabelStats.n).where(LabelStats.dataset_id == ds.id)).all())
    return {lab.name: int(n.get(lab.id, 0)) for lab in ds.labels if not lab.retired}


def queue_candidates(ds: Dataset, annotator: str, *, exclude: Sequence[int] = (), overlap: bool = False) -> Select:
    """Example ids an annotator may be offered: live, unlabelled by anyone, not skipped by this annotator, not
    held by another annotator's unexpired lease (unless `overlap`: several annotators label the same examples).

    With the dataset's overlap setting (`overlap_share` > 0), an overlap example (its `overlap_key` below the
    share) stays a candidate after its first label, for annotators who have not labelled it, until
    `overlap_k` annotators have; the lease still keeps it from two annotators at once, so it reaches exactly
    k. Every queue order reads this one filter.

    A query of `ExampleState.example_id` (index ix_example_states_queue), ordered by nothing: how
    candidates are ranked is the queue service's business (it can see models).
    """
    threshold = derived.overlap_threshold(ds.overlap_share or 0.0)
    # their own: skipped, and (with overlap on) labelled too, since an overlap example they labelled stays open
    kind = AnnotatorStateRow.kind.in_(("skip", "label")) if threshold else AnnotatorStateRow.kind == "skip"
    own = select(AnnotatorStateRow.example_id).where(AnnotatorStateRow.dataset_id == ds.id,
                                                     AnnotatorStateRow.annotator == annotator, kind)
    open_ = ExampleState.labelled.is_(False)
    if threshold:
        open_ = or_(open_, and_(ExampleState.overlap_key < threshold,
                                ExampleState.annotators < max(2, int(ds.overlap_k or 2))))
    q = select(ExampleState.example_id).where(ExampleState.dataset_id == ds.id, ExampleState.live.is_(True),
                                              open_, ExampleState.example_id.not_in(own))
    if exclude:
        q = q.where(ExampleState.example_id.not_in(list(exclude)))
    if not overlap:
        q = q.where(ExampleState.example_id.not_in(leases.held_by_others(ds, annotator)))
    return q


def search_examples(session: Session, ds: Dataset, *, text: str = "", label: str | None = None,
                    annotator: str | None = None, unlabelled: bool = False, include_deleted: bool = False,
                    limit: int = 100, offset: int = 0) -> tuple[list[Example], int]:
    """Filtered page of examples (oldest first, by id) and the total matching count."""
    q = select(Example).where(Example.dataset_id == ds.id)
    if not include_deleted:
        q = q.where(Example.deleted_at.is_(None))
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        q = q.where(or_(Example.text.ilike(pattern, escape="\\"), Example.text_pair.ilike(pattern, escape="\\")))
    if unlabelled:
        q = q.where(Example.id.in_(select(ExampleState.example_id).where(ExampleState.dataset_id == ds.id,
                                                                         ExampleState.labelled.is_(False))))
    if annotator:
        q = q.where(Example.id.in_(select(AnnotatorStateRow.example_id).where(AnnotatorStateRow.dataset_id == ds.id,
                                                                              AnnotatorStateRow.annotator == annotator)))
    if label:
        lab = _label(ds, label)
        q = q.where(Example.id.in_(select(CurrentLabel.example_id).where(CurrentLabel.dataset_id == ds.id,
                                                                         CurrentLabel.label_id == lab.id)))
    if not (text or unlabelled or annotator or label or include_deleted):
        total = count_examples(session, ds)[0]  # the whole dataset: the running total, no count(*)
    else:
        total = session.scalar(select(func.count()).select_from(q.with_only_columns(Example.id).subquery())) or 0
    rows = list(session.scalars(q.order_by(Example.id).limit(limit).offset(offset)))
    return rows, int(total)


def annotators(session: Session, ds: Dataset) -> list[str]:
    """Everyone who has acted on the dataset."""
    return list(session.scalars(select(AnnotatorStats.annotator).where(AnnotatorStats.dataset_id == ds.id)
                                .order_by(AnnotatorStats.annotator)))


def annotator_counts(session: Session, ds: Dataset) -> dict[str, int]:
    """Examples each annotator currently labels (those who only skipped are left out)."""
    rows = session.execute(select(AnnotatorStats.annotator, AnnotatorStats.n)
                           .where(AnnotatorStats.dataset_id == ds.id, AnnotatorStats.n > 0)).all()
    return {a: int(n) for a, n in rows}


def conflicts(session: Session, ds: Dataset, limit: int | None) -> list[int]:
    """Live examples whose annotators disagree, lowest agreement first (limit None: all)."""
    q = select(ExampleState.example_id).where(
        ExampleState.dataset_id == ds.id, ExampleState.live.is_(True), ExampleState.annotators > 1,
        ExampleState.agreement < 1.0).order_by(ExampleState.agreement, ExampleState.example_id)
    return list(session.scalars(q.limit(limit) if limit is not None else q))


def overlap_ratings(session: Session, ds: Dataset) -> list[dict[str, frozenset[str]]]:
    """Each live example with two or more annotators whose current state is a label, as {annotator: label
    names} (retired labels left out, as the consensus leaves them out), in example id order: what the
    agreement measures read (store/agreement.py)."""
    names = {lab.id: lab.name for lab in ds.labels if not lab.retired}
    q = (select(AnnotatorStateRow.example_id, AnnotatorStateRow.annotator, AnnotationLabel.label_id)
         .join(ExampleState, ExampleState.example_id == AnnotatorStateRow.example_id)
         .join(AnnotationLabel, AnnotationLabel.annotation_id == AnnotatorStateRow.annotation_id)
         .where(ExampleState.dataset_id == ds.id, ExampleState.live.is_(True), ExampleState.annotators > 1,
                AnnotatorStateRow.kind == "label"))
    items: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for ex_id, annotator, label_id in session.execute(q):
        if label_id in names:
            items[ex_id][annotator].add(names[label_id])
    return [{who: frozenset(chosen) for who, chosen in items[ex].items()} for ex in sorted(items)]


def labelled_snapshot(session: Session, ds: Dataset) -> list[tuple[int, str, str | None, tuple[str, ...]]]:
    """(id, text, text_pair, consensus labels) of every live labelled example, in id order: what training sees."""
    rows = session.execute(select(Example.id, Example.text, Example.text_pair)
                           .join(ExampleState, ExampleState.example_id == Example.id)
                           .where(Example.dataset_id == ds.id, ExampleState.live.is_(True),
                                  ExampleState.labelled.is_(True)).order_by(Example.id)).all()
    consensus_ = current_labels(session, ds, [r[0] for r in rows])
    return [(i, text, pair, consensus_[i].labels) for i, text, pair in rows if i in consensus_]


def live_texts(session: Session, ds: Dataset, *, labelled: bool | None = None
               ) -> list[tuple[int, str, str | None]]:
    """(id, text, text_pair) of the dataset's live examples in id order; `labelled` False: only those nobody
    has labelled (self-training's pool), True: only labelled ones, None: all (what adaptation reads)."""
    q = (select(Example.id, Example.text, Example.text_pair)
         .join(ExampleState, ExampleState.example_id == Example.id)
         .where(Example.dataset_id == ds.id, ExampleState.live.is_(True)))
    if labelled is not None:
        q = q.where(ExampleState.labelled.is_(labelled))
    return [(i, text, pair) for i, text, pair in session.execute(q.order_by(Example.id))]


def add_label_annotations(session: Session, ds: Dataset, labelled: Sequence[tuple[int, Sequence[str]]],
                          *, annotator: str, origin: str = "import", batch: str | None = None,
                          shown: Mapping[int, Shown] | None = None) -> int:
    """Bulk-append one 'label' annotation per (example_id, label names) — for imports of many rows and bulk
    labelling (`batch`: the bulk action's id; `shown`: the suggestion on screen per example id, recorded as
    accepted or changed like a single label's)."""
    ids_by_name = {lab.name: lab.id for lab in ds.labels}
    shown = shown or {}
    items = [NewAnnotation(ex_id, "label", tuple(ids_by_name[name] for name in names), shown=shown.get(ex_id),
                           chosen=tuple(names)) for ex_id, names in labelled]
    return len(append_annotations(session, ds, items, annotator=annotator, origin=origin, batch=batch))


def count_new_labels(session: Session, ds: Dataset, n: int) -> int:
    """Add `n` (less than 0: labels undone) to the labels made since the dataset's last training run, never
    below 0; returns the new count."""
    if n:
        moved = Dataset.labels_since_run + n
        session.execute(update(Dataset).where(Dataset.id == ds.id)
                        .values(labels_since_run=case((moved < 0, 0), else_=moved)))
    return int(session.scalar(select(Dataset.labels_since_run).where(Dataset.id == ds.id)) or 0)


# --- bulk actions and suggestions ----------------------------------------------------------------------


def existing_examples(session: Session, ds: Dataset, example_ids: Sequence[int]) -> dict[int, bool]:
    """Which of these ids are examples of the dataset, and whether each is live (not deleted)."""
    out: dict[int, bool] = {}
    ids = [i for i in example_ids if 0 < i <= MAX_ID]
    for part in derived.chunks(ids):
        out.update((i, deleted is None) for i, deleted in session.execute(
            select(Example.id, Example.deleted_at).where(Example.dataset_id == ds.id, Example.id.in_(part))))
    return out


def own_states(session: Session, example_ids: Sequence[int], annotator: str) -> dict[int, tuple[str, frozenset[int]]]:
    """The annotator's current (kind, label ids) on each of these examples (those they never acted on left out)."""
    out: dict[int, tuple[str, set[int]]] = {}
    for part in derived.chunks(list(example_ids)):
        q = (select(AnnotatorStateRow.example_id, AnnotatorStateRow.kind, AnnotationLabel.label_id)
             .outerjoin(AnnotationLabel, AnnotationLabel.annotation_id == AnnotatorStateRow.annotation_id)
             .where(AnnotatorStateRow.example_id.in_(part), AnnotatorStateRow.annotator == annotator))
        for ex_id, kind, label_id in session.execute(q):
            entry = out.setdefault(ex_id, (kind, set()))
            if label_id is not None:
                entry[1].add(label_id)
    return {ex: (kind, frozenset(labels)) for ex, (kind, labels) in out.items()}


def batch_rows(session: Session, batch: str) -> list[Annotation]:
    """The rows of a bulk action that are not undone yet (the action itself, not undo rows), in id order."""
    undone = select(Annotation.reverts_id).where(Annotation.reverts_id.is_not(None), Annotation.batch == batch)
    return list(session.scalars(select(Annotation).where(Annotation.batch == batch, Annotation.reverts_id.is_(None),
                                                         Annotation.id.not_in(undone)).order_by(Annotation.id)))


def states_before(session: Session, rows: Sequence[Annotation]) -> dict[int, Annotation]:
    """For each row (by its id), the same annotator's latest earlier row on the same example (rows with no
    earlier state are left out): `state_before` for many rows, set-based (ix_annotations_example_annotator)."""
    earlier = aliased(Annotation)
    out: dict[int, Annotation] = {}
    for part in derived.chunks([r.id for r in rows]):
        pairs = dict(session.execute(
            select(Annotation.id, func.max(earlier.id))
            .join(earlier, and_(earlier.example_id == Annotation.example_id, earlier.annotator == Annotation.annotator,
                                earlier.id < Annotation.id))
            .where(Annotation.id.in_(part)).group_by(Annotation.id)).all())
        found = {a.id: a for a in session.scalars(select(Annotation).where(Annotation.id.in_(list(pairs.values()))))}
        out.update((row_id, found[prev]) for row_id, prev in pairs.items())
    return out


OUTCOMES = ("accepted", "changed")


def acceptance(session: Session, ds: Dataset) -> list[tuple[str, int, int]]:
    """(model, accepted, changed) of the dataset's annotations made with a suggestion on screen, undone ones
    left out; one grouped query through ix_annotations_suggestion (it reads only rows that had a suggestion)."""
    undone = select(Annotation.reverts_id).where(Annotation.reverts_id.is_not(None))
    accepted = func.sum(case((Annotation.suggestion_outcome == "accepted", 1), else_=0))
    rows = session.execute(
        select(Annotation.suggestion_model, accepted, func.count())
        .join(Example, Example.id == Annotation.example_id)
        .where(Annotation.suggestion_outcome.in_(OUTCOMES), Example.dataset_id == ds.id,
               Annotation.id.not_in(undone))
        .group_by(Annotation.suggestion_model).order_by(Annotation.suggestion_model)).all()
    return [(model, int(acc or 0), int(n) - int(acc or 0)) for model, acc, n in rows]
