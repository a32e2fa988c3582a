"""Housekeeping an operator runs from cron: `idplus db prune`."""

from __future__ import annotations

from datetime import timedelta

from idplus.clock import Clock
from idplus.models import AuditEvent
from idplus.store.base import Store

# Audit events deleted per transaction: each batch holds the write lock briefly.
AUDIT_BATCH = 10_000


def prune(store: Store, clock: Clock, *, audit_retention: timedelta) -> dict[str, int]:
    """Delete expired rows, and audit events older than `audit_retention` (in batches; the
    server keeps writing between them)."""
    now = clock.now()
    audit_deleted = 0
    while True:
        with store.transaction() as uow:
            batch = uow.maintenance.prune_audit_events(now - audit_retention, AUDIT_BATCH)
        audit_deleted += batch
        if batch < AUDIT_BATCH:
            break
    with store.transaction() as uow:
        deleted = {**uow.maintenance.prune_expired(now), "audit_events": audit_deleted}
        uow.audit.record(AuditEvent("db.pruned", now, detail=dict(deleted)))
    return deleted
