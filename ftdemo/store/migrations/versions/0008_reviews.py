"""Label-error review: what a reviewer decided about a suspected label.

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-12

A new table only (append-only like annotations): a 'confirm' row says the label the example had then is
right, so the suspects list leaves the example out until its label changes; a 'relabel' row points at the
annotation the reviewer made (an ordinary annotation with origin 'review'); an 'undo' row takes back the
row it reverts. Nothing older changes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviews",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dataset_id", sa.Integer(), sa.ForeignKey("datasets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("example_id", sa.Integer(), sa.ForeignKey("examples.id", ondelete="CASCADE"), nullable=False),
        sa.Column("annotator", sa.String(100), nullable=False),
        sa.Column("verdict", sa.String(8), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("annotation_id", sa.Integer(), sa.ForeignKey("annotations.id", ondelete="CASCADE"), nullable=True),
        sa.Column("reverts_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_reviews_dataset_example", "reviews", ["dataset_id", "example_id"])


def downgrade() -> None:
    op.drop_index("ix_reviews_dataset_example", "reviews")
    op.drop_table("reviews")
