"""The upstream authenticator against a fake upstream (httpx.MockTransport): the redirect with
state, nonce and PKCE; the callback's state checks; the ID token's validation."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from structlog.testing import capture_logs

from idplus.manage.providers import get_provider
from idplus.models import UpstreamProvider
from idplus.protocol.authenticators.upstream import callback
from idplus.protocol.context import AppContext
from idplus.protocol.federation.accounts import account_of
from idplus.protocol.federation.errors import LinkRefusal, UpstreamError
from idplus.protocol.federation.id_token import check_id_token_claims, validate_id_token
from idplus.protocol.interaction import Stage, start_internal_login
from idplus.protocol.login.machine import show
from idplus.protocol.login.results import (
    BrowserRedirect,
    Cancelled,
    LoginFinished,
    Problem,
    UpstreamFailed,
)
from tests.protocol.federation.fake_upstream import (
    CLIENT_ID,
    ISSUER,
    SECRET,
    FakeUpstream,
    key,
    wired_to,
)
from tests.protocol.login.driver import BROWSER, Browser, add_web_client


@pytest.fixture
def fake(context: AppContext) -> FakeUpstream:
    return FakeUpstream(context.clock.now())


@pytest.fixture
def ctx(context: AppContext, fake: FakeUpstream) -> Iterator[AppContext]:
    yield from wired_to(context, fake)


def _provider(ctx: AppContext) -> UpstreamProvider:
    return get_provider(ctx.store, "up")


def _to_upstream(ctx: AppContext, fake: FakeUpstream) -> dict[str, str]:
    """Start a login routed to the upstream; the query of the redirect to it."""
    add_web_client(ctx, providers=("local", "up"))
    handle = Browser(ctx).authorize(acr_values="idp:up")
    redirect = show(ctx, handle, BROWSER)
    assert isinstance(redirect, BrowserRedirect), redirect
    assert redirect.url.startswith(f"{ISSUER}/authorize?")
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    fake.claims = {"nonce": query["nonce"]}
    return query


def test_the_redirect_carries_state_nonce_and_pkce(ctx: AppContext, fake: FakeUpstream) -> None:
    query = _to_upstream(ctx, fake)
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == f"{ctx.settings.issuer}/federation/up/callback"
    assert query["code_challenge_method"] == "S256"
    assert len(query["state"]) >= 43 and len(query["nonce"]) >= 43
    assert query["scope"] == "openid"


def test_a_callback_logs_in_with_the_providers_idp_amr_and_pkce(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    query = _to_upstream(ctx, fake)
    result = callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"})
    assert isinstance(result, LoginFinished), result
    assert result.session.idp == "up"
    assert result.session.amr == ("ext",)
    assert "code" in result.response.params
    (token_request,) = fake.token_requests
    form = parse_qs(token_request.content.decode())
    verifier = form["code_verifier"][0]
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    assert challenge.decode() == query["code_challenge"]
    expected = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    assert token_request.headers["authorization"] == f"Basic {expected}"
    # The same upstream account logs in as the same user the next time.
    again = _second_login(ctx, fake)
    assert isinstance(again, LoginFinished)
    assert again.session.user_id == result.session.user_id


def _second_login(ctx: AppContext, fake: FakeUpstream) -> object:
    handle = Browser(ctx).authorize(acr_values="idp:up", prompt="login")
    redirect = show(ctx, handle, BROWSER)
    assert isinstance(redirect, BrowserRedirect)
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    fake.claims = {"nonce": query["nonce"]}
    return callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-2"})


def test_a_replayed_state_is_refused(ctx: AppContext, fake: FakeUpstream) -> None:
    query = _to_upstream(ctx, fake)
    first = callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"})
    assert isinstance(first, LoginFinished)
    replayed = callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"})
    assert isinstance(replayed, UpstreamFailed)
    assert "state" in replayed.reason


@pytest.mark.parametrize(
    ("browser", "provider", "state"),
    [("another-browser", "up", None), (BROWSER, "other", None), (BROWSER, "up", "tampered")],
)
def test_a_state_from_another_browser_provider_or_tampered_is_refused(
    ctx: AppContext, fake: FakeUpstream, browser: str, provider: str, state: str | None
) -> None:
    query = _to_upstream(ctx, fake)
    result = callback(ctx, provider, browser, {"state": state or query["state"], "code": "c"})
    assert isinstance(result, UpstreamFailed)
    assert fake.token_requests == []


def test_access_denied_at_the_upstream_is_access_denied_for_the_client(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    query = _to_upstream(ctx, fake)
    result = callback(ctx, "up", BROWSER, {"state": query["state"], "error": "access_denied"})
    assert isinstance(result, Cancelled)
    assert result.response.params["error"] == "access_denied"


def test_an_upstream_that_is_down_is_an_error_page(ctx: AppContext, fake: FakeUpstream) -> None:
    add_web_client(ctx, providers=("local", "up"))
    fake.down = True
    handle = Browser(ctx).authorize(acr_values="idp:up")
    result = show(ctx, handle, BROWSER)
    assert isinstance(result, UpstreamFailed)
    assert "discovery" in result.reason


def test_a_bad_id_token_is_an_error_page_and_provisions_nobody(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    query = _to_upstream(ctx, fake)
    fake.claims["aud"] = "someone-else"
    result = callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"})
    assert isinstance(result, UpstreamFailed)
    assert "aud" in result.reason
    with ctx.store.reading() as uow:
        assert uow.upstream_accounts.find_user_id("up", "upstream-sub-1") is None


def test_an_unknown_kid_refetches_the_jwks_once(ctx: AppContext, fake: FakeUpstream) -> None:
    token = fake.id_token("n-1")
    assert validate_id_token(ctx, _provider(ctx), token, "n-1")["sub"] == "upstream-sub-1"
    # The upstream rotates: the cached JWKS lacks the new kid, one refetch finds it.
    fake.signing = key("k2")
    fake.published.append(fake.signing)
    fetches = fake.jwks_fetches
    assert validate_id_token(ctx, _provider(ctx), fake.id_token("n-1"), "n-1")
    assert fake.jwks_fetches == fetches + 1
    # A key the upstream never published: one refetch, then refused.
    fake.signing = key("k3")
    with pytest.raises(UpstreamError, match="unknown key"):
        validate_id_token(ctx, _provider(ctx), fake.id_token("n-1"), "n-1")
    assert fake.jwks_fetches == fetches + 2


def test_a_forged_signature_is_refused(ctx: AppContext, fake: FakeUpstream) -> None:
    fake.signing = key("k1")  # same kid, another key
    with pytest.raises(UpstreamError, match="signature"):
        validate_id_token(ctx, _provider(ctx), fake.id_token("n-1"), "n-1")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"iss": "https://evil.example"}, "iss"),
        ({"aud": "other"}, "aud"),
        ({"aud": [CLIENT_ID, "other"]}, "azp"),
        ({"azp": "other"}, "azp"),
        ({"exp": -61}, "expired"),
        ({"iat": 61}, "future"),
        ({"nonce": "other"}, "nonce"),
        ({"nonce": None}, "nonce"),
        ({"sub": None}, "sub"),
    ],
)
def test_id_token_claims_are_checked(
    ctx: AppContext, overrides: dict[str, Any], reason: str
) -> None:
    now = ctx.clock.now()
    claims = _claims(now, overrides)
    with pytest.raises(UpstreamError, match=reason):
        check_id_token_claims(claims, _provider(ctx), "n-1", now)


@pytest.mark.parametrize(
    "overrides",
    [{}, {"exp": -59}, {"iat": 59}, {"aud": [CLIENT_ID, "other"], "azp": CLIENT_ID}],
)
def test_id_token_claims_within_the_leeway_pass(ctx: AppContext, overrides: dict[str, Any]) -> None:
    now = ctx.clock.now()
    check_id_token_claims(_claims(now, overrides), _provider(ctx), "n-1", now)


def _claims(now: datetime, overrides: dict[str, Any]) -> dict[str, Any]:
    moment = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": CLIENT_ID,
        "sub": "s",
        "iat": moment,
        "exp": moment + 300,
        "nonce": "n-1",
    }
    for name, value in overrides.items():
        if name in ("exp", "iat"):
            claims[name] = moment + value
        elif value is None:
            claims.pop(name)
        else:
            claims[name] = value
    return claims


def test_parallel_first_logins_of_one_upstream_account_become_one_user(ctx: AppContext) -> None:
    """Both inserts are idempotent: neither login fails, and both end as the same user."""
    provider = _provider(ctx)
    start = threading.Barrier(6)
    users: list[str] = []

    def first_login() -> None:
        start.wait()
        users.append(account_of(ctx, provider, {"sub": "same-sub"}).id)

    threads = [threading.Thread(target=first_login) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(users) == 6
    assert len(set(users)) == 1


def _login_result(ctx: AppContext, fake: FakeUpstream, **params: str) -> object:
    add_web_client(ctx, providers=("local", "up"))
    handle = Browser(ctx).authorize(acr_values="idp:up", **params)
    redirect = show(ctx, handle, BROWSER)
    assert isinstance(redirect, BrowserRedirect), redirect
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    fake.claims = {"nonce": query["nonce"], **fake.claims}
    return callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"})


def test_userinfo_claims_complete_the_id_tokens(ctx: AppContext, fake: FakeUpstream) -> None:
    """With response_type=code many providers put e-mail and phone only in userinfo."""
    fake.userinfo = {"sub": "upstream-sub-1", "email": "kari@example.no", "email_verified": True,
                     "given_name": "Kari", "nonce": "not-a-user-claim"}  # fmt: skip
    result = _login_result(ctx, fake)
    assert isinstance(result, LoginFinished), result
    (request,) = fake.userinfo_requests
    assert request.headers["authorization"] == "Bearer upstream-at"
    with ctx.store.reading() as uow:
        user = uow.users.find(result.session.user_id)
    assert user is not None
    assert (user.email, user.given_name) == ("kari@example.no", "Kari")


def test_userinfo_about_another_subject_is_refused(ctx: AppContext, fake: FakeUpstream) -> None:
    fake.userinfo = {"sub": "someone-else", "email": "x@example.no", "email_verified": True}
    result = _login_result(ctx, fake)
    assert isinstance(result, UpstreamFailed)
    assert "userinfo sub" in result.reason
    with ctx.store.reading() as uow:
        assert uow.upstream_accounts.find_user_id("up", "upstream-sub-1") is None


def test_a_link_refusal_is_its_own_page_and_gives_the_client_nothing(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    with ctx.store.transaction() as uow:
        provider = uow.upstream_providers.find("up")
        assert provider is not None
        uow.upstream_providers.delete("up")
        uow.upstream_providers.insert(replace(provider, link_by="email"))
    fake.userinfo = {"sub": "upstream-sub-1", "email": "kari@example.no"}
    result = _login_result(ctx, fake)
    assert isinstance(result, UpstreamFailed)
    assert result.refusal is LinkRefusal.UNVERIFIED


@pytest.mark.parametrize(
    ("params", "forwarded"),
    [
        ({"prompt": "login"}, {"prompt": "login"}),
        ({"max_age": "0"}, {"max_age": "0"}),
        ({}, {}),
    ],
)
def test_a_forced_login_is_forced_at_the_upstream_too(
    ctx: AppContext, fake: FakeUpstream, params: dict[str, str], forwarded: dict[str, str]
) -> None:
    add_web_client(ctx, providers=("local", "up"))
    handle = Browser(ctx).authorize(acr_values="idp:up", **params)
    redirect = show(ctx, handle, BROWSER)
    assert isinstance(redirect, BrowserRedirect)
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    assert {k: query[k] for k in ("prompt", "max_age") if k in query} == forwarded


@pytest.mark.parametrize(("auth_time_ago", "passes"), [(None, False), (600, False), (30, True)])
def test_with_max_age_the_upstreams_auth_time_must_be_recent(
    ctx: AppContext, fake: FakeUpstream, auth_time_ago: int | None, passes: bool
) -> None:
    now = int(ctx.clock.now().timestamp())
    fake.claims = {"auth_time": None if auth_time_ago is None else now - auth_time_ago}
    result = _login_result(ctx, fake, max_age="60")
    assert isinstance(result, LoginFinished if passes else UpstreamFailed), result


@pytest.mark.parametrize(
    ("sends_iss", "iss", "passes"),
    [
        (True, ISSUER, True),
        (True, None, False),
        (False, "https://evil.example", False),
        (False, None, True),
    ],
)
def test_the_responses_iss_must_name_the_provider(
    ctx: AppContext, fake: FakeUpstream, sends_iss: bool, iss: str | None, passes: bool
) -> None:
    """RFC 9207 mix-up defence."""
    fake.sends_iss = sends_iss
    query = _to_upstream(ctx, fake)
    response = {"state": query["state"], "code": "c-1"} | ({"iss": iss} if iss else {})
    result = callback(ctx, "up", BROWSER, response)
    assert isinstance(result, LoginFinished if passes else UpstreamFailed), result
    assert len(fake.token_requests) == (1 if passes else 0)


def test_the_session_keeps_the_upstream_subject_and_tokens(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    fake.refresh_token = "upstream-rt"
    result = _login_result(ctx, fake)
    assert isinstance(result, LoginFinished), result
    assert result.session.upstream_subject == "upstream-sub-1"
    with ctx.store.reading() as uow:
        stored = uow.sessions.find(result.session.id)
        kept = uow.upstream_session_tokens.find(result.session.id)
    assert stored is not None and stored.upstream_subject == "upstream-sub-1"
    assert kept is not None and kept.provider_id == "up"
    assert kept.id_token.count(".") == 2
    # Sealed like provider secrets, never the bare token.
    assert kept.refresh_token_sealed is not None and kept.refresh_token_sealed != "upstream-rt"


def test_a_slow_upstream_is_an_error_page_and_a_log_line(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    fake.slow_token_endpoint = True
    with capture_logs() as logs:
        result = _login_result(ctx, fake)
    assert isinstance(result, UpstreamFailed)
    (line,) = [entry for entry in logs if entry["event"] == "upstream_login_failed"]
    assert line["provider"] == "up"
    assert line["reason"].startswith("token endpoint") and "ReadTimeout" in line["reason"]
    with ctx.store.reading() as uow:
        assert uow.upstream_accounts.find_user_id("up", "upstream-sub-1") is None


def test_a_provider_asked_for_offline_access_is_asked_for_consent(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    """OIDC Core §11: without prompt=consent a strict upstream drops offline_access."""
    with ctx.store.transaction() as uow:
        provider = uow.upstream_providers.find("up")
        assert provider is not None
        uow.upstream_providers.delete("up")
        uow.upstream_providers.insert(replace(provider, scopes=("openid", "offline_access")))
    add_web_client(ctx, providers=("local", "up"))
    handle = Browser(ctx).authorize(acr_values="idp:up", prompt="login")
    redirect = show(ctx, handle, BROWSER)
    assert isinstance(redirect, BrowserRedirect)
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    assert (query["scope"], query["prompt"]) == ("openid offline_access", "login consent")


def test_the_upstream_stage_page_names_the_provider(ctx: AppContext, fake: FakeUpstream) -> None:
    add_web_client(ctx, providers=("local", "up"))
    browser = Browser(ctx)
    handle = browser.authorize(acr_values="idp:up")
    assert isinstance(show(ctx, handle, BROWSER), BrowserRedirect)
    # A stale page's button at the upstream stage: the page says where the login goes.
    problem = browser.act(handle, "verify")
    assert isinstance(problem, Problem)
    assert (problem.page.stage, problem.page.provider_name) == (Stage.UPSTREAM, "Up")


@pytest.mark.parametrize(
    "body",
    [
        b'{"sub": "upstream-sub-1", "x": "' + b"a" * 70_000 + b'"}',
        b"[" * 200_000 + b"]" * 200_000,
    ],
    ids=["huge", "deep"],
)
def test_an_oversized_or_pathological_userinfo_is_an_error_page(
    ctx: AppContext, fake: FakeUpstream, body: bytes
) -> None:
    fake.userinfo, fake.userinfo_raw = {}, body
    result = _login_result(ctx, fake)
    assert isinstance(result, UpstreamFailed), result
    assert "userinfo" in result.reason


def test_the_session_keeps_the_upstreams_auth_time(ctx: AppContext, fake: FakeUpstream) -> None:
    """A later max_age counts from the upstream login, not from the callback."""
    long_ago = int(ctx.clock.now().timestamp()) - 3300
    fake.claims = {"auth_time": long_ago}
    result = _login_result(ctx, fake, max_age="3600")
    assert isinstance(result, LoginFinished), result
    assert int(result.session.auth_time.timestamp()) == long_ago


def test_prompt_login_is_refused_when_the_upstream_reused_its_own_session(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    fake.claims = {"auth_time": int(ctx.clock.now().timestamp()) - 86_400}
    result = _login_result(ctx, fake, prompt="login")
    assert isinstance(result, UpstreamFailed), result
    assert "again" in result.reason


def test_a_fresh_internal_login_is_fresh_at_the_upstream_too(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    """A CIBA approval must not ride on the upstream's own session."""
    add_web_client(ctx, providers=("up",))
    with ctx.store.reading() as uow:
        client = uow.clients.find("web")
    assert client is not None
    handle = start_internal_login(
        ctx, client, return_to="/ciba/approve?t=1", browser_id=BROWSER, locale="en",
        session=None, fresh=True,
    )  # fmt: skip
    redirect = show(ctx, handle, BROWSER)
    assert isinstance(redirect, BrowserRedirect)
    query = {k: v[0] for k, v in parse_qs(urlsplit(redirect.url).query).items()}
    assert (query["prompt"], query["max_age"]) == ("login", "0")


def test_the_session_keeps_the_user_agent_of_the_browser_that_came_back(
    ctx: AppContext, fake: FakeUpstream
) -> None:
    query = _to_upstream(ctx, fake)
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    result = callback(ctx, "up", BROWSER, {"state": query["state"], "code": "c-1"}, agent)
    assert isinstance(result, LoginFinished), result
    with ctx.store.reading() as uow:
        stored = uow.sessions.find(result.session.id)
    assert stored is not None and stored.user_agent == agent


def test_a_failed_callback_uses_its_state_up(ctx: AppContext, fake: FakeUpstream) -> None:
    """The same error answer sent again finds no login and writes no second failure."""
    query = _to_upstream(ctx, fake)
    answer = {"state": query["state"], "error": "temporarily_unavailable"}

    results = [callback(ctx, "up", BROWSER, answer) for _ in range(5)]

    assert all(isinstance(result, UpstreamFailed) for result in results)
    with ctx.store.reading() as uow:
        failures = uow.audit.list_events(events=("login.failed",))
    assert len(failures) == 1
