"""Server-wide secrets generated on first start (cookie key, pairwise salt, handle key)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import server_secrets


class SqlServerSecrets:
    """Server-wide secrets generated on first start (cookie key, pairwise salt, handle key)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find_or_create(self, name: str, make_value: Callable[[], str], now: datetime) -> str:
        """The stored value, created on first use; concurrent first starts agree on one value."""
        existing: str | None = self._conn.execute(
            sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
        ).scalar_one_or_none()
        if existing is not None:
            return existing
        # Another process may insert first: then its value is the one everybody reads back.
        values = {"name": name, "value": make_value(), "created_at": now}
        insert_if_absent(self._conn, server_secrets, values, ["name"])
        stored: str = self._conn.execute(
            sa.select(server_secrets.c.value).where(server_secrets.c.name == name)
        ).scalar_one()
        return stored
