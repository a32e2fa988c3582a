"""The audit table stays bounded and quick to filter: `idplus db prune` deletes events past
the retention, and `idplus audit list`'s filters have indexes. On both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from idplus.clock import FrozenClock
from idplus.config import Settings
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
