"""The upstream side of sessions: the tokens an upstream login left (for ending it there), and
browsers on their way through upstream logouts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import UpstreamSessionTokens
from idplus.store.sql.tables import upstream_logouts, upstream_session_tokens

_tokens = upstream_session_tokens.c
_logouts = upstream_logouts.c


class SqlUpstreamSessionTokens:
    """The upstream ID token and refresh token of a session that an upstream login started."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def save(self, session_id: str, tokens: UpstreamSessionTokens, now: datetime) -> None:
        # Delete + insert in one transaction: a session is renewed by one login at a time (its
        # interaction is consumed first), so no two saves race for one session.
        self.delete(session_id)
        self._conn.execute(
            sa.insert(upstream_session_tokens).values(
                session_id=session_id,
                provider_id=tokens.provider_id,
                id_token=tokens.id_token,
                refresh_token=tokens.refresh_token_sealed,
                updated_at=now,
            )
        )

    def find(self, session_id: str) -> UpstreamSessionTokens | None:
        row = self._conn.execute(
            sa.select(upstream_session_tokens).where(_tokens.session_id == session_id)
        ).first()
        if row is None:
            return None
        return UpstreamSessionTokens(row.provider_id, row.id_token, row.refresh_token)

    def delete(self, session_id: str) -> None:
        self._conn.execute(
            sa.delete(upstream_session_tokens).where(_tokens.session_id == session_id)
        )


class SqlUpstreamLogouts:
    """Browsers on their way through upstream logouts (one row per upstream hop)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(
        self, state_hash: str, provider_id: str, next_url: str, expires_at: datetime
    ) -> None:
        self._conn.execute(
            sa.insert(upstream_logouts).values(
                state_hash=state_hash,
                provider_id=provider_id,
                next_url=next_url,
                expires_at=expires_at,
            )
        )

    def consume(self, state_hash: str, provider_id: str, now: datetime) -> str | None:
        row = self._conn.execute(
            sa.select(_logouts.next_url, _logouts.expires_at).where(
                _logouts.state_hash == state_hash, _logouts.provider_id == provider_id
            )
        ).first()
        if row is None:
            return None
        deleted = self._conn.execute(
            sa.delete(upstream_logouts).where(_logouts.state_hash == state_hash)
        )
        # The delete decides: of two parallel uses of one state, one gets the URL.
        if deleted.rowcount != 1 or row.expires_at <= now:
            return None
        return str(row.next_url)
