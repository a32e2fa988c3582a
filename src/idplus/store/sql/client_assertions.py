"""private_key_jwt assertions already used (RFC 7523 §3 item 7), kept until they expire."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import client_assertion_jtis


class SqlClientAssertions:
    """private_key_jwt assertions already used (RFC 7523 §3 item 7), kept until they expire."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def use_once(self, jti_hash: str, expires_at: datetime, now: datetime) -> bool:
        """Record the assertion; False when it was recorded before and has not expired (a
        replay). The insert is the check, so two instances racing with one assertion cannot
        both succeed."""
        # An expired record no longer protects anything and must not block a new assertion.
        self._conn.execute(
            sa.delete(client_assertion_jtis).where(
                client_assertion_jtis.c.jti_hash == jti_hash,
                client_assertion_jtis.c.expires_at <= now,
            )
        )
        return insert_if_absent(
            self._conn,
            client_assertion_jtis,
            {"jti_hash": jti_hash, "expires_at": expires_at},
            ["jti_hash"],
        )
