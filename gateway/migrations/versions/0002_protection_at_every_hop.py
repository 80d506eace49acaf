"""Protection rules at every hop: what the outbox needs to decide again before each attempt,
cancellation reasons, second approval, and the weighing of a child's view.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from gateway.kit.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("subject_ref", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("carried_fields", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("inbox_url", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(length=80), nullable=True))
    with op.batch_alter_table("referrals") as batch:
        batch.add_column(sa.Column("status_reason", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("submitted_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("approved_by", sa.String(length=128), nullable=True))
    with op.batch_alter_table("consents") as batch:
        batch.add_column(sa.Column("child_view_weighing", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("consents") as batch:
        batch.drop_column("child_view_weighing")
    with op.batch_alter_table("referrals") as batch:
        batch.drop_column("approved_by")
        batch.drop_column("submitted_at")
        batch.drop_column("status_reason")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("cancel_reason")
        batch.drop_column("inbox_url")
        batch.drop_column("carried_fields")
        batch.drop_column("subject_ref")
