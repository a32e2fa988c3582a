"""Upstream accounts (provider id, upstream `sub`) ⇄ the local user they log in as."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import upstream_accounts

_t = upstream_accounts.c


class SqlUpstreamAccounts:
    """Upstream accounts (provider id, upstream `sub`) ⇄ the local user they log in as."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def find_user_id(self, provider_id: str, subject: str) -> str | None:
        row = self._conn.execute(
            sa.select(_t.user_id).where(_t.provider_id == provider_id, _t.subject == subject)
        ).first()
        return None if row is None else str(row[0])

    def insert_if_absent(self, provider_id: str, subject: str, user_id: str, now: datetime) -> bool:
        values = {
            "provider_id": provider_id,
            "subject": subject,
            "user_id": user_id,
            "created_at": now,
        }
        return insert_if_absent(self._conn, upstream_accounts, values, ["provider_id", "subject"])
