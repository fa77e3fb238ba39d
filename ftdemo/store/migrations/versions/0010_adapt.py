"""Adaptation runs: a training run is a fine-tune or an adaptation (masked-LM training on the dataset's texts).

Revision ID: 0010
Revises: 0009
Create Date: 2027-01-20

The new column's default is true of every row before it: all earlier runs were fine-tunes, so upgrading
rewrites nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "finetune": trains a classifier version; "adapt": trains an adapted checkpoint (models/<dataset>/adapted/)
    op.add_column("training_runs", sa.Column("kind", sa.String(16), nullable=False, server_default="finetune"))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        batch.drop_column("kind")
