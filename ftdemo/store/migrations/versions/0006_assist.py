"""The model helps label: the suggestion each annotation was made with, bulk actions, leases on handed-out
examples, and retraining as labels arrive.

Revision ID: 0006
Revises: 0005
Create Date: 2027-01-05

Every new column has a default that is true of the rows before it (no suggestion shown, no batch, the app's
default retraining interval, no labels counted yet), so upgrading rewrites nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # what the annotator was shown: the suggested label names (NULL: no suggestion), which model made it, and
    # whether they took it ("accepted") or chose otherwise ("changed")
    op.add_column("annotations", sa.Column("suggested", sa.JSON(), nullable=True))
    op.add_column("annotations", sa.Column("suggestion_model", sa.String(64), nullable=False, server_default=""))
    op.add_column("annotations", sa.Column("suggestion_outcome", sa.String(8), nullable=False, server_default=""))
    # the bulk action a row belongs to (undone as one step); NULL for one-example actions
    op.add_column("annotations", sa.Column("batch", sa.String(32), nullable=True))
    op.create_index("ix_annotations_batch", "annotations", ["batch"])
    op.create_index("ix_annotations_suggestion", "annotations", ["suggestion_outcome", "suggestion_model"])
    # fine-tune every N new labels (NULL: the app's FTDEMO_RETRAIN_EVERY; 0: never), and the labels made
    # since the dataset's last run was created
    op.add_column("datasets", sa.Column("retrain_every", sa.Integer(), nullable=True))
    op.add_column("datasets", sa.Column("labels_since_run", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "leases",
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("annotator", sa.String(100), primary_key=True),
        sa.Column("example_id", sa.Integer(), sa.ForeignKey("examples.id", ondelete="CASCADE"), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_leases_example_id", "leases", ["example_id"])


def downgrade() -> None:
    op.drop_table("leases")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("labels_since_run")
        batch.drop_column("retrain_every")
    op.drop_index("ix_annotations_suggestion", "annotations")
    op.drop_index("ix_annotations_batch", "annotations")
    with op.batch_alter_table("annotations") as batch:
        batch.drop_column("batch")
        batch.drop_column("suggestion_outcome")
        batch.drop_column("suggestion_model")
        batch.drop_column("suggested")
