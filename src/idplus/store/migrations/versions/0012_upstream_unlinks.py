"""upstream accounts a user disconnected (never linked to them again)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "upstream_unlinks",
        sa.Column("provider_id", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_upstream_unlinks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "provider_id", "subject", "user_id", name=op.f("pk_upstream_unlinks")
        ),
    )


def downgrade() -> None:
    op.drop_table("upstream_unlinks")
