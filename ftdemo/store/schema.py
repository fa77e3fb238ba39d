"""The ORM tables. Annotations are append-only: an example's current label is derived, never stored.

Changing anything here needs a new migration in `migrations/versions/` (tests/store/test_migrations.py
checks that the migrated schema matches these tables).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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

    def __repr__(self) -> str:
        return f"Example(id={self.id}, dataset_id={self.dataset_id}, text={self.text[:30]!r})"


class Annotation(Base):
    """One annotator action on one example: 'label' (with label rows), 'skip', or 'clear'.

    Undo appends a row restoring the annotator's previous state (`reverts_id` names the undone row).
    """

    __tablename__ = "annotations"
    __table_args__ = (Index("ix_annotations_example_annotator", "example_id", "annotator", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    example_id: Mapped[int] = mapped_column(ForeignKey("examples.id", ondelete="CASCADE"))
    annotator: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    reverts_id: Mapped[int | None] = mapped_column(ForeignKey("annotations.id"), nullable=True)

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
