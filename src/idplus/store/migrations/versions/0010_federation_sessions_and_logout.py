"""federation: the upstream side of a session (subject, ID token, refresh token), upstream
logouts in progress, identity-assurance mapping per provider, and lookups by e-mail / phone

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-13
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sso_sessions") as batch:
        batch.add_column(sa.Column("upstream_subject", sa.String(length=255), nullable=True))
    with op.batch_alter_table("upstream_providers") as batch:
        batch.add_column(sa.Column("ial_claim", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("ial_values", sa.JSON(), nullable=True))
    op.create_index(op.f("ix_users_email"), "users", ["email"], unique=False)
    op.create_index(op.f("ix_users_phone_number"), "users", ["phone_number"], unique=False)
    op.create_table(
        "upstream_session_tokens",
        sa.Column("session_id", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("id_token", sa.Text(), nullable=False),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sso_sessions.id"],
            name=op.f("fk_upstream_session_tokens_session_id_sso_sessions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_upstream_session_tokens")),
    )
    op.create_table(
        "upstream_logouts",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("next_url", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("pk_upstream_logouts")),
    )


def downgrade() -> None:
    op.drop_table("upstream_logouts")
    op.drop_table("upstream_session_tokens")
    op.drop_index(op.f("ix_users_phone_number"), table_name="users")
    op.drop_index(op.f("ix_users_email"), table_name="users")
    with op.batch_alter_table("upstream_providers") as batch:
        batch.drop_column("ial_values")
        batch.drop_column("ial_claim")
    with op.batch_alter_table("sso_sessions") as batch:
        batch.drop_column("upstream_subject")
