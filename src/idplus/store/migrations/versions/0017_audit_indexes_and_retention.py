"""audit events: indexes for `idplus audit list` (by user, by client, by event name or name
prefix, each newest first); `idplus db prune` deletes events past IDPLUS_AUDIT_RETENTION_DAYS
by the existing index on `at`

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-08
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_events_user_id_id", "audit_events", ["user_id", "id"])
    op.create_index("ix_audit_events_client_id_id", "audit_events", ["client_id", "id"])
    # `--event user.*` is LIKE 'user.%': under a non-C collation PostgreSQL uses a btree for a
    # prefix only with pattern ops (which serve `=` as well).
    op.create_index(
        "ix_audit_events_event_id",
        "audit_events",
        ["event", "id"],
        postgresql_ops={"event": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_event_id", table_name="audit_events")
    op.drop_index("ix_audit_events_client_id_id", table_name="audit_events")
    op.drop_index("ix_audit_events_user_id_id", table_name="audit_events")
