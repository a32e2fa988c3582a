"""Failed-login counters per key (username or client address)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import login_throttle


@dataclass(frozen=True, slots=True)
class ThrottleState:
    failures: int
    window_started_at: datetime
    locked_until: datetime | None


def find_throttle(conn: Connection, key: str) -> ThrottleState | None:
    row = conn.execute(sa.select(login_throttle).where(login_throttle.c.key == key)).first()
    if row is None:
        return None
    return ThrottleState(row.failures, row.window_started_at, row.locked_until)


def save_throttle(conn: Connection, key: str, state: ThrottleState) -> None:
    values = {
        "failures": state.failures,
        "window_started_at": state.window_started_at,
        "locked_until": state.locked_until,
    }
    updated = conn.execute(
        sa.update(login_throttle).where(login_throttle.c.key == key).values(**values)
    )
    if updated.rowcount == 0:
        conn.execute(sa.insert(login_throttle).values(key=key, **values))


def clear_throttle(conn: Connection, key: str) -> None:
    conn.execute(sa.delete(login_throttle).where(login_throttle.c.key == key))
