"""session cookie handles stored as HMACs; SMS codes counted per login

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04

Sessions created before this revision keep their public id (their tokens stay valid) but no
cookie reaches them any more: their users log in once more.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handle_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_sso_sessions_handle_hash"), ["handle_hash"]
        )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("otp_sends", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("otp_sent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_column("otp_sent_at")
        batch_op.drop_column("otp_sends")
    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_sso_sessions_handle_hash"), type_="unique")
        batch_op.drop_column("handle_hash")
