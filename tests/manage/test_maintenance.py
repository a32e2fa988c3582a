"""`idplus db prune` deletes what can no longer matter, and nothing that still can."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from idplus.clock import FrozenClock
from idplus.manage import maintenance
from idplus.manage.maintenance import prune
from idplus.models import AuditEvent, Delivery
from idplus.store.base import Store
from idplus.store.sql.tables import sso_sessions
from tests.harness import Harness, code_from_login, exchange_code, refresh

A_YEAR = timedelta(days=365)


def test_prune_deletes_only_expired_rows(store: Store, clock: FrozenClock) -> None:
    now = clock.now()
    with store.transaction() as uow:
        uow.revoked_access_tokens.revoke("old", now - timedelta(seconds=1))
        uow.revoked_access_tokens.revoke("live", now + timedelta(hours=1))

    deleted = prune(store, clock, audit_retention=A_YEAR)

    assert deleted["revoked_access_tokens"] == 1
    with store.reading() as uow:
        assert uow.revoked_access_tokens.is_revoked("live")
        assert not uow.revoked_access_tokens.is_revoked("old")
    assert prune(store, clock, audit_retention=A_YEAR)["revoked_access_tokens"] == 0


def test_prune_keeps_pending_deliveries_and_drops_old_finished_ones(
    store: Store, clock: FrozenClock
) -> None:
    now = clock.now()
    with store.transaction() as uow:
        for delivery_id in ("old-done", "recent-done", "pending"):
            uow.deliveries.enqueue(
                Delivery(
                    id=delivery_id,
                    kind="backchannel_logout",
                    target="https://rp.example/bcl",
                    payload={"logout_token": "x"},
                    status="pending",
                    attempts=0,
                    next_attempt_at=now - timedelta(days=10),
                    created_at=now - timedelta(days=10),
                )
            )
        uow.deliveries.mark_delivered("old-done", now - timedelta(days=8))
        uow.deliveries.mark_delivered("recent-done", now - timedelta(days=1))

    assert prune(store, clock, audit_retention=A_YEAR)["deliveries"] == 1
    with store.reading() as uow:
        assert uow.deliveries.find("old-done") is None
        assert uow.deliveries.find("recent-done") is not None
        assert uow.deliveries.find("pending") is not None


def test_prune_records_what_it_deleted_per_table(store: Store, clock: FrozenClock) -> None:
    now = clock.now()
    with store.transaction() as uow:
        uow.audit.record(AuditEvent("user.added", now - A_YEAR - timedelta(days=1), user_id="u"))
        uow.audit.record(AuditEvent("user.removed", now - timedelta(days=1), user_id="u"))
        uow.revoked_access_tokens.revoke("old", now - timedelta(seconds=1))

    deleted = prune(store, clock, audit_retention=A_YEAR)

    assert (deleted["audit_events"], deleted["revoked_access_tokens"]) == (1, 1)
    with store.reading() as uow:
        (event,) = uow.audit.list_events(events=("db.pruned",))
        kept = [e.event for e in uow.audit.list_events()]
    assert (event.client_id, event.user_id, event.detail) == (None, None, deleted)
    assert kept == ["db.pruned", "user.removed"]


def test_a_backlog_of_expired_rows_is_pruned_in_short_transactions(
    store: Store, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Millions of expired tokens go a batch per table and transaction: the server's writes
    go on between them (make bench-cluster measures it at 10^6 rows)."""
    monkeypatch.setattr(maintenance, "EXPIRED_BATCH", 2)
    now = clock.now()
    with store.transaction() as uow:
        for number in range(5):
            expired_at = now - timedelta(seconds=1 + number)
            uow.revoked_access_tokens.revoke(f"old-{number}", expired_at)
        uow.revoked_access_tokens.revoke("live", now + timedelta(hours=1))
    transactions: list[int] = []
    real_transaction = store.transaction

    def counted_transaction() -> Any:
        transactions.append(1)
        return real_transaction()

    monkeypatch.setattr(store, "transaction", counted_transaction)

    deleted = maintenance.prune(store, clock, audit_retention=A_YEAR)

    assert deleted["revoked_access_tokens"] == 5
    # One for the audit events, then batches of 2, 2 and 1 (the short one ends it).
    assert len(transactions) == 4
    with store.reading() as uow:
        assert uow.revoked_access_tokens.is_revoked("live")
        assert not any(uow.revoked_access_tokens.is_revoked(f"old-{n}") for n in range(5))
        (event,) = uow.audit.list_events(events=("db.pruned",))
    assert event.detail == deleted


def test_a_pruned_session_takes_its_refresh_tokens_with_it(harness: Harness) -> None:
    """A refresh token must not outlive its session's row: with the row gone, the token would
    read as bound to no session, which needs only a user, and work again."""
    secret = harness.add_client(
        "app", client_type="Confidential", scopes=["openid", "offline_access"]
    )
    harness.add_user()
    code = code_from_login(harness, "app", scope="openid offline_access")
    token = exchange_code(harness, code, "app", secret).json()["refresh_token"]
    long_ago = harness.clock.now() - timedelta(days=31)
    database, store = harness.db(), harness.store()
    with database.transaction() as conn:  # the session expired a month ago; the token not yet
        conn.execute(sa.update(sso_sessions).values(expires_at=long_ago))
    database.dispose()
    assert refresh(harness, token, "app", client_secret=secret).status_code == 400

    deleted = prune(store, harness.clock, audit_retention=A_YEAR)
    store.dispose()

    assert deleted["sso_sessions"] == 1
    answer = refresh(harness, token, "app", client_secret=secret)
    assert (answer.status_code, answer.json()["error"]) == (400, "invalid_grant")
