"""the passkey a login in progress was verified with (stage passkey_verified)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # No foreign key: the login is finished (or refused) by a GET that reads the passkey
    # again, and a passkey removed in between must not hold the login row back.
    with op.batch_alter_table("interactions") as batch:
        batch.add_column(sa.Column("passkey_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("interactions") as batch:
        batch.drop_column("passkey_id")
