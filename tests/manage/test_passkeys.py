"""An operator lists a user's passkeys and removes one; the sessions it logged in end with
their refresh tokens, in one unit of work, and the removal is audited."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from idplus.clock import FrozenClock
from idplus.errors import NotFoundError
from idplus.manage.passkeys import describe_passkey, list_passkeys, remove_passkey
from idplus.manage.users import UserRegistration, add_user
from idplus.models import RefreshToken, User
from idplus.store.base import Store
from tests.store.sql.test_passkeys import _passkey
from tests.store.sql.test_store_contract import _client, _session

USERNAME = "+4790000001"


def _user_with_passkeys(store: Store, clock: FrozenClock) -> User:
    user = add_user(store, clock, UserRegistration(USERNAME, "password1"))
    with store.transaction() as uow:
        uow.passkeys.insert(_passkey("pk1", user_id=user.id, created_at=clock.now()))
        uow.passkeys.insert(
            _passkey("pk2", user_id=user.id, created_at=clock.now() + timedelta(seconds=1))
        )
    return user


def _refresh_token(user: User, session_id: str, clock: FrozenClock) -> RefreshToken:
    now = clock.now()
    return RefreshToken(
        id=f"rt-{session_id}",
        token_hash=f"hash-{session_id}",
        family_id=f"family-{session_id}",
        client_id="web",
        user_id=user.id,
        scopes=("openid",),
        policy="rotating",
        issued_at=now,
        expires_at=now + timedelta(days=1),
        absolute_expires_at=now + timedelta(days=30),
        auth_time=now,
        acr=None,
        amr=(),
        idp="local",
        session_id=session_id,
    )


def test_an_operator_lists_a_users_passkeys_without_their_keys(
    store: Store, clock: FrozenClock
) -> None:
    _user_with_passkeys(store, clock)

    listed = [describe_passkey(p) for p in list_passkeys(store, "90000001")]

    assert [p["id"] for p in listed] == ["pk1", "pk2"]
    assert listed[0]["name"] == "Kari's phone"
    assert listed[0]["last_used_at"] is None
    assert "public_key" not in listed[0]
    with pytest.raises(NotFoundError):
        list_passkeys(store, "+4791111111")


def test_removing_a_passkey_ends_the_sessions_it_logged_in(
    store: Store, clock: FrozenClock
) -> None:
    user = _user_with_passkeys(store, clock)
    with store.transaction() as uow:
        uow.clients.insert(_client(), clock.now())
        for session_id, passkey_id in [("s1", "pk1"), ("s2", "pk2"), ("s3", None)]:
            session = replace(
                _session(session_id),
                user_id=user.id,
                passkey_id=passkey_id,
                expires_at=clock.now() + timedelta(hours=1),
            )
            uow.sessions.insert(session, f"handle-{session_id}")
            uow.refresh_tokens.insert(_refresh_token(user, session_id, clock))

    removed = remove_passkey(store, clock, USERNAME, "pk1")

    assert (removed.passkey.id, removed.ended_sessions) == ("pk1", ["s1"])
    with store.reading() as uow:
        assert [p.id for p in uow.passkeys.list_for_user(user.id)] == ["pk2"]
        live = [s.id for s in uow.sessions.active_of_user(user.id, clock.now())]
        revoked = uow.refresh_tokens.find("hash-s1")
        kept = uow.refresh_tokens.find("hash-s2")
        event = uow.audit.list_events(events=["user.passkey_removed"])[0]
    assert sorted(live) == ["s2", "s3"]
    assert revoked is not None and revoked.revoked_at == clock.now()
    assert kept is not None and kept.revoked_at is None
    assert event.detail == {
        "passkey_id": "pk1",
        "name": "Kari's phone",
        "sessions_ended": 1,
        "by": "operator",
    }


def test_only_the_users_own_passkey_can_be_removed(store: Store, clock: FrozenClock) -> None:
    _user_with_passkeys(store, clock)
    add_user(store, clock, UserRegistration("+4790000002", "password1"))

    for username, passkey_id in [("+4790000002", "pk1"), (USERNAME, "pk9")]:
        with pytest.raises(NotFoundError, match="no passkey"):
            remove_passkey(store, clock, username, passkey_id)
    assert [p.id for p in list_passkeys(store, USERNAME)] == ["pk1", "pk2"]
