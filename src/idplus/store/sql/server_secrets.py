"""Server-wide secrets generated on first start (cookie key, pairwise salt, handle key)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import server_secrets


def find_or_create_secret(
    conn: Connection, name: str, make_value: Callable[[], str], now: datetime
) -> str:
    """The stored value, created on first use; concurrent first starts agree on one value."""
    existing: str | None = conn.execute(
        sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    conn.execute(sa.insert(server_secrets).values(name=name, value=make_value(), created_at=now))
    stored: str = conn.execute(
        sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
    ).scalar_one()
    return stored
