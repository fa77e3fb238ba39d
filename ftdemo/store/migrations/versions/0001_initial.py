"""Initial schema: datasets, labels, examples, append-only annotations.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("task", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
    )
    op.create_table(
        "labels",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("dataset_id", "name", name="uq_labels_dataset_name"),
    )
    op.create_index("ix_labels_dataset_id", "labels", ["dataset_id"])
    op.create_table(
        "examples",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_pair", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(100), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("dataset_id", "content_hash", name="uq_examples_dataset_hash"),
    )
    op.create_index("ix_examples_dataset_id", "examples", ["dataset_id"])
    op.create_table(
        "annotations",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("example_id", sa.Integer(), sa.ForeignKey("examples.id", ondelete="CASCADE"), nullable=False),
        sa.Column("annotator", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("reverts_id", sa.Integer(), sa.ForeignKey("annotations.id"), nullable=True),
    )
    op.create_index("ix_annotations_example_annotator", "annotations", ["example_id", "annotator", "id"])
    op.create_table(
        "annotation_labels",
        sa.Column("annotation_id", sa.Integer(), sa.ForeignKey("annotations.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("label_id", sa.Integer(), sa.ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_annotation_labels_label_id", "annotation_labels", ["label_id"])


def downgrade() -> None:
    for table in ("annotation_labels", "annotations", "examples", "labels", "datasets"):
        op.drop_table(table)
