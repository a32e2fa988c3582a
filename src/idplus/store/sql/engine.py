"""Engines and transactions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import NullPool

SQLITE_BUSY_TIMEOUT_MS = 10_000
_READ_ONLY = "idplus_read_only"


def normalise_url(url: str) -> sa.URL:
    """`postgresql://` means psycopg 3 here (SQLAlchemy's own default would be psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


@dataclass(frozen=True, slots=True)
class PoolSizing:
    """A worker's database connections (a SQLite file's too: each new one pays its PRAGMAs),
    and the bounds that make a down, frozen or saturated server a quick error rather than a
    hang. A bound of 0 is none: migrations may run long statements, never wait long for a lock."""

    size: int = 10
    max_overflow: int = 10
    timeout_seconds: float = 5.0
    connect_timeout_seconds: int = 3
    statement_timeout_seconds: float = 0
    lock_timeout_seconds: float = 10
    # A request's transaction never idles this long; a stuck one must not hold its locks.
    idle_in_transaction_seconds: float = 60

    def connect_args(self) -> dict[str, Any]:
        options = " ".join(
            f"-c {name}={round(seconds * 1000)}"
            for name, seconds in (
                ("statement_timeout", self.statement_timeout_seconds),
                ("lock_timeout", self.lock_timeout_seconds),
                ("idle_in_transaction_session_timeout", self.idle_in_transaction_seconds),
            )
        )
        return {
            "connect_timeout": self.connect_timeout_seconds,
            "options": options,
            # A server that vanished without closing (a frozen host, a cut network) is noticed
            # by TCP within seconds, also by the idle ping below, instead of the kernel's hours.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": self.connect_timeout_seconds * 1000 + 5000,
        }


def create_database_engine(url: str, pool: PoolSizing | None = None) -> Engine:
    parsed = normalise_url(url)
    pool = pool or PoolSizing()
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed, pool)
    # hide_parameters: an error's message never quotes what a request put in a statement.
    engine = sa.create_engine(
        parsed,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_seconds,
        connect_args=pool.connect_args(),
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    return engine


# A connection back in use within this long is not pinged: under load every checkout would
# otherwise pay a round trip (SQLAlchemy's pool_pre_ping) for what its own statement shows.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """A connection the server dropped while it sat in the pool (a restart, a failover, an
    idle timeout) is replaced before a request gets it. One that dies under a request fails
    that request (503), and SQLAlchemy then discards every connection as old as it."""

    @sa.event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @sa.event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
            dbapi_connection.rollback()
        except Exception as exc:
            # A dead connection means the server went away: every pooled one is as old, so the
            # pool drops them all (as pool_pre_ping did) and this checkout gets a fresh one.
            raise sa.exc.InvalidatePoolError(f"{type(exc).__name__}: {exc}") from exc


def _create_probe_engine(url: str, pool: PoolSizing | None) -> Engine | None:
    """Readiness is "the database answers", asked on a connection of its own: a busy pool is
    load, not an outage, and must not take every instance out of a balancer at once."""
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return None
    pool = pool or PoolSizing()
    return sa.create_engine(
        parsed, poolclass=NullPool, connect_args=pool.connect_args(), hide_parameters=True
    )


def _create_sqlite_engine(url: sa.URL, pool: PoolSizing) -> Engine:
    """A file's connections are pooled as PostgreSQL's are (each new one pays its PRAGMAs);
    an in-memory database keeps SQLAlchemy's own pool (a connection per thread)."""
    in_file = bool(url.database) and url.database != ":memory:"
    if in_file:
        Path(str(url.database)).parent.mkdir(parents=True, exist_ok=True)
    sizing: dict[str, Any] = (
        {"pool_size": pool.size, "max_overflow": pool.max_overflow} if in_file else {}
    )
    engine = sa.create_engine(
        url, connect_args={"check_same_thread": False}, hide_parameters=True, **sizing
    )

    @sa.event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself so transactions start where we say they do.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        # Take the write lock up front: a read-then-write transaction can then never fail
        # half-way with "database is locked", which is what makes one-time consumption safe.
        # A read sends no BEGIN: each of its statements is its own transaction.
        if not connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class Database:
    """One engine per process; `transaction()` is the unit of work."""

    def __init__(self, url: str, pool: PoolSizing | None = None) -> None:
        self.url = url
        self.engine = create_database_engine(url, pool)
        self._probe = _create_probe_engine(url, pool)
        # SQLite has one writer at a time. Queueing this process's writers on a lock is far
        # cheaper than letting them collide on BEGIN IMMEDIATE, whose busy handler sleeps.
        self._write_lock = threading.Lock() if self.dialect_name == "sqlite" else None

    @property
    def dialect_name(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        if self._write_lock is None:
            with self.engine.begin() as connection:
                yield connection
            return
        with self._write_lock, self.engine.begin() as connection:
            yield connection

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """Reads, each statement on its own: it sees what was committed when it started, as
        every statement of a PostgreSQL READ COMMITTED transaction does. No BEGIN or COMMIT is
        sent (two round trips of PostgreSQL's on every read), and on SQLite no lock is taken."""
        with self.engine.connect() as connection:
            if self.dialect_name == "sqlite":
                connection = connection.execution_options(**{_READ_ONLY: True})
            else:
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            with connection.begin():
                yield connection

    def ping(self) -> None:
        with (self._probe or self.engine).connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._probe is not None:
            self._probe.dispose()
