"""indexes on the expiry of refresh tokens and authorization codes: `idplus db prune` deletes
their expired rows oldest first along the index, a batch at a time, instead of scanning the
whole table for every batch (make bench-cluster: a million rows per table)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_refresh_tokens_expires_at", "refresh_tokens", ["expires_at"])
    op.create_index("ix_authorization_codes_expires_at", "authorization_codes", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_authorization_codes_expires_at", table_name="authorization_codes")
    op.drop_index("ix_refresh_tokens_expires_at", table_name="refresh_tokens")
