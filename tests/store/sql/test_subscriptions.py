"""Subscription requests in the store, on SQLite and PostgreSQL: one pending request per app and
product even when several are sent at once, a request decided once, and pages oldest first."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from idplus.models import (
    SUBSCRIPTION_APPROVED,
    SUBSCRIPTION_PENDING,
    SUBSCRIPTION_REJECTED,
    Client,
    Company,
    SubscriptionRequest,
)
from idplus.policies import ClientType
from idplus.store.base import Store
from idplus.store.sql.engine import Database
from idplus.store.sql.tables import subscription_requests
from idplus.store.sql.uow import SqlStore

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _request(client_id: str = "app-1", scope: str = "api:tv", **fields: object) -> Any:
    values: dict[str, object] = {
        "id": uuid.uuid4().hex,
        "client_id": client_id,
        "scope": scope,
        "status": SUBSCRIPTION_PENDING,
        "requested_by": "user:u1",
        "requested_at": NOW,
    }
    values.update(fields)
    return SubscriptionRequest(**values)  # type: ignore[arg-type]


@pytest.fixture
def store(store: Store) -> Store:
    """Two companies, an app of each, one of no company, and two API products."""
    with store.transaction() as uow:
        for company_id in ("c1", "c2"):
            uow.companies.insert(Company(company_id, company_id.upper(), NOW, "user:u1"))
        for client_id, company_id in (("app-1", "c1"), ("app-2", "c2"), ("ops", None)):
            client = Client(client_id, client_id, ClientType.CONFIDENTIAL, company_id=company_id)
            assert uow.clients.insert(client, NOW)
        for scope in ("api:tv", "api:music"):
            assert uow.api_products.insert(scope, scope[4:], NOW)
    return store


def test_an_app_has_one_pending_request_per_product(store: Store) -> None:
    first = _request()
    with store.transaction() as uow:
        assert uow.subscription_requests.insert(first)
        assert not uow.subscription_requests.insert(_request())
        # Another product, or another app: requests of their own.
        assert uow.subscription_requests.insert(_request(scope="api:music"))
        assert uow.subscription_requests.insert(_request(client_id="app-2"))
    with store.reading() as uow:
        assert uow.subscription_requests.find(first.id) == first
        assert uow.subscription_requests.find("nothing") is None


def test_a_decided_request_leaves_room_for_a_new_one(store: Store) -> None:
    first = _request()
    with store.transaction() as uow:
        assert uow.subscription_requests.insert(first)
        rejected = uow.subscription_requests.decide(
            first.id, status=SUBSCRIPTION_REJECTED, decided_by="client:ops",
            decided_at=NOW + timedelta(minutes=1), reason="no contract yet",
        )  # fmt: skip
        assert rejected is not None
        assert (rejected.status, rejected.decided_by, rejected.reason) == (
            SUBSCRIPTION_REJECTED, "client:ops", "no contract yet"
        )  # fmt: skip
        assert rejected.decided_at == NOW + timedelta(minutes=1)
        assert uow.subscription_requests.insert(_request())


def test_a_request_is_decided_once(store: Store) -> None:
    request = _request()
    with store.transaction() as uow:
        uow.subscription_requests.insert(request)
        assert uow.subscription_requests.decide(
            request.id, status=SUBSCRIPTION_APPROVED, decided_by="client:ops", decided_at=NOW
        )
        assert (
            uow.subscription_requests.decide(
                request.id, status=SUBSCRIPTION_REJECTED, decided_by="client:x", decided_at=NOW
            )
            is None
        )
        assert not uow.subscription_requests.cancel(request.id)
        assert uow.subscription_requests.decide(
            "unknown", status=SUBSCRIPTION_APPROVED, decided_by="client:ops", decided_at=NOW
        ) is None  # fmt: skip
    with store.reading() as uow:
        found = uow.subscription_requests.find(request.id)
    assert found is not None
    assert (found.status, found.decided_by) == (SUBSCRIPTION_APPROVED, "client:ops")


def test_only_a_pending_request_can_be_cancelled(store: Store) -> None:
    request = _request()
    with store.transaction() as uow:
        uow.subscription_requests.insert(request)
        assert uow.subscription_requests.cancel(request.id)
        assert uow.subscription_requests.find(request.id) is None
        assert not uow.subscription_requests.cancel(request.id)


def test_requests_sent_at_once_make_one_pending_row(store: Store, db: Database) -> None:
    """Eight instances asking at the same moment (each its own connection pool)."""
    stores = [SqlStore(Database(db.url)) for _ in range(8)]
    start = threading.Barrier(len(stores))
    created: list[bool] = []

    def ask(instance: SqlStore) -> None:
        start.wait(timeout=30)
        with instance.transaction() as uow:
            created.append(uow.subscription_requests.insert(_request()))

    threads = [threading.Thread(target=ask, args=(s,)) for s in stores]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for instance in stores:
            instance.dispose()
    assert not any(thread.is_alive() for thread in threads)
    assert sorted(created) == [False] * 7 + [True]
    with db.engine.connect() as conn:
        rows = conn.execute(sa.select(sa.func.count()).select_from(subscription_requests))
        assert rows.scalar_one() == 1


def test_decisions_made_at_once_let_one_win(store: Store, db: Database) -> None:
    request = _request()
    with store.transaction() as uow:
        uow.subscription_requests.insert(request)
    stores = [SqlStore(Database(db.url)) for _ in range(4)]
    start = threading.Barrier(len(stores))
    won: list[str] = []

    def decide(instance: SqlStore, n: int) -> None:
        start.wait(timeout=30)
        with instance.transaction() as uow:
            if uow.subscription_requests.decide(
                request.id, status=SUBSCRIPTION_APPROVED, decided_by=f"client:{n}",
                decided_at=NOW,
            ):  # fmt: skip
                won.append(f"client:{n}")

    threads = [threading.Thread(target=decide, args=(s, n)) for n, s in enumerate(stores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        for instance in stores:
            instance.dispose()
    assert len(won) == 1
    with store.reading() as uow:
        found = uow.subscription_requests.find(request.id)
    assert found is not None and found.decided_by == won[0]


def test_pages_oldest_first_filtered_by_status_and_company(store: Store) -> None:
    requests = [
        _request("app-1", "api:tv", requested_at=NOW + timedelta(minutes=2)),
        _request("app-2", "api:tv", requested_at=NOW),
        _request("app-1", "api:music", requested_at=NOW + timedelta(minutes=1)),
        _request("app-2", "api:music", requested_at=NOW + timedelta(minutes=1)),
    ]
    with store.transaction() as uow:
        for request in requests:
            assert uow.subscription_requests.insert(request)
        uow.subscription_requests.decide(
            requests[0].id, status=SUBSCRIPTION_REJECTED, decided_by="client:ops", decided_at=NOW
        )
    with store.reading() as uow:
        every = uow.subscription_requests.page(after=None, limit=10)
        pending = uow.subscription_requests.page(after=None, limit=10, status=SUBSCRIPTION_PENDING)
        of_c1 = uow.subscription_requests.page(after=None, limit=10, company_ids=["c1"])
        of_none = uow.subscription_requests.page(after=None, limit=10, company_ids=[])
        pages, after = [], None
        while True:
            page = uow.subscription_requests.page(after=after, limit=1)
            if not page:
                break
            pages.extend(page)
            after = (page[-1].requested_at, page[-1].id)

    ties = sorted([requests[2], requests[3]], key=lambda r: r.id)
    assert [r.id for r in every] == [requests[1].id, *(r.id for r in ties), requests[0].id]
    assert pages == every
    assert {r.id for r in pending} == {r.id for r in requests[1:]}
    assert {r.id for r in of_c1} == {requests[0].id, requests[2].id}
    assert of_none == []


def test_an_apps_requests_newest_first_with_every_pending_one(store: Store) -> None:
    """The `limit` newest of the app's requests, and the pending one however old."""
    waiting = _request("app-1", "api:tv", requested_at=NOW)
    later = [NOW + timedelta(minutes=n) for n in range(1, 5)]
    decided = [_request(scope="api:music", status=SUBSCRIPTION_REJECTED, requested_at=at)
               for at in later]  # fmt: skip
    with store.transaction() as uow:
        for request in (waiting, *decided, _request("app-2", "api:tv")):
            assert uow.subscription_requests.insert(request)
    with store.reading() as uow:
        latest = uow.subscription_requests.of_client("app-1", limit=2)
        every = uow.subscription_requests.of_client("app-1", limit=10)
        none = uow.subscription_requests.of_client("ops", limit=10)
    assert latest == [decided[3], decided[2], waiting]
    assert every == [*reversed(decided), waiting]
    assert none == []


def test_deleting_an_app_deletes_its_requests(store: Store) -> None:
    request = _request()
    with store.transaction() as uow:
        uow.subscription_requests.insert(request)
    with store.transaction() as uow:
        assert uow.clients.delete("app-1")
    with store.reading() as uow:
        assert uow.subscription_requests.find(request.id) is None
