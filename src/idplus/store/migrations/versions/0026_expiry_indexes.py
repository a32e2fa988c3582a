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


INDEXES = (
    ("ix_refresh_tokens_expires_at", "refresh_tokens"),
    ("ix_authorization_codes_expires_at", "authorization_codes"),
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, table in INDEXES:
            op.create_index(name, table, ["expires_at"])
        return
    # CONCURRENTLY, outside the migration's transaction: the instances keep issuing and
    # rotating tokens while a table of millions is indexed (a plain CREATE INDEX would block
    # every write to it for the whole build).
    with op.get_context().autocommit_block():
        for name, table in INDEXES:
            op.create_index(
                name, table, ["expires_at"], postgresql_concurrently=True, if_not_exists=True
            )


def downgrade() -> None:
    op.drop_index("ix_authorization_codes_expires_at", table_name="authorization_codes")
    op.drop_index("ix_refresh_tokens_expires_at", table_name="refresh_tokens")
