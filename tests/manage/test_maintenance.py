"""`idplus db prune` deletes what can no longer matter, and nothing that still can."""

from __future__ import annotations

from datetime import timedelta

from idplus.clock import FrozenClock
from idplus.manage.maintenance import prune
from idplus.store.sql import revoked_tokens
from idplus.store.sql.engine import Database


def test_prune_deletes_only_expired_rows(db: Database, clock: FrozenClock) -> None:
    now = clock.now()
    with db.transaction() as conn:
        revoked_tokens.revoke_access_token(conn, "old", now - timedelta(seconds=1))
        revoked_tokens.revoke_access_token(conn, "live", now + timedelta(hours=1))

    deleted = prune(db, clock)

    assert deleted["revoked_access_tokens"] == 1
    with db.reading() as conn:
        assert revoked_tokens.is_access_token_revoked(conn, "live")
        assert not revoked_tokens.is_access_token_revoked(conn, "old")
    assert prune(db, clock)["revoked_access_tokens"] == 0
