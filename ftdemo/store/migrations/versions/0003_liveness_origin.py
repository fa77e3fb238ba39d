"""Run liveness (heartbeat), where an annotation was made (origin), dataset text column names.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # the training process writes it every few seconds; a live run without a fresh one is dead
    op.add_column("training_runs", sa.Column("heartbeat_at", sa.DateTime(), nullable=True))
    # which face made an annotation: label (the Label tab), data (the Data tab), api, cli, import, ...
    op.add_column("annotations", sa.Column("origin", sa.String(16), nullable=False, server_default=""))
    # what the texts are called in this dataset ("" = the defaults for its task, e.g. premise / hypothesis)
    op.add_column("datasets", sa.Column("text_name", sa.String(40), nullable=False, server_default=""))
    op.add_column("datasets", sa.Column("pair_name", sa.String(40), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("pair_name")
        batch.drop_column("text_name")
    with op.batch_alter_table("annotations") as batch:
        batch.drop_column("origin")
    with op.batch_alter_table("training_runs") as batch:
        batch.drop_column("heartbeat_at")
