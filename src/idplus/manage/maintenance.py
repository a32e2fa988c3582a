"""Housekeeping an operator runs from cron: `idplus db prune`."""

from __future__ import annotations

from datetime import datetime, timedelta

from idplus.clock import Clock
from idplus.models import AuditEvent
from idplus.store.base import Store, UnitOfWork

# Audit events deleted per transaction: each batch holds the write lock briefly.
AUDIT_BATCH = 10_000
# Expired rows deleted per table and transaction: a backlog of millions (tokens, sessions,
# codes) goes in many short transactions, never one that holds its locks for minutes.
EXPIRED_BATCH = 5_000


def prune(store: Store, clock: Clock, *, audit_retention: timedelta) -> dict[str, int]:
    """Delete expired rows, and audit events older than `audit_retention` (in batches; the
    server keeps writing between them)."""
    now = clock.now()
    audit_deleted = _prune_audit_events(store, now - audit_retention)
    deleted: dict[str, int] = {}
    unfinished: list[str] | None = None
    while True:
        with store.transaction() as uow:
            unfinished = _prune_expired_batch(uow, now, unfinished, deleted)
            if not unfinished:
                deleted["audit_events"] = audit_deleted
                uow.audit.record(AuditEvent("db.pruned", now, detail=dict(deleted)))
                return deleted


def _prune_audit_events(store: Store, before: datetime) -> int:
    deleted = 0
    while True:
        with store.transaction() as uow:
            batch = uow.maintenance.prune_audit_events(before, AUDIT_BATCH)
        deleted += batch
        if batch < AUDIT_BATCH:
            return deleted


def _prune_expired_batch(
    uow: UnitOfWork, now: datetime, unfinished: list[str] | None, deleted: dict[str, int]
) -> list[str]:
    """One transaction's share, added to `deleted`: a batch of every table the first time
    (most have a few rows to delete), then of the first table whose batch came back full,
    alone; the tables left unfinished."""
    only = None if unfinished is None else unfinished[:1]
    by_table = uow.maintenance.prune_expired(now, EXPIRED_BATCH, only)
    for table, count in by_table.items():
        deleted[table] = deleted.get(table, 0) + count
    if unfinished is None:
        return [table for table, count in by_table.items() if count >= EXPIRED_BATCH]
    return unfinished if by_table[unfinished[0]] >= EXPIRED_BATCH else unfinished[1:]
