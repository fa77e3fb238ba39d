"""Agreement: a per-dataset overlap setting (a share of the examples goes to k annotators) and the fixed
hash of each example that decides whether it is one of that share.

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-12

The dataset columns' defaults are true of older datasets (no overlap, k = 2 when one is set). The examples'
overlap key is a hash of their id (store/derived.overlap_key), computed here for the rows that exist, in
batches; newer rows get theirs when they are added.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BATCH = 5000


def _overlap_key(example_id: int) -> int:
    # a copy of store/derived.overlap_key as it was when this revision was written: a migration must not
    # change when the app's code does
    digest = hashlib.blake2b(b"ftdemo-overlap-v1:" + str(int(example_id)).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big") >> 1


def upgrade() -> None:
    op.add_column("datasets", sa.Column("overlap_share", sa.Float(), nullable=False, server_default="0"))
    op.add_column("datasets", sa.Column("overlap_k", sa.Integer(), nullable=False, server_default="2"))
    op.add_column("example_states", sa.Column("overlap_key", sa.Integer(), nullable=False, server_default="0"))
    conn = op.get_bind()
    states = sa.table("example_states", sa.column("example_id", sa.Integer), sa.column("overlap_key", sa.Integer))
    after = 0
    while True:  # keyset batches: each as fast as the first, however many examples the database holds
        ids = conn.execute(sa.select(states.c.example_id).where(states.c.example_id > after)
                           .order_by(states.c.example_id).limit(BATCH)).scalars().all()
        if not ids:
            break
        conn.execute(states.update().where(states.c.example_id == sa.bindparam("e"))
                     .values(overlap_key=sa.bindparam("k")), [{"e": i, "k": _overlap_key(i)} for i in ids])
        after = ids[-1]


def downgrade() -> None:
    with op.batch_alter_table("example_states") as batch:
        batch.drop_column("overlap_key")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("overlap_k")
        batch.drop_column("overlap_share")
