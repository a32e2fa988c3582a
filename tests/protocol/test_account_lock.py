"""A user an operator locked logs in by no means and is told only that the account is locked,
and only once they proved who they are: a wrong password reads as any wrong password, and a
locked user's password sends no SMS code. Their sessions count as no login (`live_login`).
Each refusal is in the audit trail with its reason; on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from idplus.models import User
from idplus.protocol.account_lock import ACCOUNT_LOCKED
from idplus.protocol.authenticators.upstream import callback
from idplus.protocol.context import AppContext
from idplus.protocol.federation.errors import LinkRefusal
from idplus.protocol.interaction import Stage
from idplus.protocol.login.machine import show
from idplus.protocol.login.results import BrowserRedirect, LoginFinished, UpstreamFailed
from idplus.protocol.sso import live_login
from tests.protocol.federation.fake_upstream import FakeUpstream, wired_to
from tests.protocol.login.driver import (
    BROWSER,
    PHONE,
    Browser,
    add_login_user,
    add_web_client,
    finished,
    problem,
    sent_codes,
    stage,
)

OTP_USER = "+4790000002"


@pytest.fixture
def ctx(context: AppContext) -> AppContext:
    add_web_client(context)
    add_login_user(context)
    add_login_user(context, OTP_USER, otp_required=True)
    return context


def _user(ctx: AppContext, username: str) -> User:
    with ctx.store.reading() as uow:
        user = uow.users.find_by_username(username)
    assert user is not None
    return user


def _lock(ctx: AppContext, user_id: str) -> None:
    """The lock alone (no session ended): every flow's own check is what refuses."""
    with ctx.store.transaction() as uow:
        assert uow.users.set_disabled(user_id, ctx.clock.now(), ctx.clock.now())


def _failures(ctx: AppContext) -> list[object]:
    with ctx.store.reading() as uow:
        return [e.detail.get("reason") for e in uow.audit.list_events(events=["login.failed"])]


def test_a_locked_user_who_knows_the_password_is_told_the_account_is_locked(
    ctx: AppContext,
) -> None:
    _lock(ctx, _user(ctx, PHONE).id)
    browser = Browser(ctx)
    handle = browser.authorize()

    wrong = browser.act(handle, "login", username=PHONE, password="not the password")
    right = browser.log_in(handle)

    assert problem(wrong) == "invalid_credentials"
    assert problem(right) == ACCOUNT_LOCKED
    assert _failures(ctx) == [ACCOUNT_LOCKED, "invalid_credentials"]


def test_a_locked_users_password_sends_no_code(ctx: AppContext) -> None:
    _lock(ctx, _user(ctx, OTP_USER).id)
    browser = Browser(ctx)
    assert problem(browser.log_in(browser.authorize(), OTP_USER)) == ACCOUNT_LOCKED
    assert sent_codes(ctx) == []


def test_a_lock_between_password_and_code_ends_the_login(ctx: AppContext) -> None:
    browser = Browser(ctx)
    handle = browser.authorize()
    assert stage(browser.log_in(handle, OTP_USER)) == Stage.OTP
    _lock(ctx, _user(ctx, OTP_USER).id)

    answer = browser.act(handle, "verify", otp=sent_codes(ctx)[-1])

    assert problem(answer) == ACCOUNT_LOCKED
    with ctx.store.reading() as uow:
        assert uow.sessions.active_of_user(_user(ctx, OTP_USER).id, ctx.clock.now()) == []


def test_a_locked_users_session_is_no_login(ctx: AppContext) -> None:
    browser = Browser(ctx)
    session = finished(browser.log_in(browser.authorize())).session
    now = ctx.clock.now()
    with ctx.store.reading() as uow:
        assert live_login(uow, session.id, now) is not None
    _lock(ctx, session.user_id)
    with ctx.store.reading() as uow:
        assert live_login(uow, session.id, now) is None
    # The next authorization asks for a login again, and that login is refused.
    handle = browser.authorize()
    assert problem(browser.log_in(handle)) == ACCOUNT_LOCKED


# ---- an upstream provider ----------------------------------------------------------------


@pytest.fixture
def upstream(context: AppContext) -> Iterator[tuple[AppContext, FakeUpstream]]:
    fake = FakeUpstream(context.clock.now())
    for ctx in wired_to(context, fake):
        add_web_client(ctx, providers=("local", "up"))
        yield ctx, fake


def _through_upstream(ctx: AppContext, fake: FakeUpstream, code: str) -> object:
    handle = Browser(ctx).authorize(acr_values="idp:up", prompt="login")
    redirect = show(ctx, handle, BROWSER)
    assert isinstance(redirect, BrowserRedirect), redirect
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    fake.claims = {"nonce": query["nonce"]}
    return callback(ctx, "up", BROWSER, {"state": query["state"], "code": code})


def test_a_locked_user_cannot_log_in_through_an_upstream(
    upstream: tuple[AppContext, FakeUpstream],
) -> None:
    ctx, fake = upstream
    first = _through_upstream(ctx, fake, "c-1")
    assert isinstance(first, LoginFinished), first
    _lock(ctx, first.session.user_id)

    again = _through_upstream(ctx, fake, "c-2")

    assert isinstance(again, UpstreamFailed), again
    assert again.refusal is LinkRefusal.LOCKED
    with ctx.store.reading() as uow:
        sessions = uow.sessions.active_of_user(first.session.user_id, ctx.clock.now())
        refused = uow.audit.list_events(events=["login.failed"])
    assert [s.id for s in sessions] == [first.session.id]
    assert refused[0].detail["refusal"] == "locked"
