"""Authorization-code rows ⇄ `models.CodeGrant`; consumption is one atomic UPDATE."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import CodeGrant
from idplus.store.sql.tables import authorization_codes


def _from_row(row: Any) -> CodeGrant:
    return CodeGrant(
        code_hash=row["code_hash"],
        grant_id=row["grant_id"],
        client_id=row["client_id"],
        user_id=row["user_id"],
        session_id=row["session_id"],
        redirect_uri=row["redirect_uri"],
        scopes=tuple(row["scopes"]),
        auth_time=row["auth_time"],
        acr=row["acr"],
        amr=tuple(row["amr"]),
        idp=row["idp"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        nonce=row["nonce"],
        code_challenge=row["code_challenge"],
        code_challenge_method=row["code_challenge_method"],
        claims=dict(row["claims"]),
        used_at=row["used_at"],
        dpop_jkt=row["dpop_jkt"],
    )


class SqlCodes:
    """Authorization-code rows ⇄ `models.CodeGrant`; consumption is one atomic UPDATE."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, grant: CodeGrant) -> None:
        self._conn.execute(
            sa.insert(authorization_codes).values(
                code_hash=grant.code_hash,
                grant_id=grant.grant_id,
                client_id=grant.client_id,
                user_id=grant.user_id,
                session_id=grant.session_id,
                redirect_uri=grant.redirect_uri,
                scopes=list(grant.scopes),
                nonce=grant.nonce,
                code_challenge=grant.code_challenge,
                code_challenge_method=grant.code_challenge_method,
                auth_time=grant.auth_time,
                acr=grant.acr,
                amr=list(grant.amr),
                idp=grant.idp,
                claims=dict(grant.claims),
                created_at=grant.created_at,
                expires_at=grant.expires_at,
                dpop_jkt=grant.dpop_jkt,
            )
        )

    def find(self, code_hash: str) -> CodeGrant | None:
        row = self._conn.execute(
            sa.select(authorization_codes).where(authorization_codes.c.code_hash == code_hash)
        ).first()
        return _from_row(row._mapping) if row is not None else None

    def consume(self, code_hash: str, now: datetime) -> bool:
        """Mark the code used; True only for the first caller (RFC 6749 §4.1.2: one use)."""
        result = self._conn.execute(
            sa.update(authorization_codes)
            .where(
                authorization_codes.c.code_hash == code_hash,
                authorization_codes.c.used_at.is_(None),
            )
            .values(used_at=now)
        )
        return result.rowcount == 1

    def record_issued_access_token(self, code_hash: str, jti: str, expires_at: datetime) -> None:
        self._conn.execute(
            sa.update(authorization_codes)
            .where(authorization_codes.c.code_hash == code_hash)
            .values(access_token_jti=jti, access_token_expires_at=expires_at)
        )

    def issued_access_token(self, code_hash: str) -> tuple[str, datetime] | None:
        row = self._conn.execute(
            sa.select(
                authorization_codes.c.access_token_jti,
                authorization_codes.c.access_token_expires_at,
            ).where(authorization_codes.c.code_hash == code_hash)
        ).first()
        if row is None or row.access_token_jti is None:
            return None
        return row.access_token_jti, row.access_token_expires_at
