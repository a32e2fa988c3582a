"""Revoked access-token ids (JWTs cannot be recalled, so their jti is refused until expiry)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import revoked_access_tokens

_IS_REVOKED = sa.select(revoked_access_tokens.c.jti).where(
    revoked_access_tokens.c.jti == sa.bindparam("jti")
)


class SqlRevokedAccessTokens:
    """Revoked access-token ids (JWTs cannot be recalled, so their jti is refused until expiry)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def revoke(self, jti: str, expires_at: datetime) -> None:
        exists = self._conn.execute(
            sa.select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)
        ).first()
        if exists is None:
            self._conn.execute(
                sa.insert(revoked_access_tokens).values(jti=jti, expires_at=expires_at)
            )

    def is_revoked(self, jti: str) -> bool:
        return self._conn.execute(_IS_REVOKED, {"jti": jti}).first() is not None
