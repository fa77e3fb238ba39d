"""The ORM tables. Annotations are append-only: an example's current label is derived, never stored.

Changing anything here needs a new migration in `migrations/versions/` (tests/store/test_migrations.py
checks that the migrated schema matches these tables).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class Dataset(Base):
    """A labelling project: its task type is fixed at creation, its label set is editable."""

    __tablename__ = "datasets"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    task: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    # what the texts are called here ("" = the task's default: Text, or Premise / Hypothesis for pairs)
    text_name: Mapped[str] = mapped_column(String(40), default="", server_default="")
    pair_name: Mapped[str] = mapped_column(String(40), default="", server_default="")
    # fine-tune every N new labels: None = the app's FTDEMO_RETRAIN_EVERY, 0 = never (services/retrain.py)
    retrain_every: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # labels made (label, bulk label, typed with a label) since the dataset's last training run was created
    labels_since_run: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # agreement: this share of the examples (chosen by example_states.overlap_key) goes to `overlap_k`
    # different annotators before it leaves the queue; the others to one (services/queue.py)
    overlap_share: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    overlap_k: Mapped[int] = mapped_column(Integer, default=2, server_default="2")
    # share of examples reserved for evaluation (the audit sample: derived.audit_key below the cut); 0 = none
    audit_share: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")

    labels: Mapped[list["Label"]] = relationship(
        back_populates="dataset", order_by="Label.position", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"Dataset(id={self.id}, name={self.name!r}, task={self.task!r})"


class Label(Base):
    """One label of a dataset. Renaming keeps the id, so history follows; retiring hides it."""

    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("dataset_id", "name", name="uq_labels_dataset_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    dataset: Mapped[Dataset] = relationship(back_populates="labels")

    def __repr__(self) -> str:
        return f"Label(id={self.id}, name={self.name!r}, retired={self.retired})"


class Example(Base):
    """A text (and for pair tasks a second text). Deleting is soft: `deleted_at` is set."""

    __tablename__ = "examples"
    __table_args__ = (UniqueConstraint("dataset_id", "content_hash", name="uq_examples_dataset_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    text: Mapped[str] = mapped_column(Text)
    text_pair: Mapped[str | None] = mapped_column(Text, nullable=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(200), default="")
    meta: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    deleted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    # the import that added it, while that import is being written (a failed one removes its rows by this)
    import_id: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)

    def __repr__(self) -> str:
        return f"Example(id={self.id}, dataset_id={self.dataset_id}, text={self.text[:30]!r})"


class Annotation(Base):
    """One annotator action on one example: 'label' (with label rows), 'skip', or 'clear'.

    Undo appends a row restoring the annotator's previous state (`reverts_id` names the undone row); the rows
    of one bulk action share a `batch` and are undone together.
    """

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_example_annotator", "example_id", "annotator", "id"),
                      Index("ix_annotations_annotator_id", "annotator", "id"),  # undo: an annotator's latest
                      Index("ix_annotations_reverts_id", "reverts_id"),
                      Index("ix_annotations_batch", "batch"),  # undo of a bulk action: its rows
                      Index("ix_annotations_suggestion", "suggestion_outcome", "suggestion_model"))  # acceptance

    id: Mapped[int] = mapped_column(primary_key=True)
    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    reverts_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id"), nullable=True)
    # which face made it: "label" (Label tab), "data" (Data tab), "api", "cli", "import", "" (before 0003)
    origin: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # the suggestion shown when it was made: label names (None: none shown), the model that made it ("instant"
    # or a version), and "accepted" (chosen as suggested) or "changed"; "" for rows without one
    suggested: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    suggestion_model: Mapped[str] = mapped_column(String(64), default="", server_default="")
    suggestion_outcome: Mapped[str] = mapped_column(String(8), default="", server_default="")
    batch: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the bulk action it is part of

    labels: Mapped[list["AnnotationLabel"]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    def __repr__(self) -> str:
        return f"Annotation(id={self.id}, example_id={self.example_id}, annotator={self.annotator!r}, kind={self.kind!r})"


class AnnotationLabel(Base):
    """The labels chosen in one 'label' annotation (several for multi-label)."""

    __tablename__ = "annotation_labels"

    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True, index=True)

    def __repr__(self) -> str:
        return f"AnnotationLabel(annotation_id={self.annotation_id}, label_id={self.label_id})"


class TrainingRun(Base):
    """One training job (a fine-tune, or an adaptation: see `kind`): its data snapshot, config, live
    progress and outcome.

    status: queued → running → succeeded | failed | cancelled | interrupted. The process running it
    writes `heartbeat_at` every few seconds; a live run whose heartbeat stops is marked 'interrupted'.
    A run queued `for_workers` (FTDEMO_TRAINING=workers) waits, with no process yet, until a training worker
    claims it and writes its name into `worker`.
    """

    __tablename__ = "training_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    # "finetune" trains a classifier version; "adapt" an adapted checkpoint (masked-LM training on the texts)
    kind: Mapped[str] = mapped_column(String(16), default="finetune", server_default="finetune")
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    snapshot_hash: Mapped[str] = mapped_column(String(64), default="")
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # counts + [[example_id, [label_id…]], …]
    environment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # device, library versions
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # latest progress event
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")
    version: Mapped[str] = mapped_column(String(32), default="")  # the model version it produced
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    pid: Mapped[int | None] = mapped_column(Integer, nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # written while it runs
    # where it runs: "host:pid" of the process training it (a worker, the app's child, the CLI); None before
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    for_workers: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"TrainingRun(id={self.id}, dataset_id={self.dataset_id}, status={self.status!r})"


class RunEvent(Base):
    """A progress or evaluation row written by the training process; the UI polls these."""

    __tablename__ = "run_events"
    __table_args__ = (Index("ix_run_events_run_id_id", "run_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("training_runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # "step" | "eval" | "log"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"RunEvent(id={self.id}, run_id={self.run_id}, kind={self.kind!r})"


class ModelVersion(Base):
    """A registered model version (its files live in the registry directory).

    status: 'active' (at most one per dataset), 'candidate' (never active: kept, not serving), 'previous'
    (was active, since replaced), 'deleted'.
    """

    __tablename__ = "model_versions"
    __table_args__ = (UniqueConstraint("dataset_id", "version", name="uq_model_versions_dataset_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    version: Mapped[str] = mapped_column(String(32))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("training_runs.id", ondelete="SET NULL"), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="candidate")
    base_model: Mapped[str] = mapped_column(String(300), default="")
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reason: Mapped[str] = mapped_column(Text, default="")  # why it is (not) active
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)

    def __repr__(self) -> str:
        return f"ModelVersion(id={self.id}, version={self.version!r}, status={self.status!r})"


class Lease(Base):
    """An example handed out to an annotator, held for them until `expires_at` (FTDEMO_LEASE_S), so two
    annotators are not given the same example at once. One per annotator and dataset: the next hand-out
    replaces it, labelling or skipping the example releases it."""

    __tablename__ = "leases"
    __table_args__ = (Index("ix_leases_example_id", "example_id"),)

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    annotator: Mapped[str] = mapped_column(String(100), primary_key=True)
    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)

    def __repr__(self) -> str:
        return f"Lease(example_id={self.example_id}, annotator={self.annotator!r}, expires_at={self.expires_at})"


class Review(Base):
    """A reviewer's decision on a suspected label (append-only). 'confirm': the example's label `labels`
    (sorted names) is right, so it leaves the suspects list until its label changes; 'relabel': the
    reviewer gave it other labels (`annotation_id`, an annotation with origin 'review'); 'undo': takes back
    the row `reverts_id` points at."""

    __tablename__ = "reviews"
    __table_args__ = (Index("ix_reviews_dataset_example", "dataset_id", "example_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(100))
    verdict: Mapped[str] = mapped_column(String(8))  # "confirm" | "relabel" | "undo"
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    annotation_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"), nullable=True)
    reverts_id: Mapped[int | None] = mapped_column(ForeignKey("reviews.id"), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def __repr__(self) -> str:
        return f"Review(id={self.id}, example_id={self.example_id}, verdict={self.verdict!r})"


# --- derived state (store/derived.py keeps it in the same transaction as each change; `rebuild` recomputes it
# --- from the history above, which stays the source of truth) -------------------------------------------------


class AnnotatorState(Base):
    """Each annotator's current action on an example: their latest annotation row."""

    __tablename__ = "annotator_states"
    __table_args__ = (Index("ix_annotator_states_dataset_annotator_kind", "dataset_id", "annotator", "kind"),)

    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True)
    annotator: Mapped[str] = mapped_column(String(100), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    annotation_id: Mapped[int] = mapped_column(ForeignKey("annotations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))

    def __repr__(self) -> str:
        return f"AnnotatorState(example_id={self.example_id}, annotator={self.annotator!r}, kind={self.kind!r})"


class ExampleState(Base):
    """An example's current consensus: labelled or not, by how many annotators, how much they agree."""

    __tablename__ = "example_states"
    __table_args__ = (Index("ix_example_states_queue", "dataset_id", "live", "labelled", "example_id"),
                      Index("ix_example_states_shuffle", "dataset_id", "live", "labelled", "shuffle_key"),
                      Index("ix_example_states_audit", "dataset_id", "live", "labelled", "audit_key"))

    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    live: Mapped[bool] = mapped_column(Boolean, default=True)  # not deleted
    labelled: Mapped[bool] = mapped_column(Boolean, default=False)
    annotators: Mapped[int] = mapped_column(Integer, default=0)  # annotators whose current state is a label
    agreement: Mapped[float] = mapped_column(Float, default=1.0)
    shuffle_key: Mapped[int] = mapped_column(Integer, default=0)  # a hash of the id: the shuffled queue's order
    # another hash of the id (its own salt): below the dataset's overlap_share of 2**31, k annotators label it
    overlap_key: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # another hash of the id (its own salt): in the dataset's audit sample when below derived.audit_cut(share)
    audit_key: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    def __repr__(self) -> str:
        return f"ExampleState(example_id={self.example_id}, labelled={self.labelled}, live={self.live})"


class CurrentLabel(Base):
    """One label of an example's current consensus."""

    __tablename__ = "current_labels"
    __table_args__ = (Index("ix_current_labels_dataset_label", "dataset_id", "label_id"),)

    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True)
    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))

    def __repr__(self) -> str:
        return f"CurrentLabel(example_id={self.example_id}, label_id={self.label_id})"


