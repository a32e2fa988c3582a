"""The gateway's opaque tokens on SQLite and PostgreSQL: a user's tokens are revoked at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from idplus.models import Client, GatewayToken, User
from idplus.policies import ClientType
from idplus.store.base import Store

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
EARLIER = NOW - timedelta(minutes=1)


def _token(token_hash: str, user_id: str | None) -> GatewayToken:
    return GatewayToken(
        token_hash, "access", "portal", user_id, (), EARLIER, NOW + timedelta(hours=1)
    )


def test_revoking_a_users_tokens_leaves_everyone_elses(store: Store) -> None:
    with store.transaction() as uow:
        uow.clients.insert(Client("portal", "Portal", ClientType.CONFIDENTIAL), EARLIER)
        for user_id in ("kari", "ola"):
            uow.users.insert(
                User(user_id, f"{user_id}@example.com", "x", user_id, user_id, ()), EARLIER
            )
        owners: dict[str, str | None] = {"t1": "kari", "t2": "kari", "t3": "ola", "t4": None}
        for token_hash, user_id in owners.items():
            uow.gateway_tokens.insert(_token(token_hash, user_id))
        uow.gateway_tokens.revoke("t2", EARLIER)
    with store.transaction() as uow:
        assert uow.gateway_tokens.revoke_user("kari", NOW) == 1
    with store.reading() as uow:
        found = [uow.gateway_tokens.find(t) for t in ("t1", "t2", "t3", "t4")]
    assert [t.revoked_at if t else "gone" for t in found] == [NOW, EARLIER, None, None]
