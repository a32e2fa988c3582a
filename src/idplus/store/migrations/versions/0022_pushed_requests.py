"""pushed authorization requests (RFC 9126) and the per-client require_pushed_authorization_requests

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-13
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pushed_requests",
        sa.Column("request_uri_hash", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("locale_from_browser", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"], ["clients.client_id"],
            name=op.f("fk_pushed_requests_client_id_clients"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("request_uri_hash", name=op.f("pk_pushed_requests")),
    )  # fmt: skip
    op.create_index(op.f("ix_pushed_requests_client_id"), "pushed_requests", ["client_id"])
    op.create_index(op.f("ix_pushed_requests_expires_at"), "pushed_requests", ["expires_at"])
    with op.batch_alter_table("clients") as batch:
        batch.add_column(
            sa.Column(
                "require_pushed_authorization_requests", sa.Boolean(), nullable=False,
                # A plain literal: SQLite can then add the column in place (an expression
                # default makes it rebuild the table).
                server_default="0",
            )
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("require_pushed_authorization_requests")
    op.drop_index(op.f("ix_pushed_requests_expires_at"), table_name="pushed_requests")
    op.drop_index(op.f("ix_pushed_requests_client_id"), table_name="pushed_requests")
    op.drop_table("pushed_requests")
