"""Refresh-token rows ⇄ `models.RefreshToken`. Rotation consumes with one atomic UPDATE."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import RefreshToken
from idplus.store.sql.tables import refresh_tokens

# Hot-path statements are built once; executing a prebuilt statement skips expression building.
_FIND_BY_HASH = sa.select(refresh_tokens).where(
    refresh_tokens.c.token_hash == sa.bindparam("token_hash")
)
_CONSUME = (
    sa.update(refresh_tokens)
    .where(
        refresh_tokens.c.id == sa.bindparam("token_id"),
        refresh_tokens.c.used_at.is_(None),
        refresh_tokens.c.revoked_at.is_(None),
    )
    .values(used_at=sa.bindparam("now"))
)


def _from_row(row: Any) -> RefreshToken:
    return RefreshToken(
        id=row["id"],
        token_hash=row["token_hash"],
        family_id=row["family_id"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        scopes=tuple(row["scopes"]),
        policy=row["policy"],
        issued_at=row["issued_at"],
        expires_at=row["expires_at"],
        absolute_expires_at=row["absolute_expires_at"],
        auth_time=row["auth_time"],
        acr=row["acr"],
        amr=tuple(row["amr"]),
        idp=row["idp"],
        session_id=row["session_id"],
        parent_id=row["parent_id"],
        grant_id=row["grant_id"],
        tnuid=row["tnuid"],
        used_at=row["used_at"],
        revoked_at=row["revoked_at"],
        front=row["front"],
        dpop_jkt=row["dpop_jkt"],
    )


class SqlRefreshTokens:
    """Refresh-token rows ⇄ `models.RefreshToken`. Rotation consumes with one atomic UPDATE."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, token: RefreshToken) -> None:
        self._conn.execute(
            sa.insert(refresh_tokens).values(
                id=token.id,
                token_hash=token.token_hash,
                family_id=token.family_id,
                parent_id=token.parent_id,
                grant_id=token.grant_id,
                client_id=token.client_id,
                user_id=token.user_id,
                session_id=token.session_id,
                scopes=list(token.scopes),
                policy=token.policy,
                auth_time=token.auth_time,
                acr=token.acr,
                amr=list(token.amr),
                idp=token.idp,
                tnuid=token.tnuid,
                issued_at=token.issued_at,
                expires_at=token.expires_at,
                absolute_expires_at=token.absolute_expires_at,
                front=token.front,
                dpop_jkt=token.dpop_jkt,
            )
        )

    def find(self, token_hash: str) -> RefreshToken | None:
        row = self._conn.execute(_FIND_BY_HASH, {"token_hash": token_hash}).first()
        return _from_row(row._mapping) if row is not None else None

    def consume(self, token_id: str, now: datetime) -> bool:
        """Mark a rotating token used; True only for the one caller that did."""
        return self._conn.execute(_CONSUME, {"token_id": token_id, "now": now}).rowcount == 1

    def revoke_family(self, family_id: str, now: datetime) -> int:
        result = self._conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount

    def revoke_grant(self, grant_id: str, now: datetime) -> int:
        """Every token of the families one authorization (a code, a password grant) began."""
        families = sa.select(refresh_tokens.c.family_id).where(
            refresh_tokens.c.grant_id == grant_id
        )
        result = self._conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.family_id.in_(families), refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount

    def revoke_session(self, session_id: str, now: datetime) -> int:
        result = self._conn.execute(
            sa.update(refresh_tokens)
            .where(refresh_tokens.c.session_id == session_id, refresh_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        return result.rowcount

    def clients_of_user(self, user_id: str, now: datetime) -> list[str]:
        """Client ids with at least one live refresh token of the user."""
        rows = self._conn.execute(
            sa.select(refresh_tokens.c.client_id)
            .where(
                refresh_tokens.c.user_id == user_id,
                refresh_tokens.c.revoked_at.is_(None),
                refresh_tokens.c.used_at.is_(None),
                refresh_tokens.c.expires_at > now,
            )
            .distinct()
            .order_by(refresh_tokens.c.client_id)
        ).scalars()
        return list(rows)

    def revoke_user_client(self, user_id: str, client_id: str, now: datetime) -> int:
        result = self._conn.execute(
            sa.update(refresh_tokens)
            .where(
                refresh_tokens.c.user_id == user_id,
                refresh_tokens.c.client_id == client_id,
                refresh_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=now)
        )
        return result.rowcount
