"""The audit table stays bounded and quick to filter: `idplus db prune` deletes events past
the retention, and `idplus audit list`'s filters have indexes. On both backends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage import maintenance
from idplus.manage.maintenance import prune
from idplus.models import AuditEvent
from idplus.store.base import Store
from idplus.store.sql.engine import Database


def test_prune_deletes_audit_events_older_than_the_retention(
    store: Store, clock: FrozenClock
) -> None:
    now = clock.now()
    with store.transaction() as uow:
        uow.audit.record(AuditEvent("login.failed", now - timedelta(days=31), client_id="old"))
        uow.audit.record(AuditEvent("login.failed", now - timedelta(days=29), client_id="kept"))

    deleted = prune(store, clock, audit_retention=timedelta(days=30))

    assert deleted["audit_events"] == 1
    with store.reading() as uow:
        left = uow.audit.list_events(10, events=("login.*",))
    assert [e.client_id for e in left] == ["kept"]


def test_a_backlog_of_old_events_is_pruned_in_batches(
    store: Store, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each batch is its own short transaction: the server's writes go on between them."""
    monkeypatch.setattr(maintenance, "AUDIT_BATCH", 3)
    old = clock.now() - timedelta(days=400)
    with store.transaction() as uow:
        for number in range(8):
            uow.audit.record(AuditEvent("login.failed", old, client_id=f"old-{number}"))
        uow.audit.record(AuditEvent("login.failed", clock.now(), client_id="kept"))
    transactions: list[int] = []
    real_transaction = store.transaction

    def counted_transaction() -> Any:
        transactions.append(1)
        return real_transaction()

    monkeypatch.setattr(store, "transaction", counted_transaction)

    assert maintenance.prune(store, clock, audit_retention=timedelta(days=365))["audit_events"] == 8
    # Batches of 3, 3, 2 (the last, short one ends it), then the rest of the prune.
    assert len(transactions) == 4
    with store.reading() as uow:
        assert [e.client_id for e in uow.audit.list_events(10, events=("login.*",))] == ["kept"]


def test_the_retention_is_a_setting_of_at_least_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().audit_retention_days == 365
    monkeypatch.setenv("IDPLUS_AUDIT_RETENTION_DAYS", "30")
    assert Settings().audit_retention_days == 30
    monkeypatch.setenv("IDPLUS_AUDIT_RETENTION_DAYS", "0")
    with pytest.raises(ValidationError):
        Settings()


def test_audit_list_filters_have_indexes(db: Database) -> None:
    indexes = sa.inspect(db.engine).get_indexes("audit_events")
    columns = {tuple(index["column_names"]) for index in indexes}
    assert {("user_id", "id"), ("client_id", "id"), ("event", "id"), ("at",)} <= columns
