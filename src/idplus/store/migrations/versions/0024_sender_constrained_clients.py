"""DPoP-bound codes and refresh tokens; per-client DPoP, signing algorithm and FAPI 2.0 profile

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        # Plain-string defaults: SQLite's ADD COLUMN takes only literals.
        batch.add_column(
            sa.Column("require_dpop", sa.Boolean(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("signing_alg", sa.String(16), nullable=False, server_default="RS256")
        )
        batch.add_column(sa.Column("profile", sa.String(16), nullable=True))
    with op.batch_alter_table("authorization_codes") as batch:
        batch.add_column(sa.Column("dpop_jkt", sa.String(64), nullable=True))
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.add_column(sa.Column("dpop_jkt", sa.String(64), nullable=True))


def downgrade() -> None:
    # The version before signs as RS256 with the newest key of any algorithm: it must find
    # only RS256 keys (tokens signed PS256 or ES256 are refused by it anyway).
    op.execute("DELETE FROM signing_keys WHERE alg <> 'RS256'")
    with op.batch_alter_table("refresh_tokens") as batch:
        batch.drop_column("dpop_jkt")
    with op.batch_alter_table("authorization_codes") as batch:
        batch.drop_column("dpop_jkt")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("profile")
        batch.drop_column("signing_alg")
        batch.drop_column("require_dpop")
