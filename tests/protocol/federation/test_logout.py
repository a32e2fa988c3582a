"""Ending a session at its upstream: the chain of end_session redirects (with the kept upstream
ID token) for a browser, and revoking the upstream refresh token (RFC 7009) without one."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from idplus.auth.upstream_metadata import UpstreamMetadata
from idplus.clock import FrozenClock
from idplus.models import UpstreamSessionTokens
from idplus.protocol.authenticators.upstream import callback
from idplus.protocol.context import AppContext
from idplus.protocol.federation.logout import (
    LOGGED_OUT_PAGE,
    back_from_upstream_logout,
    revoke_upstream_sessions,
    upstream_logout_url,
)
from idplus.protocol.login.machine import show
from idplus.protocol.login.results import BrowserRedirect, LoginFinished
from idplus.protocol.oidc.end_session import EndedSession, end_sessions
from tests.protocol.federation.fake_upstream import CLIENT_ID, ISSUER, FakeUpstream, wired_to
from tests.protocol.login.driver import BROWSER, Browser, add_web_client

FINAL = "https://rp.example/logged-out?state=rp-state"


@pytest.fixture
def fake(context: AppContext) -> FakeUpstream:
    return FakeUpstream(context.clock.now())


@pytest.fixture
def ctx(context: AppContext, fake: FakeUpstream) -> Iterator[AppContext]:
    yield from wired_to(context, fake)


def _logged_in_through_upstream(ctx: AppContext, fake: FakeUpstream) -> LoginFinished:
    add_web_client(ctx, providers=("local", "up"))
    redirect = show(ctx, Browser(ctx).authorize(acr_values="idp:up"), BROWSER)
    assert isinstance(redirect, BrowserRedirect)
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    fake.claims = {"nonce": query["nonce"]}
    finished = callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"})
    assert isinstance(finished, LoginFinished), finished
    return finished


def _ended(ctx: AppContext, fake: FakeUpstream) -> EndedSession:
    finished = _logged_in_through_upstream(ctx, fake)
    (ended,) = end_sessions(ctx, [finished.session.id])
    return ended


def test_ending_a_session_hands_over_its_upstream_tokens_once(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    ended = _ended(ctx, fake)
    assert ended.upstream is not None and ended.upstream.provider_id == "up"
    with ctx.store.reading() as uow:
        assert uow.upstream_session_tokens.find(ended.session.id) is None


def test_the_browser_goes_through_the_upstreams_end_session_and_back(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    ended = _ended(ctx, fake)
    assert ended.upstream is not None
    url = upstream_logout_url(ctx, [ended.upstream], FINAL)
    assert url is not None and url.startswith(f"{ISSUER}/logout?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert query["id_token_hint"] == ended.upstream.id_token
    assert query["client_id"] == CLIENT_ID
    assert query["post_logout_redirect_uri"] == f"{ctx.settings.issuer}/federation/up/logged-out"
    # Back at idplus: on to the client, once; another provider's path or a guess gets nothing.
    assert back_from_upstream_logout(ctx, "other", query["state"]) is None
    assert back_from_upstream_logout(ctx, "up", query["state"] + "x") is None
    assert back_from_upstream_logout(ctx, "up", query["state"]) == FINAL
    assert back_from_upstream_logout(ctx, "up", query["state"]) is None


def test_two_upstream_sessions_are_ended_one_after_the_other(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    first = UpstreamSessionTokens("up", "first.id.token", None)
    second = UpstreamSessionTokens("up", "second.id.token", None)
    url = upstream_logout_url(ctx, [first, second], LOGGED_OUT_PAGE + "nb")
    assert url is not None
    hop = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert hop["id_token_hint"] == "first.id.token"
    after_first = back_from_upstream_logout(ctx, "up", hop["state"])
    assert after_first is not None
    hop = {k: v[0] for k, v in parse_qs(urlsplit(after_first).query).items()}
    assert hop["id_token_hint"] == "second.id.token"
    assert back_from_upstream_logout(ctx, "up", hop["state"]) == LOGGED_OUT_PAGE + "nb"


def test_a_stale_logout_hop_is_refused(ctx: AppContext, fake: FakeUpstream) -> None:
    url = upstream_logout_url(ctx, [UpstreamSessionTokens("up", "t.t.t", None)], FINAL)
    assert url is not None
    state = parse_qs(urlsplit(url).query)["state"][0]
    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(timedelta(hours=1))
    assert back_from_upstream_logout(ctx, "up", state) is None


def test_an_upstream_that_is_down_at_logout_is_skipped(ctx: AppContext, fake: FakeUpstream) -> None:
    ended = _ended(ctx, fake)
    assert ended.upstream is not None
    fake.down = True
    # Another process, or after the cache expired: nothing cached hides the outage.
    uncached = replace(ctx, upstream=UpstreamMetadata(ctx.upstream.http))
    assert upstream_logout_url(uncached, [ended.upstream], FINAL) is None


@pytest.mark.parametrize(("status", "succeeds"), [(200, True), (503, False)])
def test_without_a_browser_the_upstream_refresh_token_is_revoked(
    ctx: AppContext, fake: FakeUpstream, status: int, succeeds: bool
) -> None:
    fake.refresh_token, fake.revocation_status = "upstream-rt", status
    ended = _ended(ctx, fake)
    assert ended.upstream is not None
    assert revoke_upstream_sessions(ctx, [ended.upstream]) is succeeds
    assert fake.revoked == ["upstream-rt"]


def test_nothing_to_revoke_is_no_failure(ctx: AppContext, fake: FakeUpstream) -> None:
    fake.revocation_status = 200
    ended = _ended(ctx, fake)  # the upstream issued no refresh token
    assert ended.upstream is not None
    assert revoke_upstream_sessions(ctx, [ended.upstream]) is True
    assert fake.revoked == []
