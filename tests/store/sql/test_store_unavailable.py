"""A database that is down, hung, restarting or out of connections is `StoreUnavailable` (which
every front answers 503 with Retry-After), never a hang; a transaction it cut short leaves
nothing behind, and the same store serves again once the server is back."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from idplus.models import Delivery
from idplus.store.base import StoreUnavailable
from idplus.store.sql.engine import PING_AFTER_IDLE_SECONDS, Database, PoolSizing
from idplus.store.sql.tables import deliveries, revoked_access_tokens
from idplus.store.sql.uow import SqlStore
from tests.conftest import POSTGRES_ADMIN_URL
from tests.unreachable import closed_port, silent_server

# "Answered rather than hanging": far above the 2-3 s a connect timeout takes.
NO_HANG_SECONDS = 10.0


def _assert_every_entry_is_unavailable(store: SqlStore) -> None:
    with pytest.raises(StoreUnavailable), store.transaction():
        pass
    with pytest.raises(StoreUnavailable), store.reading():
        pass
    with pytest.raises(StoreUnavailable):
        store.ping()


def test_a_server_that_refuses_connections_is_unavailable() -> None:
    store = SqlStore.from_url(f"postgresql://postgres@127.0.0.1:{closed_port()}/idplus")
    started = time.monotonic()
    try:
        _assert_every_entry_is_unavailable(store)
    finally:
        store.dispose()
    assert time.monotonic() - started < NO_HANG_SECONDS


def test_a_server_that_never_answers_is_unavailable_after_the_connect_timeout() -> None:
    with silent_server() as port:
        store = SqlStore.from_url(
            f"postgresql://postgres@127.0.0.1:{port}/idplus", PoolSizing(connect_timeout_seconds=1)
        )
        started = time.monotonic()
        try:
            with pytest.raises(StoreUnavailable), store.transaction():
                pass
        finally:
            store.dispose()
    assert time.monotonic() - started < NO_HANG_SECONDS


def _terminate_connections_to(database_url: str) -> int:
    """What a server restart does to the connections of one database (from the outside)."""
    name = sa.make_url(database_url).database
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


def _delivery(now: datetime) -> Delivery:
    return Delivery(
        id=uuid.uuid4().hex,
        kind="backchannel_logout",
        target="https://rp.example/logout",
        payload={"logout_token": "t"},
        status="pending",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )


def _count(store: SqlStore, table: sa.Table) -> int:
    with store.database.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.mark.postgres
def test_a_connection_lost_mid_transaction_leaves_nothing_written(postgres_url: str) -> None:
    """Two writes of one unit of work, then the server drops the connection before the third
    statement: StoreUnavailable, and neither write is there. The next transaction of the same
    store gets a fresh connection (the pool pings first) and commits."""
    store = SqlStore.from_url(postgres_url)
    now = datetime.now(UTC)
    try:
        with pytest.raises(StoreUnavailable), store.transaction() as uow:
            uow.revoked_access_tokens.revoke("jti-cut-short", now + timedelta(hours=1))
            uow.deliveries.enqueue(_delivery(now))
            assert _terminate_connections_to(postgres_url) == 1
            uow.revoked_access_tokens.is_revoked("jti-cut-short")

        assert _count(store, revoked_access_tokens) == 0
        assert _count(store, deliveries) == 0
        with store.transaction() as uow:
            uow.revoked_access_tokens.revoke("jti-after", now + timedelta(hours=1))
        with store.reading() as uow:
            assert uow.revoked_access_tokens.is_revoked("jti-after")
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_connection_lost_at_commit_leaves_nothing_written(postgres_url: str) -> None:
    store = SqlStore.from_url(postgres_url)
    now = datetime.now(UTC)
    try:
        with pytest.raises(StoreUnavailable), store.transaction() as uow:
            uow.deliveries.enqueue(_delivery(now))
            _terminate_connections_to(postgres_url)
        assert _count(store, deliveries) == 0
    finally:
        store.dispose()


@pytest.mark.postgres
def test_no_free_connection_is_unavailable_after_the_pool_timeout(postgres_url: str) -> None:
    """Every connection of the worker busy: the next request waits the pool timeout, then is
    answered 503 instead of queueing without bound."""
    store = SqlStore.from_url(postgres_url, PoolSizing(size=1, max_overflow=0, timeout_seconds=0.5))
    started = time.monotonic()
    try:
        with store.reading(), pytest.raises(StoreUnavailable), store.transaction():
            pass
        with store.transaction():  # the connection is free again
            pass
    finally:
        store.dispose()
    assert time.monotonic() - started < NO_HANG_SECONDS


@pytest.mark.postgres
def test_a_lock_held_elsewhere_is_unavailable_after_the_lock_timeout(postgres_url: str) -> None:
    """A table another session holds (a migration, a stuck transaction): the statement gives up
    after the lock timeout and the request is answered 503, instead of queueing behind it."""
    store = SqlStore.from_url(postgres_url, PoolSizing(lock_timeout_seconds=0.3))
    holder = psycopg.connect(postgres_url.replace("+psycopg", ""))
    started = time.monotonic()
    try:
        holder.execute("LOCK TABLE revoked_access_tokens IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(StoreUnavailable, match="LockNotAvailable"), store.reading() as uow:
            uow.revoked_access_tokens.is_revoked("any")
    finally:
        holder.rollback()
        holder.close()
        store.dispose()
    assert time.monotonic() - started < NO_HANG_SECONDS


@pytest.mark.postgres
def test_a_statement_past_its_timeout_is_unavailable(postgres_url: str) -> None:
    store = SqlStore.from_url(postgres_url, PoolSizing(statement_timeout_seconds=0.2))
    try:
        with pytest.raises(StoreUnavailable, match="QueryCanceled"), store.reading() as uow:
            uow._conn.execute(sa.text("SELECT pg_sleep(5)"))
    finally:
        store.dispose()


def test_a_mistake_in_sql_is_no_passing_condition(tmp_path: Path) -> None:
    """A bug (here: a table that is not there) must stay a server error with its traceback,
    not hide as a 503 that tells clients to come back."""
    store = SqlStore.from_url(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with pytest.raises(sa.exc.OperationalError, match="no such table"), store.reading() as uow:
            uow.revoked_access_tokens.is_revoked("any")
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_connection_the_server_dropped_while_it_idled_is_replaced_unseen(
    postgres_url: str,
) -> None:
    """A restart, a failover or an idle timeout between requests: a connection that idled in
    the pool is pinged before a request gets it, so no request sees the dead one."""
    store = SqlStore.from_url(postgres_url, PoolSizing(size=2, max_overflow=0))
    try:
        with store.reading() as first, store.reading() as second:
            first.revoked_access_tokens.is_revoked("warm")
            second.revoked_access_tokens.is_revoked("warm")
        assert _terminate_connections_to(postgres_url) == 2
        time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)

        with store.reading() as uow:
            assert not uow.revoked_access_tokens.is_revoked("after")
        with store.transaction() as uow:
            uow.revoked_access_tokens.revoke("after", datetime.now(UTC) + timedelta(hours=1))
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_connection_back_in_use_at_once_is_not_pinged(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under load a ping per checkout is a round trip per request for nothing: only a
    connection that idled is pinged."""
    store = SqlStore.from_url(postgres_url, PoolSizing(size=1, max_overflow=0))
    pings: list[object] = []
    dialect = store.database.engine.dialect
    real_ping = dialect.do_ping

    def counted_ping(dbapi_connection: object) -> bool:
        pings.append(dbapi_connection)
        return real_ping(dbapi_connection)  # type: ignore[arg-type]

    monkeypatch.setattr(dialect, "do_ping", counted_ping)
    try:
        for _ in range(5):
            with store.reading() as uow:
                uow.revoked_access_tokens.is_revoked("busy")
        assert pings == []
        time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
        with store.reading() as uow:
            uow.revoked_access_tokens.is_revoked("idled")
        assert len(pings) == 1
    finally:
        store.dispose()


@pytest.mark.postgres
def test_a_read_holds_no_transaction_open(postgres_url: str) -> None:
    """Reads send no BEGIN or COMMIT (two round trips each time): a statement of a read is
    its own transaction, which also holds no snapshot back from vacuum while the request
    goes on."""
    database = Database(postgres_url)
    try:
        with database.reading() as connection:
            connection.execute(sa.select(revoked_access_tokens.c.jti))
            status = _transaction_status(connection)
        assert status == psycopg.pq.TransactionStatus.IDLE
        with database.transaction() as connection:
            connection.execute(sa.select(revoked_access_tokens.c.jti))
            assert _transaction_status(connection) == psycopg.pq.TransactionStatus.INTRANS
    finally:
        database.dispose()


def _transaction_status(connection: sa.Connection) -> psycopg.pq.TransactionStatus:
    dbapi_connection = connection.connection.dbapi_connection
    assert isinstance(dbapi_connection, psycopg.Connection)
    return dbapi_connection.info.transaction_status
