"""Revoked access-token ids (JWTs cannot be recalled, so their jti is refused until expiry)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import revoked_access_tokens


def revoke_access_token(conn: Connection, jti: str, expires_at: datetime) -> None:
    exists = conn.execute(
        sa.select(revoked_access_tokens.c.jti).where(revoked_access_tokens.c.jti == jti)
    ).first()
    if exists is None:
        conn.execute(sa.insert(revoked_access_tokens).values(jti=jti, expires_at=expires_at))


_IS_REVOKED = sa.select(revoked_access_tokens.c.jti).where(
    revoked_access_tokens.c.jti == sa.bindparam("jti")
)


def is_access_token_revoked(conn: Connection, jti: str) -> bool:
    return conn.execute(_IS_REVOKED, {"jti": jti}).first() is not None
