"""upstream logins in progress (state, nonce, PKCE verifier) and upstream accounts

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("upstream_state_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("upstream_nonce", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("upstream_verifier", sa.String(length=100), nullable=True))
        batch.create_unique_constraint(
            op.f("uq_interactions_upstream_state_hash"), ["upstream_state_hash"]
        )
    op.create_table(
        "upstream_accounts",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_upstream_accounts_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("provider_id", "subject", name=op.f("pk_upstream_accounts")),
    )
    op.create_index(
        op.f("ix_upstream_accounts_user_id"), "upstream_accounts", ["user_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_upstream_accounts_user_id"), table_name="upstream_accounts")
    op.drop_table("upstream_accounts")
    with op.batch_alter_table("interactions") as batch:
        batch.drop_constraint(op.f("uq_interactions_upstream_state_hash"), type_="unique")
        batch.drop_column("upstream_verifier")
        batch.drop_column("upstream_nonce")
        batch.drop_column("upstream_state_hash")
