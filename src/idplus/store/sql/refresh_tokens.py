"""Refresh-token rows."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import refresh_tokens


def revoke_session_refresh_tokens(conn: Connection, session_id: str, now: datetime) -> int:
    result = conn.execute(
        sa.update(refresh_tokens)
        .where(refresh_tokens.c.session_id == session_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return result.rowcount
