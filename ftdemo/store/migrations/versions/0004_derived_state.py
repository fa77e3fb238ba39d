"""Derived state for scale: each annotator's current state, each example's consensus, running totals;
import tags; indexes for undo.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

The tables start empty; `Database()` fills them for every dataset from its history after migrating
(`ftdemo.store.derived.rebuild`), so this file holds no application logic.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _fk(column: str, ref: str) -> sa.Column:
    return sa.Column(column, sa.Integer(), sa.ForeignKey(ref, ondelete="CASCADE"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "annotator_states",
        sa.Column("example_id", sa.Integer(), sa.ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("annotator", sa.String(100), primary_key=True),
        _fk("dataset_id", "datasets.id"),
        _fk("annotation_id", "annotations.id"),
        sa.Column("kind", sa.String(10), nullable=False),
    )
    op.create_index("ix_annotator_states_dataset_annotator_kind", "annotator_states",
                    ["dataset_id", "annotator", "kind"])
    op.create_table(
        "example_states",
        sa.Column("example_id", sa.Integer(), sa.ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True),
        _fk("dataset_id", "datasets.id"),
        sa.Column("live", sa.Boolean(), nullable=False),
        sa.Column("labelled", sa.Boolean(), nullable=False),
        sa.Column("annotators", sa.Integer(), nullable=False),
        sa.Column("agreement", sa.Float(), nullable=False),
        sa.Column("shuffle_key", sa.Integer(), nullable=False),
    )
    op.create_index("ix_example_states_queue", "example_states", ["dataset_id", "live", "labelled", "example_id"])
    op.create_index("ix_example_states_shuffle", "example_states", ["dataset_id", "live", "labelled", "shuffle_key"])
    op.create_table(
        "current_labels",
        sa.Column("example_id", sa.Integer(), sa.ForeignKey("examples.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("label_id", sa.Integer(), sa.ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True),
        _fk("dataset_id", "datasets.id"),
    )
    op.create_index("ix_current_labels_dataset_label", "current_labels", ["dataset_id", "label_id"])
    op.create_table(
        "dataset_stats",
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("examples", sa.Integer(), nullable=False),
        sa.Column("labelled", sa.Integer(), nullable=False),
        sa.Column("multi_annotated", sa.Integer(), nullable=False),
        sa.Column("conflicts", sa.Integer(), nullable=False),
        sa.Column("agreement_sum", sa.Float(), nullable=False),
    )
    op.create_table(
        "label_stats",
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("label_id", sa.Integer(), sa.ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.create_table(
        "annotator_stats",
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("annotator", sa.String(100), primary_key=True),
        sa.Column("n", sa.Integer(), nullable=False),
    )
    op.add_column("examples", sa.Column("import_id", sa.String(32), nullable=True))  # no table copy on SQLite
    op.create_index("ix_examples_import_id", "examples", ["import_id"])
    op.create_index("ix_annotations_annotator_id", "annotations", ["annotator", "id"])
    op.create_index("ix_annotations_reverts_id", "annotations", ["reverts_id"])


def downgrade() -> None:
    op.drop_index("ix_annotations_reverts_id", "annotations")
    op.drop_index("ix_annotations_annotator_id", "annotations")
    with op.batch_alter_table("examples") as batch:
        batch.drop_index("ix_examples_import_id")
        batch.drop_column("import_id")
    for table in ("annotator_stats", "label_stats", "dataset_stats", "current_labels", "example_states",
                  "annotator_states"):
        op.drop_table(table)
