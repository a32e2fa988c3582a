"""The upstream authenticator against a fake upstream (httpx.MockTransport): the redirect with
state, nonce and PKCE; the callback's state checks; the ID token's validation."""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from idplus.auth.providers import LOCAL_PROVIDER, ProviderInfo, ProviderKind, ProviderRegistry
from idplus.auth.upstream_metadata import UpstreamMetadata
from idplus.manage.providers import ProviderRegistration, add_provider, get_provider
from idplus.models import UpstreamProvider
from idplus.protocol.authenticators import upstream
from idplus.protocol.authenticators.upstream import (
    UpstreamError,
    callback,
    check_id_token_claims,
    validate_id_token,
)
from idplus.protocol.context import AppContext
from idplus.protocol.login.machine import show
from idplus.protocol.login.results import BrowserRedirect, Cancelled, LoginFinished, UpstreamFailed
from tests.protocol.login.driver import BROWSER, Browser, add_web_client

ISSUER = "https://up.example"
CLIENT_ID = "hub"
SECRET = "upstream-secret"


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


@dataclass
class FakeUpstream:
    """An upstream OpenID provider: discovery, JWKS, and a token endpoint issuing one token."""

    now: datetime
    signing: RSAKey = field(default_factory=lambda: _key("k1"))
    published: list[RSAKey] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)
    down: bool = False
    token_requests: list[httpx.Request] = field(default_factory=list)
    jwks_fetches: int = 0

    def __post_init__(self) -> None:
        self.published.append(self.signing)

    def id_token(self, nonce: str, **overrides: Any) -> str:
        claims = {
            "iss": ISSUER,
            "aud": CLIENT_ID,
            "sub": "upstream-sub-1",
            "iat": int(self.now.timestamp()),
            "exp": int(self.now.timestamp()) + 300,
            "nonce": nonce,
            **overrides,
        }
        header = {"alg": "RS256", "kid": self.signing.kid}
        return jwt.encode(header, {k: v for k, v in claims.items() if v is not None}, self.signing)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if self.down:
            raise httpx.ConnectTimeout("down", request=request)
        path = request.url.path
        if path == "/.well-known/openid-configuration":
            return httpx.Response(
                200,
                json={
                    "issuer": ISSUER,
                    "authorization_endpoint": f"{ISSUER}/authorize",
                    "token_endpoint": f"{ISSUER}/token",
                    "jwks_uri": f"{ISSUER}/jwks",
                },
            )
        if path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(
                200, json={"keys": [k.as_dict(private=False) for k in self.published]}
            )
        if path == "/token":
            self.token_requests.append(request)
            return httpx.Response(200, json={"id_token": self.id_token(**self.claims)})
        return httpx.Response(404)


@pytest.fixture
def fake(context: AppContext) -> FakeUpstream:
    return FakeUpstream(context.clock.now())


@pytest.fixture
def ctx(context: AppContext, fake: FakeUpstream) -> Iterator[AppContext]:
    add_provider(
        context.store,
        context.settings,
        context.clock,
        ProviderRegistration("up", ISSUER, CLIENT_ID, SECRET, amr=("ext",)),
    )
    providers = ProviderRegistry(
        [LOCAL_PROVIDER, ProviderInfo("up", {"en": "Up"}, ProviderKind.UPSTREAM)]
    )
    with httpx.Client(transport=httpx.MockTransport(fake.handle)) as http:
        yield replace(context, providers=providers, upstream=UpstreamMetadata(http))


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
    fake.signing = _key("k2")
    fake.published.append(fake.signing)
    fetches = fake.jwks_fetches
    assert validate_id_token(ctx, _provider(ctx), fake.id_token("n-1"), "n-1")
    assert fake.jwks_fetches == fetches + 1
    # A key the upstream never published: one refetch, then refused.
    fake.signing = _key("k3")
    with pytest.raises(UpstreamError, match="unknown key"):
        validate_id_token(ctx, _provider(ctx), fake.id_token("n-1"), "n-1")
    assert fake.jwks_fetches == fetches + 2


def test_a_forged_signature_is_refused(ctx: AppContext, fake: FakeUpstream) -> None:
    fake.signing = _key("k1")  # same kid, another key
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
        users.append(upstream._user_of(ctx, provider, "same-sub").id)

    threads = [threading.Thread(target=first_login) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(users) == 6
    assert len(set(users)) == 1
