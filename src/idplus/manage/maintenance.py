"""Housekeeping an operator runs from cron: `idplus db prune`."""

from __future__ import annotations

from idplus.clock import Clock
from idplus.models import AuditEvent
from idplus.store.base import Store


def prune(store: Store, clock: Clock) -> dict[str, int]:
    with store.transaction() as uow:
        deleted = uow.maintenance.prune_expired(clock.now())
        uow.audit.record(AuditEvent("db.pruned", clock.now(), detail=dict(deleted)))
    return deleted
