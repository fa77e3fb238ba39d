"""Training workers: where a run trains (`worker`), and whether it waits for a worker to claim it.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # "host:pid" of the process training the run (a worker, the app's child, the CLI); NULL until one starts it
    op.add_column("training_runs", sa.Column("worker", sa.String(200), nullable=True))
    # queued by an app with FTDEMO_TRAINING=workers: no process is meant to run it until a worker claims it
    op.add_column("training_runs", sa.Column("for_workers", sa.Boolean(), nullable=False,
                                             server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("training_runs") as batch:
        batch.drop_column("for_workers")
        batch.drop_column("worker")
