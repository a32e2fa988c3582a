"""durable outbox; refresh tokens of both fronts in one table; gateway tokens know their grant

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

Gateway refresh tokens now live in refresh_tokens (front = "gateway"), with the families,
rotation and reuse detection of the /connect front. Gateway refresh tokens issued before
this revision are no longer accepted: their partners obtain new ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_deliveries_next_attempt_at"), ["next_attempt_at"], unique=False
        )
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("front", sa.String(length=16), server_default="connect", nullable=False)
        )
    op.execute(sa.text("DELETE FROM gateway_tokens WHERE kind = 'refresh'"))
    with op.batch_alter_table("gateway_tokens", schema=None) as batch_op:
        batch_op.add_column(sa.Column("grant_id", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_gateway_tokens_grant_id"), ["grant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("gateway_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_gateway_tokens_grant_id"))
        batch_op.drop_column("grant_id")
    # Without the column, nothing would keep the gateway's refresh tokens off /connect/token.
    op.execute(sa.text("DELETE FROM refresh_tokens WHERE front = 'gateway'"))
    with op.batch_alter_table("refresh_tokens", schema=None) as batch_op:
        batch_op.drop_column("front")
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deliveries_next_attempt_at"))
    op.drop_table("deliveries")