class DatasetStats(Base):
    """Running totals of a dataset's live examples, so statistics never recount a million rows."""

    __tablename__ = "dataset_stats"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    examples: Mapped[int] = mapped_column(Integer, default=0)
    labelled: Mapped[int] = mapped_column(Integer, default=0)
    multi_annotated: Mapped[int] = mapped_column(Integer, default=0)  # labelled by 2 or more annotators
    conflicts: Mapped[int] = mapped_column(Integer, default=0)  # of those, agreement below 1
    agreement_sum: Mapped[float] = mapped_column(Float, default=0.0)  # over the multi-annotated ones

    def __repr__(self) -> str:
        return f"DatasetStats(dataset_id={self.dataset_id}, examples={self.examples}, labelled={self.labelled})"


class LabelStats(Base):
    """How many live examples currently carry a label."""

    __tablename__ = "label_stats"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    label_id: Mapped[int] = mapped_column(ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"LabelStats(dataset_id={self.dataset_id}, label_id={self.label_id}, n={self.n})"


class AnnotatorStats(Base):
    """Each annotator of a dataset and how many examples they currently label (deleted ones included)."""

    __tablename__ = "annotator_stats"

    dataset_id: Mapped[int] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True)
    annotator: Mapped[str] = mapped_column(String(100), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return f"AnnotatorStats(dataset_id={self.dataset_id}, annotator={self.annotator!r}, n={self.n})"
