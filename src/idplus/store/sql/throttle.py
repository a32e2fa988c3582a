"""Attempt counters per key (username, client address, phone number …), atomic in SQL.

An attempt is *reserved* by one conditional UPDATE before the work it limits is done, so
parallel requests can never spend more attempts than the limit: the row lock (PostgreSQL)
or the write lock (SQLite) serialises them, and the WHERE clause is re-checked by each.
Counting is per fixed window that starts with a key's first attempt; a full window refuses
until it ends, and an attempt given back (a successful login) makes room again at once.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import UTCDateTime, login_throttle

_t = login_throttle.c


class SqlThrottles:
    """Attempt counters per key (username, client address, phone number …), atomic in SQL."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def reserve_attempt(
        self, key: str, *, limit: int, window_start: datetime, now: datetime
    ) -> int | None:
        """Count one attempt unless `limit` were counted since the key's window began.

        `window_start`: a window that began at or before it is over. The attempts counted in
        the window with this one (read in the same statement), or None when refused.
        """
        # One statement, not an insert and then an update: a row cleared by a parallel
        # success (`clear`, `refund_attempt`) between the two would leave the update nothing
        # to count, and a free attempt would read as refused.
        insert = postgresql.insert if self._conn.dialect.name == "postgresql" else sqlite.insert
        first = insert(login_throttle).values(key=key, failures=1, window_started_at=now)
        expired = _t.window_started_at <= window_start
        # A typed bind: a value inside CASE is not coerced to the column's type by itself.
        now_value = sa.literal(now, UTCDateTime())
        counted = self._conn.execute(
            first.on_conflict_do_update(
                index_elements=[_t.key],
                set_={
                    "failures": sa.case((expired, 1), else_=_t.failures + 1),
                    "window_started_at": sa.case((expired, now_value), else_=_t.window_started_at),
                },
                where=sa.or_(expired, _t.failures < limit),
            ).returning(_t.failures)
        ).scalar_one_or_none()
        return None if counted is None else int(counted)

    def window_started_at(self, key: str) -> datetime | None:
        value: datetime | None = self._conn.execute(
            sa.select(_t.window_started_at).where(_t.key == key)
        ).scalar_one_or_none()
        return value

    def refund_attempt(self, key: str) -> None:
        """Give back an attempt that turned out to be legitimate (a successful login)."""
        self._conn.execute(
            sa.update(login_throttle)
            .where(_t.key == key, _t.failures > 0)
            .values(failures=_t.failures - 1)
        )

    def clear(self, key: str) -> None:
        self._conn.execute(sa.delete(login_throttle).where(_t.key == key))
