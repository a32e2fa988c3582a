"""Self-service that needs no page: unlinking upstream accounts (never the last way in),
ending every other session, and what the account page's session list is made of."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from idplus.manage.clients import ClientRegistration, add_client
from idplus.models import NO_PASSWORD, AuditEvent, RefreshToken, SsoSession, User
from idplus.protocol.context import AppContext
from idplus.protocol.self_service import (
    Browser,
    account_view,
    browser_of,
    end_other_sessions,
    unlink_upstream_account,
)
from tests.outbound.receiver import outbox_rows


def _user(ctx: AppContext, *, password: bool, accounts: int) -> User:
    user = User(
        id="u-1",
        username="tid:s-0",
        password_hash="$argon2id$not-checked-here" if password else NO_PASSWORD,
        kurtid="100000000001",
        analytics_uuid="a-1",
        tnuids=("t-1",),
    )
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        uow.users.insert(user, now)
        for n in range(accounts):
            uow.upstream_accounts.insert_if_absent(f"p{n}", f"s-{n}", user.id, now)
    return user


def _accounts(ctx: AppContext, user: User) -> list[str]:
    with ctx.store.reading() as uow:
        return [a.provider_id for a in uow.upstream_accounts.list_for_user(user.id)]


def test_the_last_way_in_cannot_be_unlinked(context: AppContext) -> None:
    user = _user(context, password=False, accounts=2)
    assert unlink_upstream_account(context, user.id, "p0", "s-0") is not None
    assert unlink_upstream_account(context, user.id, "p1", "s-1") is None
    assert _accounts(context, user) == ["p1"]


def test_with_a_password_every_upstream_account_may_go(context: AppContext) -> None:
    user = _user(context, password=True, accounts=1)
    assert unlink_upstream_account(context, user.id, "p0", "s-0") is not None
    assert _accounts(context, user) == []


def test_another_users_account_is_not_unlinked(context: AppContext) -> None:
    user = _user(context, password=True, accounts=1)
    assert unlink_upstream_account(context, "someone-else", "p0", "s-0") is None
    assert _accounts(context, user) == ["p0"]


def test_parallel_unlinks_of_every_account_leave_exactly_one(context: AppContext) -> None:
    user = _user(context, password=False, accounts=8)
    start, results = threading.Barrier(8), []

    def unlink(n: int) -> None:
        start.wait()
        results.append(unlink_upstream_account(context, user.id, f"p{n}", f"s-{n}") is not None)

    threads = [threading.Thread(target=unlink, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False] + [True] * 7
    assert len(_accounts(context, user)) == 1


def test_an_unlinked_account_ends_its_sessions_and_is_never_linked_again(
    context: AppContext,
) -> None:
    user = _user(context, password=True, accounts=1)
    now = context.clock.now()
    through_it = SsoSession(
        id="sid-up", user_id=user.id, sso_group="one_telenor", auth_time=now,
        acr="urn:telenor.identity.aal.1", amr=("ext",), idp="p0", persistent=False,
        lifetime_seconds=600, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(minutes=10), upstream_subject="s-0",
    )  # fmt: skip
    with context.store.transaction() as uow:
        uow.sessions.insert(through_it, "handle-hash")
    ended = unlink_upstream_account(context, user.id, "p0", "s-0")
    assert ended is not None and [e.session.id for e in ended] == ["sid-up"]
    with context.store.reading() as uow:
        assert uow.upstream_accounts.was_unlinked("p0", "s-0", user.id)


def _session(ctx: AppContext, session_id: str, user_id: str, user_agent: str | None = None) -> None:
    now = ctx.clock.now()
    session = SsoSession(
        id=session_id, user_id=user_id, sso_group="one_telenor", auth_time=now,
        acr="urn:telenor.identity.aal.1", amr=("urn:telenor.identity.amr.td_pwd",), idp="local",
        persistent=False, lifetime_seconds=600, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(minutes=10), user_agent=user_agent,
    )  # fmt: skip
    token = RefreshToken(
        id=f"rt-{session_id}", token_hash=f"hash-{session_id}", family_id=f"f-{session_id}",
        client_id="tv", user_id=user_id, scopes=("openid", "offline_access"), policy="web",
        issued_at=now, expires_at=now + timedelta(days=1),
        absolute_expires_at=now + timedelta(days=30), auth_time=now, acr=None, amr=(), idp=None,
        session_id=session_id,
    )  # fmt: skip
    with ctx.store.transaction() as uow:
        uow.sessions.insert(session, f"handle-{session_id}")
        uow.sessions.add_client(session_id, "tv", now)
        uow.refresh_tokens.insert(token)


def _tv(ctx: AppContext, **fields: Any) -> None:
    registration = ClientRegistration(
        "tv", "Public", redirect_uris=["https://tv.example/cb"], **fields
    )
    add_client(ctx.store, ctx.clock, registration)


def test_ending_every_other_session_keeps_this_one_and_another_users(
    context: AppContext,
) -> None:
    _tv(context, backchannel_logout_uri="https://tv.example/bcl")
    user = _user(context, password=True, accounts=0)
    for session_id in ("here", "phone", "laptop"):
        _session(context, session_id, user.id)
    someone = replace(user, id="u-2", username="+4790000002", kurtid="100000000002",
                      analytics_uuid="a-2", tnuids=("t-2",))  # fmt: skip
    with context.store.transaction() as uow:
        uow.users.insert(someone, context.clock.now())
    _session(context, "someone-elses", someone.id)
    ended = end_other_sessions(context, user.id, "here")
    assert sorted(e.session.id for e in ended) == ["laptop", "phone"]
    assert all(e.notified == ("tv",) for e in ended)
    now = context.clock.now()
    with context.store.reading() as uow:
        assert [s.id for s in uow.sessions.active_of_user(user.id, now)] == ["here"]
        assert uow.sessions.find("someone-elses") is not None
        live = {
            session_id: uow.refresh_tokens.find(f"hash-{session_id}")
            for session_id in ("here", "phone", "laptop", "someone-elses")
        }
    revoked = {k: t is not None and t.revoked_at is not None for k, t in live.items()}
    assert revoked == {"here": False, "phone": True, "laptop": True, "someone-elses": False}
    # One back-channel logout token per ended session, queued with it.
    queued = [row["kind"] for row in outbox_rows(context.settings.database_url)]
    assert queued == ["backchannel_logout"] * 2
    assert end_other_sessions(context, user.id, "here") == []


def test_the_session_list_names_apps_and_browsers(context: AppContext) -> None:
    _tv(context, name="Telenor TV")
    user = _user(context, password=True, accounts=0)
    _session(context, "here", user.id, user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:133.0) "
             "Gecko/20100101 Firefox/133.0")  # fmt: skip
    add_client(context.store, context.clock, ClientRegistration("radio", "Public"))
    context.clock.advance(timedelta(seconds=1))  # the apps are listed in the order first used
    with context.store.transaction() as uow:
        uow.sessions.add_client("here", "radio", context.clock.now())
    view = account_view(context, user.id)
    assert view is not None
    (summary,) = view.sessions
    assert summary.apps == ["Telenor TV", "radio"]  # a client without a name goes by its id
    assert summary.browser == Browser("Firefox 133", "Linux")


@pytest.mark.parametrize(
    ("user_agent", "expected"),
    [
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36",
            Browser("Chrome 131", "Windows"),
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            Browser("Mobile Safari", "iOS 17"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            Browser("Chrome Mobile 131", "Android 14"),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/18.1 Safari/605.1.15",
            Browser("Safari 18", "macOS"),
        ),
        ("Mozilla/5.0 (Windows NT 10.0)", Browser(None, "Windows")),
        ("testclient", Browser()),
        ("", Browser()),
        (None, Browser()),
    ],
)
def test_a_user_agent_names_browser_and_system(user_agent: str | None, expected: Browser) -> None:
    assert browser_of(user_agent) == expected


def _audit(ctx: AppContext, event: str) -> list[AuditEvent]:
    with ctx.store.reading() as uow:
        return uow.audit.list_events(events=(event,))


def test_an_unlink_records_the_provider_and_a_refused_one_nothing(context: AppContext) -> None:
    user = _user(context, password=False, accounts=2)
    assert unlink_upstream_account(context, user.id, "p0", "s-0") is not None
    assert unlink_upstream_account(context, user.id, "p1", "s-1") is None  # the last way in
    assert unlink_upstream_account(context, "someone-else", "p1", "s-1") is None
    (event,) = _audit(context, "user.upstream_unlinked")
    assert (event.client_id, event.user_id, event.detail) == (None, user.id, {"provider": "p0"})


def test_log_out_everywhere_else_records_how_many_sessions_ended(context: AppContext) -> None:
    _tv(context)
    user = _user(context, password=True, accounts=0)
    for session_id in ("here", "phone", "laptop"):
        _session(context, session_id, user.id)
    assert len(end_other_sessions(context, user.id, "here")) == 2
    assert end_other_sessions(context, user.id, "here") == []  # nothing ended: nothing recorded
    (event,) = _audit(context, "user.other_sessions_ended")
    assert (event.client_id, event.user_id, event.detail) == (None, user.id, {"sessions": 2})
