"""Refresh policies of SPEC §2, rotation and reuse detection, logout, narrowing, exchange."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.errors import InvalidGrant
from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.users import UserRegistration, add_user
from idplus.models import Authentication
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.grants import Front
from idplus.protocol.grants.refresh_token import RefreshTokenGrant
from idplus.protocol.issuance import JwtAccessTokens, issue_tokens, new_lineage
from idplus.protocol.params import parse_params
from idplus.protocol.sso import SessionLifetime, end_session, start_or_renew_session
from idplus.store.sql.uow import SqlStore
from tests.harness import Harness, code_from_login, exchange_code, refresh


def _login_with_refresh(
    h: Harness, client_type: str, *, remember: bool = False
) -> tuple[dict[str, Any], str | None]:
    client_secret = h.add_client(
        "app",
        client_type=client_type,
        scopes=["openid", "offline_access", "tnn.ids", "account.profiles"],
    )
    h.add_user(tnuids=["t-main", "t-second"])
    browser = h.browser()
    page = browser.get(h.authorize_url("app", scope="openid offline_access tnn.ids"))
    assert 'name="password"' in page.text
    extra = {"remember_me": "on"} if remember else {}
    answer = h.login(browser, **extra)
    code = answer.headers["location"].split("code=")[1].split("&")[0]
    body = exchange_code(h, code, "app", client_secret).json()
    assert "refresh_token" in body, body
    return body, client_secret


def _refresh(h: Harness, token: str, secret: str | None, **extra: str) -> Any:
    if secret:
        extra["client_secret"] = secret
    return refresh(h, token, "app", **extra)


def test_no_refresh_token_without_offline_access(harness: Harness) -> None:
    harness.add_client("app", client_type="MobileApp")
    harness.add_user()
    body = exchange_code(harness, code_from_login(harness, "app", scope="openid"), "app").json()
    assert "refresh_token" not in body


def test_public_no_refresh_clients_never_get_one(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user()
    body = exchange_code(harness, code_from_login(harness)).json()
    assert "refresh_token" not in body


def test_confidential_refresh_is_fixed_14_days_from_login(harness: Harness) -> None:
    body, secret = _login_with_refresh(harness, "Confidential", remember=True)
    token = body["refresh_token"]
    for _ in range(13):
        harness.clock.advance(timedelta(days=1))
        answer = _refresh(harness, token, secret)
        assert answer.status_code == 200, answer.text
        assert "refresh_token" not in answer.json()  # the same token stays in use
    harness.clock.advance(timedelta(days=1))
    expired = _refresh(harness, token, secret)
    assert expired.status_code == 400
    assert expired.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    ("client_type", "lifetime"),
    [("MobileApp", timedelta(days=90)), ("PublicWithRefresh", timedelta(minutes=10))],
)
def test_sliding_refresh_lives_past_one_lifetime_while_used(
    harness: Harness, client_type: str, lifetime: timedelta
) -> None:
    body, _ = _login_with_refresh(harness, client_type)
    token = body["refresh_token"]
    for _ in range(3):  # three refreshes, each just inside the lifetime: 2.7 lifetimes in all
        harness.clock.advance(lifetime * 0.9)
        answer = _refresh(harness, token, None)
        assert answer.status_code == 200, answer.text
        token = answer.json()["refresh_token"]
    harness.clock.advance(lifetime)
    assert _refresh(harness, token, None).json()["error"] == "invalid_grant"


def test_reusing_a_rotated_token_revokes_the_whole_family(harness: Harness) -> None:
    body, _ = _login_with_refresh(harness, "MobileApp")
    first = body["refresh_token"]
    second = _refresh(harness, first, None).json()["refresh_token"]

    reused = _refresh(harness, first, None)
    assert reused.json()["error"] == "invalid_grant"
    assert _refresh(harness, second, None).json()["error"] == "invalid_grant"


def test_logout_kills_refresh(harness: Harness) -> None:
    body, _ = _login_with_refresh(harness, "MobileApp")
    sid = _claims(harness, body["access_token"])["sid"]
    db = harness.db()
    try:
        with SqlStore(db).transaction() as uow:
            end_session(uow, sid, harness.clock.now())
    finally:
        db.dispose()
    answer = _refresh(harness, body["refresh_token"], None)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_scope_may_narrow_but_never_widen(harness: Harness) -> None:
    body, _ = _login_with_refresh(harness, "MobileApp")
    narrowed = _refresh(harness, body["refresh_token"], None, scope="openid offline_access")
    assert narrowed.json()["scope"] == "openid offline_access"
    wider = _refresh(harness, narrowed.json()["refresh_token"], None, scope="openid email")
    assert wider.json()["error"] == "invalid_scope"


def test_another_clients_refresh_token_is_invalid_grant(harness: Harness) -> None:
    body, _ = _login_with_refresh(harness, "MobileApp")
    harness.add_client("other", client_type="MobileApp")
    answer = refresh(harness, body["refresh_token"], "other")
    assert answer.json()["error"] == "invalid_grant"


def _claims(h: Harness, token: str) -> dict[str, Any]:
    jwks = KeySet.import_key_set(h.http.get("/.well-known/jwks.json").json())
    return dict(jwt.decode(token, jwks).claims)


def test_legacy_exchange_switches_the_profile(harness: Harness) -> None:
    secret = harness.add_client(
        "legacy",
        client_type="Confidential",
        scopes=["openid", "offline_access", "tnn.ids", "account.profiles"],
        update_at_claims=True,
    )
    harness.add_user(tnuids=["t-main", "t-second"])
    browser = harness.browser()
    scope = "openid offline_access tnn.ids account.profiles"
    browser.get(
        harness.authorize_url("legacy", scope=scope, code_challenge="", code_challenge_method="")
    )
    code = harness.login(browser).headers["location"].split("code=")[1].split("&")[0]
    body = exchange_code(harness, code, "legacy", secret, code_verifier="").json()
    assert _claims(harness, body["access_token"])["tnuid"] == "t-main"

    switched = refresh(harness, body["refresh_token"], "legacy", client_secret=secret or "",
                       tnuId="t-second")  # fmt: skip
    assert switched.status_code == 200, switched.text
    assert _claims(harness, switched.json()["access_token"])["tnuid"] == "t-second"
    unknown = refresh(harness, body["refresh_token"], "legacy", client_secret=secret or "",
                      tnuId="t-stranger")  # fmt: skip
    assert unknown.json()["error"] == "invalid_grant"


def test_legacy_exchange_needs_the_update_at_claims_flag(harness: Harness) -> None:
    body, _ = _login_with_refresh(harness, "MobileApp")
    answer = _refresh(harness, body["refresh_token"], None, tnuId="t-second")
    assert answer.json()["error"] == "unauthorized_client"


def test_twenty_parallel_refreshes_let_exactly_one_succeed(context: AppContext) -> None:
    """On both backends: the rotation is one atomic UPDATE … WHERE used_at IS NULL."""
    store, clock = context.store, context.clock
    add_client(
        store, clock, ClientRegistration("app", "MobileApp", scopes=["openid", "offline_access"])
    )
    user = add_user(store, clock, UserRegistration("+4790000001", "password1"))
    client = context.clients.find("app")
    assert client is not None
    with store.transaction() as uow:
        session = start_or_renew_session(
            uow,
            handle_key=context.secrets.handle_key,
            group="client:app",
            authentication=Authentication(user.id, clock.now(), ("pwd",), "urn:x", "local"),
            lifetime=SessionLifetime(True, timedelta(days=90)),
            existing=None,
            now=clock.now(),
            random=context.random,
        ).session
        grant = Grant(client=client, scopes=("openid", "offline_access"), user=user,
                      session_id=session.id, auth_time=clock.now())  # fmt: skip
        front = Front(JwtAccessTokens(context.keys.current()))
        token = issue_tokens(
            context, front.tokens, grant, clock.now(), uow=uow, lineage=new_lineage(context.random)
        )
    assert token.refresh_token is not None
    params = parse_params([("grant_type", "refresh_token"), ("refresh_token", token.refresh_token)])

    def attempt(_: int) -> bool:
        try:
            RefreshTokenGrant().handle(context, front, client, params)
        except InvalidGrant:
            return False
        return True

    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(attempt, range(20)))
    assert results.count(True) == 1
    with store.reading() as uow:
        assert uow.sessions.find(session.id) is not None


def test_a_refused_scope_does_not_spend_a_rotating_refresh_token(harness: Harness) -> None:
    """On main the token was consumed before the scope check: the client's corrected retry
    then looked like reuse and the whole family was revoked."""
    body, secret = _login_with_refresh(harness, "MobileApp")
    wide = _refresh(harness, body["refresh_token"], secret, scope="openid offline_access profile")
    assert wide.status_code == 400
    assert wide.json()["error"] == "invalid_scope"
    retry = _refresh(harness, body["refresh_token"], secret)
    assert retry.status_code == 200, retry.text
    assert _refresh(harness, retry.json()["refresh_token"], secret).status_code == 200


def test_unknown_used_and_revoked_refresh_tokens_get_the_same_answer(harness: Harness) -> None:
    body, secret = _login_with_refresh(harness, "MobileApp")
    first = body["refresh_token"]
    second = _refresh(harness, first, secret).json()["refresh_token"]
    used = _refresh(harness, first, secret).json()  # reuse: the family is revoked
    revoked = _refresh(harness, second, secret).json()
    unknown = _refresh(harness, "never-issued", secret).json()
    assert (
        used
        == revoked
        == unknown
        == {
            "error": "invalid_grant",
            "error_description": "grant request is invalid",
        }
    )
