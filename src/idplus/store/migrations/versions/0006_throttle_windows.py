"""throttle counts per fixed window: no separate lock column

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04

A key's window now starts with its first attempt and refuses once full until it ends; a
successful login's refund makes room at once, which a stored lock could not.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_column("locked_until")


def downgrade() -> None:
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
