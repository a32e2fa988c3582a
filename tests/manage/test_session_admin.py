"""Operators list the live SSO sessions (whose, which clients, how the login went; never the
cookie) page by page, and end one: its refresh tokens are revoked with it, in one unit of work,
and the audit trail names who ended it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from idplus.clock import FrozenClock
from idplus.errors import Forbidden, NotFoundError
from idplus.manage import session_admin
from idplus.models import User
from idplus.store.base import Store
from tests.manage.test_user_admin import (
    DEVELOPER,
    OPS,
    RecordingEnding,
    add_session,
    add_user,
    events,
)


@pytest.fixture
def kari(store: Store, clock: FrozenClock) -> User:
    return add_user(store, clock, "u-kari", "+4790000001")


@pytest.fixture
def ola(store: Store, clock: FrozenClock) -> User:
    return add_user(store, clock, "u-ola", "+4790000002")


def _ids(views: list[session_admin.SessionView]) -> list[str]:
    return [view.session.id for view in views]


def test_an_operator_lists_live_sessions_with_their_users_and_clients(
    store: Store, clock: FrozenClock, kari: User, ola: User
) -> None:
    add_session(store, clock, "s1", kari.id)
    add_session(store, clock, "s2", ola.id)
    add_session(store, clock, "s3", kari.id)
    with store.transaction() as uow:
        uow.sessions.end("s3", clock.now())

    views = session_admin.list_sessions(store, clock, OPS)

    assert _ids(views) == ["s1", "s2"]
    assert [view.username for view in views] == [kari.username, ola.username]
    assert views[0].client_ids == ["web"]
    assert views[0].session.acr == "urn:telenor.identity.aal.1"


def test_sessions_page_by_id_and_filter_by_user(
    store: Store, clock: FrozenClock, kari: User, ola: User
) -> None:
    for session_id, user in [("s1", kari), ("s2", ola), ("s3", kari), ("s4", kari)]:
        add_session(store, clock, session_id, user.id)

    first = session_admin.list_sessions(store, clock, OPS, limit=2)
    rest = session_admin.list_sessions(store, clock, OPS, after="s2", limit=2)
    karis = session_admin.list_sessions(store, clock, OPS, user_id=kari.id)

    assert _ids(first) == ["s1", "s2"]
    assert _ids(rest) == ["s3", "s4"]
    assert _ids(karis) == ["s1", "s3", "s4"]
    with pytest.raises(NotFoundError):
        session_admin.list_sessions(store, clock, OPS, user_id="nobody")


def test_expired_sessions_are_not_listed(store: Store, clock: FrozenClock, kari: User) -> None:
    add_session(store, clock, "s1", kari.id)
    clock.advance(timedelta(hours=2))
    assert session_admin.list_sessions(store, clock, OPS) == []


def test_ending_a_session_revokes_its_refresh_tokens_and_is_audited(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    add_session(store, clock, "s1", kari.id)
    add_session(store, clock, "s2", kari.id)
    ending = RecordingEnding()

    ended = session_admin.end_session(store, clock, OPS, "s1", ending=ending)

    assert ended.id == "s1" and ending.asked == ["s1"]
    assert _ids(session_admin.list_sessions(store, clock, OPS)) == ["s2"]
    with store.reading() as uow:
        revoked = uow.refresh_tokens.find("hash-rt-s1")
        kept = uow.refresh_tokens.find("hash-rt-s2")
    assert revoked is not None and revoked.revoked_at == clock.now()
    assert kept is not None and kept.revoked_at is None
    [event] = events(store, "session.ended")
    assert event.user_id == kari.id
    assert event.detail == {"sid": "s1", "by": "operator", "actor": "client:ops"}


def test_an_ended_or_unknown_session_is_not_found(
    store: Store, clock: FrozenClock, kari: User
) -> None:
    add_session(store, clock, "s1", kari.id)
    session_admin.end_session(store, clock, OPS, "s1", ending=session_admin.end_without_notice)
    for session_id in ("s1", "nope"):
        with pytest.raises(NotFoundError):
            session_admin.end_session(
                store, clock, OPS, session_id, ending=session_admin.end_without_notice
            )
    assert len(events(store, "session.ended")) == 1


def test_only_operators_see_or_end_sessions(store: Store, clock: FrozenClock, kari: User) -> None:
    add_session(store, clock, "s1", kari.id)
    with pytest.raises(Forbidden):
        session_admin.list_sessions(store, clock, DEVELOPER)
    with pytest.raises(Forbidden):
        session_admin.end_session(
            store, clock, DEVELOPER, "s1", ending=session_admin.end_without_notice
        )
    assert _ids(session_admin.list_sessions(store, clock, OPS)) == ["s1"]
