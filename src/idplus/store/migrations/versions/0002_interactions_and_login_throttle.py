"""interactions and login throttle

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("window_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "interactions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=100), nullable=True),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("remember_me", sa.Boolean(), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("otp_hash", sa.String(length=64), nullable=True),
        sa.Column("otp_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("otp_attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["clients.client_id"],
            name=op.f("fk_interactions_client_id_clients"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_sessions.id"],
            name=op.f("fk_interactions_session_id_sso_sessions"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_interactions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id_hash", name=op.f("pk_interactions")),
    )
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_interactions_client_id"), ["client_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_interactions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_interactions_session_id"), ["session_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_interactions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("lifetime_seconds", sa.Integer(), server_default="36000", nullable=False)
        )


def downgrade() -> None:

    with op.batch_alter_table("sso_sessions", schema=None) as batch_op:
        batch_op.drop_column("lifetime_seconds")

    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_interactions_user_id"))
        batch_op.drop_index(batch_op.f("ix_interactions_session_id"))
        batch_op.drop_index(batch_op.f("ix_interactions_expires_at"))
        batch_op.drop_index(batch_op.f("ix_interactions_client_id"))

    op.drop_table("interactions")
    op.drop_table("login_throttle")
