"""CIBA: requests as the flow needs them (flow, approval link, browser binding, poll pacing,
ping), and the clients' ping notification endpoint

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The placeholder table of 0001 never held a row: replaced outright.
    op.drop_table("ciba_requests")
    op.create_table(
        "ciba_requests",
        sa.Column("auth_req_id_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("flow", sa.String(length=16), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("binding_message", sa.String(length=64), nullable=True),
        sa.Column("approval_hash", sa.String(length=64), nullable=False),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.Column("ping_sealed", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("next_poll_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("polled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"],
            name=op.f("fk_ciba_requests_client_id_clients"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sso_sessions.id"],
            name=op.f("fk_ciba_requests_session_id_sso_sessions"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_ciba_requests_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("auth_req_id_hash", name=op.f("pk_ciba_requests")),
        sa.UniqueConstraint("approval_hash", name=op.f("uq_ciba_requests_approval_hash")),
    )  # fmt: skip
    op.create_index(op.f("ix_ciba_requests_client_id"), "ciba_requests", ["client_id"])
    op.create_index(op.f("ix_ciba_requests_session_id"), "ciba_requests", ["session_id"])
    op.create_index(op.f("ix_ciba_requests_user_id"), "ciba_requests", ["user_id"])
    op.create_index(op.f("ix_ciba_requests_expires_at"), "ciba_requests", ["expires_at"])
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column("backchannel_client_notification_endpoint", sa.Text(), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("backchannel_client_notification_endpoint")
    op.drop_table("ciba_requests")
    op.create_table(
        "ciba_requests",
        sa.Column("auth_req_id_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=True),
        sa.Column("session_id", sa.String(length=64), nullable=True),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("login_hint", sa.String(length=320), nullable=True),
        sa.Column("login_hint_token", sa.Text(), nullable=True),
        sa.Column("binding_message", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("auth_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acr", sa.String(length=100), nullable=True),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("idp", sa.String(length=100), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"],
            name=op.f("fk_ciba_requests_client_id_clients"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sso_sessions.id"],
            name=op.f("fk_ciba_requests_session_id_sso_sessions"), ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"],
            name=op.f("fk_ciba_requests_user_id_users"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("auth_req_id_hash", name=op.f("pk_ciba_requests")),
    )  # fmt: skip
    op.create_index(op.f("ix_ciba_requests_client_id"), "ciba_requests", ["client_id"])
    op.create_index(op.f("ix_ciba_requests_session_id"), "ciba_requests", ["session_id"])
    op.create_index(op.f("ix_ciba_requests_user_id"), "ciba_requests", ["user_id"])
