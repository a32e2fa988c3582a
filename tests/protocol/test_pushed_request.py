"""Pushed authorization requests (RFC 9126): the push validates like the front channel and
answers the client; the front channel takes a pushed request once, for its own client only."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from idplus.errors import FatalAuthorizeError, OAuthError
from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.maintenance import prune
from idplus.models import AuthorizationRequest, Client
from idplus.protocol.authorize import (
    NO_CLIENT_ID,
    PAR_REQUIRED,
    PUSHED_REQUEST_GONE,
    PUSHED_REQUEST_MALFORMED,
    REPEATED,
    UNKNOWN_CLIENT,
    KnownClientRefused,
    RedirectableError,
    validate_parameters,
)
from idplus.protocol.context import AppContext
from idplus.protocol.params import parse_params
from idplus.protocol.pkce import s256_challenge
from idplus.protocol.pushed_request import (
    LIFETIME_SECONDS,
    REQUEST_URI_PREFIX,
    is_pushed,
    push_authorization_request,
    take_pushed_request,
)
from idplus.store.sql.engine import Database
from idplus.store.sql.tables import pushed_requests

CALLBACK = "https://rp.example/cb"
CHALLENGE = s256_challenge("v" * 43)


def _client(ctx: AppContext, client_id: str = "app", **fields: Any) -> Client:
    fields.setdefault("client_type", "Public")
    fields.setdefault("redirect_uris", [CALLBACK])
    add_client(ctx.store, ctx.clock, ClientRegistration(client_id=client_id, **fields))
    with ctx.store.reading() as uow:
        client = uow.clients.find(client_id)
    assert client is not None
    return client


def _push(ctx: AppContext, client: Client, **params: str) -> str:
    values = {
        "client_id": client.client_id,
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid",
        "state": "st",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    values.update(params)
    items = [(k, v) for k, v in values.items() if v != ""]
    return push_authorization_request(ctx, client, parse_params(items)).request_uri


def _take(
    ctx: AppContext,
    client_id: str | None,
    request_uri: str,
    *extra: tuple[str, str],
    locale: str = "en",
) -> tuple[Client, AuthorizationRequest]:
    items = [("request_uri", request_uri), *extra]
    if client_id is not None:
        items.append(("client_id", client_id))
    with ctx.store.transaction() as uow:
        return take_pushed_request(uow, ctx, parse_params(items), locale)


def _refusal(ctx: AppContext, client_id: str | None, request_uri: str) -> FatalAuthorizeError:
    with pytest.raises(FatalAuthorizeError) as caught:
        _take(ctx, client_id, request_uri)
    return caught.value


def test_a_push_answers_a_one_minute_urn_and_keeps_only_its_hash(
    context: AppContext, db: Database
) -> None:
    pushed = push_authorization_request(
        context,
        _client(context),
        parse_params([("client_id", "app"), ("redirect_uri", CALLBACK), ("response_type", "code"),
                      ("scope", "openid"), ("code_challenge", CHALLENGE),
                      ("code_challenge_method", "S256")]),
    )  # fmt: skip

    assert pushed.to_json() == {"request_uri": pushed.request_uri, "expires_in": 60}
    assert pushed.request_uri.startswith(REQUEST_URI_PREFIX)
    handle = pushed.request_uri.removeprefix(REQUEST_URI_PREFIX)
    assert len(handle) >= 43
    with db.engine.connect() as conn:
        (row,) = conn.execute(sa.select(pushed_requests)).mappings().all()
    assert handle not in str(dict(row))
    assert row["expires_at"] - row["created_at"] == timedelta(seconds=LIFETIME_SECONDS)


def test_the_front_channel_gets_the_pushed_request_once(context: AppContext) -> None:
    client = _client(context)
    request_uri = _push(context, client, scope="openid profile", nonce="n-1", prompt="login")

    taken_client, request = _take(context, "app", request_uri)

    assert taken_client.client_id == "app"
    assert (request.redirect_uri, request.scopes, request.state) == (
        CALLBACK, ("openid", "profile"), "st"
    )  # fmt: skip
    assert (request.nonce, request.prompt, request.code_challenge) == ("n-1", ("login",), CHALLENGE)
    again = _refusal(context, "app", request_uri)
    assert isinstance(again, KnownClientRefused)
    assert again.description == PUSHED_REQUEST_GONE


def test_front_channel_parameters_beside_client_id_and_request_uri_are_ignored(
    context: AppContext,
) -> None:
    request_uri = _push(context, _client(context))

    _, request = _take(context, "app", request_uri, ("redirect_uri", "https://evil.example/cb"),
                       ("scope", "openid offline_access"), ("state", "forged"),
                       ("response_mode", "fragment"))  # fmt: skip

    assert (request.redirect_uri, request.scopes, request.state, request.response_mode) == (
        CALLBACK, ("openid",), "st", "query"
    )  # fmt: skip


def test_another_clients_request_uri_is_refused_and_stays_for_its_own_client(
    context: AppContext,
) -> None:
    _client(context, "other")
    request_uri = _push(context, _client(context))

    refused = _refusal(context, "other", request_uri)

    assert refused.description == PUSHED_REQUEST_GONE
    assert _take(context, "app", request_uri)[0].client_id == "app"


def test_db_prune_deletes_expired_pushed_requests_and_keeps_live_ones(
    context: AppContext,
) -> None:
    client = _client(context)
    _push(context, client)
    context.clock.advance(timedelta(seconds=30))  # type: ignore[attr-defined]
    live = _push(context, client)
    context.clock.advance(timedelta(seconds=30))  # type: ignore[attr-defined]

    deleted = prune(context.store, context.clock, audit_retention=timedelta(days=365))

    assert deleted["pushed_requests"] == 1
    assert _take(context, "app", live)[0].client_id == "app"


def test_an_expired_request_uri_is_refused(context: AppContext) -> None:
    request_uri = _push(context, _client(context))
    context.clock.advance(timedelta(seconds=LIFETIME_SECONDS))  # type: ignore[attr-defined]

    assert _refusal(context, "app", request_uri).description == PUSHED_REQUEST_GONE


@pytest.mark.parametrize(
    "request_uri",
    [
        REQUEST_URI_PREFIX,
        REQUEST_URI_PREFIX + "short",
        REQUEST_URI_PREFIX + "a" * 42 + "!",
        REQUEST_URI_PREFIX + "a" * 129,
        REQUEST_URI_PREFIX + "ü" * 43,
        REQUEST_URI_PREFIX + "a" * 43 + "\n",
    ],
)
def test_a_malformed_request_uri_is_refused(context: AppContext, request_uri: str) -> None:
    _client(context)
    assert _refusal(context, "app", request_uri).description == PUSHED_REQUEST_MALFORMED


def test_an_unknown_request_uri_is_refused(context: AppContext) -> None:
    _client(context)
    request_uri = REQUEST_URI_PREFIX + "A" * 43
    assert _refusal(context, "app", request_uri).description == PUSHED_REQUEST_GONE


def test_client_id_must_come_once_and_name_a_client(context: AppContext) -> None:
    request_uri = _push(context, _client(context))

    assert _refusal(context, None, request_uri).description == NO_CLIENT_ID
    assert _refusal(context, "nobody", request_uri).description == UNKNOWN_CLIENT
    with pytest.raises(FatalAuthorizeError) as caught, context.store.transaction() as uow:
        repeated = [("client_id", "app"), ("client_id", "app"), ("request_uri", request_uri)]
        take_pushed_request(uow, context, parse_params(repeated))
    assert caught.value.description == REPEATED
    # None of these used the request up.
    assert _take(context, "app", request_uri)[0].client_id == "app"


def test_pages_follow_the_browser_unless_the_push_named_ui_locales(context: AppContext) -> None:
    client = _client(context)
    plain, chosen = _push(context, client), _push(context, client, ui_locales="en")

    assert _take(context, "app", plain, locale="nb")[1].ui_locale == "nb"
    assert _take(context, "app", chosen, locale="nb")[1].ui_locale == "en"


def test_parallel_uses_of_one_request_uri_succeed_once(context: AppContext) -> None:
    request_uri = _push(context, _client(context))
    barrier, outcomes = threading.Barrier(6), []

    def use() -> None:
        barrier.wait()
        try:
            _take(context, "app", request_uri)
            outcomes.append("used")
        except FatalAuthorizeError:
            outcomes.append("refused")

    threads = [threading.Thread(target=use) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused"] * 5 + ["used"]


def _push_error(ctx: AppContext, client: Client, *items: tuple[str, str]) -> OAuthError:
    base = [("client_id", client.client_id), ("redirect_uri", CALLBACK),
            ("response_type", "code"), ("scope", "openid"), ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256")]  # fmt: skip
    names = {name for name, _ in items}
    params = [(k, v) for k, v in base if k not in names] + [(k, v) for k, v in items if v]
    with pytest.raises(OAuthError) as caught:
        push_authorization_request(ctx, client, parse_params(params))
    return caught.value


@pytest.mark.parametrize(
    ("items", "error"),
    [
        ((("request_uri", REQUEST_URI_PREFIX + "A" * 43),), "invalid_request"),
        ((("redirect_uri", "https://evil.example/cb"),), "invalid_request"),
        ((("redirect_uri", ""),), "invalid_request"),
        ((("scope", "openid admin"),), "invalid_scope"),
        ((("scope", ""),), "invalid_request"),
        ((("response_type", "code id_token"),), "unauthorized_client"),
        ((("response_type", "banana"),), "unsupported_response_type"),
        ((("code_challenge", ""),), "invalid_request"),
        ((("code_challenge_method", "plain"),), "invalid_request"),
        ((("prompt", "none login"),), "invalid_request"),
        ((("max_age", "-1"),), "invalid_request"),
        ((("request", "eyJhbGciOiJub25lIn0.e30."),), "request_not_supported"),
        ((("state", "a"), ("state", "b")), "invalid_request"),
    ],
)
def test_the_push_refuses_what_the_front_channel_refuses(
    context: AppContext, items: tuple[tuple[str, str], ...], error: str, db: Database
) -> None:
    refused = _push_error(context, _client(context), *items)

    assert refused.error == error
    with db.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(pushed_requests)).scalar() == 0


def test_a_ciba_client_cannot_push(context: AppContext) -> None:
    client = _client(context, "bank", client_type="Confidential", ciba_enabled=True,
                     grant_types=["urn:openid:params:grant-type:ciba"])  # fmt: skip
    assert _push_error(context, client).error == "unauthorized_client"


def test_a_client_that_requires_par_is_refused_on_the_front_channel_only(
    context: AppContext,
) -> None:
    client = _client(context, require_pushed_authorization_requests=True)
    params = parse_params([("client_id", "app"), ("redirect_uri", CALLBACK), ("state", "st"),
                           ("response_type", "code"), ("scope", "openid"),
                           ("code_challenge", CHALLENGE),
                           ("code_challenge_method", "S256")])  # fmt: skip

    with pytest.raises(RedirectableError) as caught:
        validate_parameters(params, client)

    assert (caught.value.error.error, caught.value.error.description) == (
        "invalid_request", PAR_REQUIRED
    )  # fmt: skip
    assert (caught.value.target.redirect_uri, caught.value.target.state) == (CALLBACK, "st")
    assert validate_parameters(params, client, pushed=True).client_id == "app"


def test_only_a_pushed_urn_is_taken_as_a_pushed_request() -> None:
    assert is_pushed(parse_params([("request_uri", REQUEST_URI_PREFIX + "x")]))
    assert not is_pushed(parse_params([("request_uri", "https://rp.example/request.jwt")]))
    assert not is_pushed(parse_params([("client_id", "app")]))
