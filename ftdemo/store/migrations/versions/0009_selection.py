"""Honest model selection: a per-dataset audit sample, kept out of training and of the model-ranked queue.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30

`datasets.audit_share`: the share of examples reserved for evaluation (0, the default, is true of every
dataset before: no audit sample). `example_states.audit_key`: a fixed salted hash of the example id
(store/derived.audit_key, its own salt, so not correlated with shuffle_key); an example belongs to the
audit sample when its key is below the share. Existing rows get their key here; rows made later get it
when the example is added (or rebuilt).
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_SALT = b"ftdemo-audit-v1:"  # = store/derived._AUDIT_SALT; copied, as a migration must not change with the app


def _key(example_id: int) -> int:
    return int.from_bytes(hashlib.blake2b(_SALT + str(int(example_id)).encode(), digest_size=4).digest(), "big") >> 1


def upgrade() -> None:
    op.add_column("datasets", sa.Column("audit_share", sa.Float(), nullable=False, server_default="0"))
    op.add_column("example_states", sa.Column("audit_key", sa.Integer(), nullable=False, server_default="0"))
    conn = op.get_bind()
    ids = conn.execute(sa.text("SELECT example_id FROM example_states")).scalars().all()
    states = sa.table("example_states", sa.column("example_id", sa.Integer), sa.column("audit_key", sa.Integer))
    for start in range(0, len(ids), 2000):
        conn.execute(states.update().where(states.c.example_id == sa.bindparam("eid"))
                     .values(audit_key=sa.bindparam("key")),
                     [{"eid": i, "key": _key(i)} for i in ids[start:start + 2000]])
    op.create_index("ix_example_states_audit", "example_states", ["dataset_id", "live", "labelled", "audit_key"])


def downgrade() -> None:
    op.drop_index("ix_example_states_audit", "example_states")
    with op.batch_alter_table("example_states") as batch:
        batch.drop_column("audit_key")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("audit_share")
