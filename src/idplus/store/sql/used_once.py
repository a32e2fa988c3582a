"""Records of things accepted once until they expire — private_key_jwt assertions (RFC 7523 §3
item 7), DPoP proofs (RFC 9449 §11.1) — each table keyed by a keyed hash."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.dialect import insert_if_absent


class SqlUsedOnce:
    """One such table (a `jti_hash` key and an `expires_at`) ⇄ `store.base.UsedOnceRepository`."""

    def __init__(self, conn: Connection, table: sa.Table) -> None:
        self._conn = conn
        self._table = table

    def use_once(self, jti_hash: str, expires_at: datetime, now: datetime) -> bool:
        """Record it; False when it was recorded before and has not expired (a replay). The
        insert is the check, so two instances racing with the same one cannot both succeed."""
        table = self._table
        # An expired record no longer protects anything and must not block a new one.
        self._conn.execute(
            sa.delete(table).where(table.c.jti_hash == jti_hash, table.c.expires_at <= now)
        )
        return insert_if_absent(
            self._conn, table, {"jti_hash": jti_hash, "expires_at": expires_at}, ["jti_hash"]
        )
