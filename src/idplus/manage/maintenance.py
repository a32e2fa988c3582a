"""Housekeeping an operator runs from cron: `idplus db prune`."""

from __future__ import annotations

from idplus.clock import Clock
from idplus.models import AuditEvent
from idplus.store.sql import audit
from idplus.store.sql.engine import Database
from idplus.store.sql.prune import prune_expired


def prune(db: Database, clock: Clock) -> dict[str, int]:
    with db.transaction() as conn:
        deleted = prune_expired(conn, clock.now())
        audit.record_event(conn, AuditEvent("db.pruned", clock.now(), detail=dict(deleted)))
    return deleted
