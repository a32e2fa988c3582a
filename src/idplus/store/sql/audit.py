"""The audit trail: an append-only record of credential and registry changes."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import AuditEvent
from idplus.store.sql.tables import audit_events


class SqlAudit:
    """The audit trail: an append-only record of credential and registry changes."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, event: AuditEvent) -> None:
        self._conn.execute(
            sa.insert(audit_events).values(
                at=event.at,
                event=event.event,
                client_id=event.client_id,
                user_id=event.user_id,
                detail=dict(event.detail),
            )
        )

    def list_events(self, limit: int = 100) -> list[AuditEvent]:
        rows = self._conn.execute(
            sa.select(audit_events).order_by(audit_events.c.id.desc()).limit(limit)
        ).all()
        return [
            AuditEvent(
                event=row.event,
                at=row.at,
                client_id=row.client_id,
                user_id=row.user_id,
                detail=dict(row.detail),
            )
            for row in rows
        ]
