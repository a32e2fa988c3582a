"""Attempt counters per key (username, client address, phone number …), atomic in SQL.

An attempt is *reserved* by one conditional UPDATE before the work it limits is done, so
parallel requests can never spend more attempts than the limit: the row lock (PostgreSQL)
or the write lock (SQLite) serialises them, and the WHERE clause is re-checked by each.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import UTCDateTime, login_throttle

_t = login_throttle.c


class SqlThrottles:
    """Attempt counters per key (username, client address, phone number …), atomic in SQL."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def reserve_attempt(
        self,
        key: str,
        *,
        limit: int,
        window_start: datetime,
        lock_until: datetime,
        now: datetime,
    ) -> bool:
        """Count one attempt unless the key is locked; the limit-th attempt in a window locks it.

        `window_start`: attempts counted before it no longer count. False when refused.
        """
        insert_if_absent(
            self._conn,
            login_throttle,
            {"key": key, "failures": 0, "window_started_at": now, "locked_until": None},
            ["key"],
        )
        # Typed binds: values inside CASE are not coerced to the column's type by themselves.
        now_value, lock_value = (
            sa.literal(now, UTCDateTime()),
            sa.literal(lock_until, UTCDateTime()),
        )
        expired = _t.window_started_at <= window_start
        counted = sa.case((expired, 1), else_=_t.failures + 1)
        reaches_limit = counted >= limit
        result = self._conn.execute(
            sa.update(login_throttle)
            .where(_t.key == key, sa.or_(_t.locked_until.is_(None), _t.locked_until <= now))
            .values(
                # The lock starts a new window, so the next lock needs a full set of attempts.
                failures=sa.case((reaches_limit, 0), else_=counted),
                window_started_at=sa.case(
                    (sa.or_(expired, reaches_limit), now_value), else_=_t.window_started_at
                ),
                locked_until=sa.case((reaches_limit, lock_value), else_=_t.locked_until),
            )
        )
        return result.rowcount > 0

    def locked_until(self, key: str) -> datetime | None:
        value: datetime | None = self._conn.execute(
            sa.select(_t.locked_until).where(_t.key == key)
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
