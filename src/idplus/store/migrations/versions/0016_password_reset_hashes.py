"""password resets keep HMACs only: of the name given (its budget of wrong codes) and of the
login they started from (whose handle was stored sealed, i.e. in plain text without a
key-encryption key), and that login's client id (the app the code SMS names)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Resets in progress live minutes and cannot be given a name hash: they start again.
    op.execute(sa.text("DELETE FROM password_resets"))
    with op.batch_alter_table("password_resets") as batch:
        batch.drop_column("interaction_sealed")
        batch.add_column(sa.Column("name_hash", sa.String(64), nullable=False))
        batch.add_column(sa.Column("interaction_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("client_id", sa.String(200), nullable=True))


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM password_resets"))
    with op.batch_alter_table("password_resets") as batch:
        batch.drop_column("client_id")
        batch.drop_column("interaction_hash")
        batch.drop_column("name_hash")
        batch.add_column(sa.Column("interaction_sealed", sa.Text(), nullable=True))
