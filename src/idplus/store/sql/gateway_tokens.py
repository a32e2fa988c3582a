"""Opaque reference tokens of the API gateway front ⇄ `models.GatewayToken`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import GatewayToken
from idplus.store.sql.tables import gateway_tokens

_FIND = sa.select(gateway_tokens).where(gateway_tokens.c.token_hash == sa.bindparam("token_hash"))


def _from_row(row: Any) -> GatewayToken:
    return GatewayToken(
        token_hash=row["token_hash"],
        kind=row["kind"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        scopes=tuple(row["scopes"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        revoked_at=row["revoked_at"],
        grant_id=row["grant_id"],
    )


class SqlGatewayTokens:
    """Opaque reference tokens of the API gateway front ⇄ `models.GatewayToken`."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, token: GatewayToken) -> None:
        self._conn.execute(
            sa.insert(gateway_tokens).values(
                token_hash=token.token_hash,
                kind=token.kind,
                client_id=token.client_id,
                user_id=token.user_id,
                scopes=list(token.scopes),
                created_at=token.created_at,
                expires_at=token.expires_at,
                grant_id=token.grant_id,
            )
        )

    def find(self, token_hash: str) -> GatewayToken | None:
        row = self._conn.execute(_FIND, {"token_hash": token_hash}).first()
        return _from_row(row._mapping) if row is not None else None

    def revoke(self, token_hash: str, now: datetime) -> bool:
        result = self._conn.execute(
            sa.update(gateway_tokens)
            .where(gateway_tokens.c.token_hash == token_hash, gateway_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount == 1

    def revoke_user(self, user_id: str, now: datetime) -> int:
        """Revoke every live token issued for the user."""
        result = self._conn.execute(
            sa.update(gateway_tokens)
            .where(gateway_tokens.c.user_id == user_id, gateway_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)

    def revoke_grant(self, grant_id: str, now: datetime) -> int:
        """Revoke every token issued from one authorization (a replayed code's first tokens)."""
        result = self._conn.execute(
            sa.update(gateway_tokens)
            .where(gateway_tokens.c.grant_id == grant_id, gateway_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return int(result.rowcount)
