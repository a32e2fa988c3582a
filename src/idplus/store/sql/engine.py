"""Engines and transactions for SQLite (embedded default) and PostgreSQL (production)."""

from __future__ import annotations

import threading
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
    """A worker's PostgreSQL connections (SQLite opens its file per connection, unpooled), and
    the bounds that make a down, frozen or saturated server a quick error rather than a hang.
    A bound of 0 is none: migrations may run long statements, never wait long for a lock."""

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
            # by TCP within seconds, also by the pool's pre-ping, instead of the kernel's hours.
            "keepalives": 1,
            "keepalives_idle": 5,
            "keepalives_interval": 2,
            "keepalives_count": 2,
            "tcp_user_timeout": self.connect_timeout_seconds * 1000 + 5000,
        }


def create_database_engine(url: str, pool: PoolSizing | None = None) -> Engine:
    parsed = normalise_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _create_sqlite_engine(parsed)
    pool = pool or PoolSizing()
    # pool_pre_ping: a connection the server dropped (a restart) is replaced, not handed out.
    # hide_parameters: an error's message never quotes what a request put in a statement.
    return sa.create_engine(
        parsed,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_seconds,
        connect_args=pool.connect_args(),
        hide_parameters=True,
    )


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


def _create_sqlite_engine(url: sa.URL) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"check_same_thread": False}, hide_parameters=True)

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
        mode = "DEFERRED" if connection.get_execution_options().get(_READ_ONLY) else "IMMEDIATE"
        connection.exec_driver_sql(f"BEGIN {mode}")

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
        """A transaction that only reads: on SQLite it takes no write lock."""
        with self.engine.connect() as connection:
            connection = connection.execution_options(**{_READ_ONLY: True})
            with connection.begin():
                yield connection

    def ping(self) -> None:
        with (self._probe or self.engine).connect() as connection:
            connection.execute(sa.text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
        if self._probe is not None:
            self._probe.dispose()
