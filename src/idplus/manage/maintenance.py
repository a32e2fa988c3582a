"""Housekeeping an operator runs from cron: `idplus db prune`."""

from __future__ import annotations

from datetime import timedelta

from idplus.clock import Clock
from idplus.models import AuditEvent
from idplus.store.base import Store


def prune(store: Store, clock: Clock, *, audit_retention: timedelta) -> dict[str, int]:
    """Delete expired rows, and audit events older than `audit_retention`."""
    now = clock.now()
    with store.transaction() as uow:
        deleted = uow.maintenance.prune_expired(now, audit_before=now - audit_retention)
        uow.audit.record(AuditEvent("db.pruned", now, detail=dict(deleted)))
    return deleted
