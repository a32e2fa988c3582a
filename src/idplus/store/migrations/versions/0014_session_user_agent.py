"""account page: the browser a session was opened from

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sso_sessions") as batch:
        batch.add_column(sa.Column("user_agent", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sso_sessions") as batch:
        batch.drop_column("user_agent")
