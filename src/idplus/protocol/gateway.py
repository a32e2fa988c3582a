"""The API gateway front (SPEC §9): /oauth/v2 token, authorize and logout rules.

Clients authenticate with HTTP Basic only. Tokens are opaque references (256 random bits,
stored as an HMAC) that can be invalidated. Every failure is a numbered GatewayError.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from idplus.auth import local
from idplus.auth.throttle import Throttled
from idplus.crypto.hashing import HashingBusy, hash_handle, verify_client_secret
from idplus.errors import gateway_error
from idplus.models import Client, GatewayToken, User
from idplus.policies import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_PASSWORD,
    GRANT_REFRESH_TOKEN,
    is_api_scope,
)
from idplus.protocol import pkce
from idplus.protocol.context import AppContext
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.password_check import SecondFactorRequired, WrongPassword, check_password
from idplus.store.base import UnitOfWork

ACCESS_TOKEN_SECONDS = 3599
GATEWAY_GRANTS = (
    GRANT_CLIENT_CREDENTIALS,
    GRANT_AUTHORIZATION_CODE,
    GRANT_PASSWORD,
    GRANT_REFRESH_TOKEN,
)
# Grants that act for a user, and so may carry a refresh token.
USER_GRANTS = frozenset({GRANT_AUTHORIZATION_CODE, GRANT_PASSWORD, GRANT_REFRESH_TOKEN})


def authenticate_gateway_client(ctx: AppContext, authorization: str | None) -> Client:
    client_id, secret = _basic_credentials(authorization)
    client = ctx.clients.find(client_id)
    if client is None:
        raise gateway_error("invalid_client_id")
    if not client.rules.is_confidential or not client.secrets:
        raise gateway_error("invalid_client_data", "only Confidential clients use the gateway")
    if not client.api_access:
        raise gateway_error("invalid_app_attributes", "the app is not enabled for API access")
    # Every stored secret is checked, so timing does not tell which one matched.
    matches = [verify_client_secret(s.secret_hash, secret) for s in client.secrets]
    if not any(matches):
        raise gateway_error("basic_auth_failed")
    return client


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    if authorization is None or authorization[:6].lower() != "basic ":
        raise gateway_error("bad_authorization_header")
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise gateway_error("bad_authorization_header") from None
    client_id, separator, secret = decoded.partition(":")
    if not separator or not client_id:
        raise gateway_error("bad_authorization_header")
    return client_id, secret


def gateway_scopes(client: Client, requested: str | None) -> tuple[str, ...]:
    """API products the client subscribes to; without `scope`, all of them."""
    if requested is None:
        return client.api_products
    scopes = split_space_list(requested)
    for scope in scopes:
        if not is_api_scope(scope) or not client.may_request(scope):
            raise gateway_error("invalid_scope", f"scope {scope} is not allowed for this app")
    return scopes


@dataclass(frozen=True, slots=True)
class GatewayGrant:
    scopes: tuple[str, ...]
    user: User | None


def issue_gateway_tokens(
    ctx: AppContext, authorization: str | None, params: Params
) -> dict[str, Any]:
    client = authenticate_gateway_client(ctx, authorization)
    grant_type = params.get("grant_type")
    if grant_type not in GATEWAY_GRANTS or "grant_type" in params.repeated:
        raise gateway_error("invalid_grant_type")
    if grant_type not in client.grant_types:
        raise gateway_error("grant_not_permitted")
    now = ctx.clock.now()
    # The password check is slow (argon2) and must record failures even though it raises,
    # so it runs before, and outside, the transaction that issues the tokens.
    user = _password_user(ctx, params) if grant_type == GRANT_PASSWORD else None
    with ctx.store.transaction() as uow:
        grant = _grant(uow, ctx, client, grant_type, params, user, now)
        return _issue(uow, ctx, client, grant, grant_type in USER_GRANTS, now)


def _grant(
    uow: UnitOfWork,
    ctx: AppContext,
    client: Client,
    grant_type: str,
    params: Params,
    password_user: User | None,
    now: datetime,
) -> GatewayGrant:
    if grant_type == GRANT_CLIENT_CREDENTIALS:
        return GatewayGrant(gateway_scopes(client, params.get("scope")), None)
    if grant_type == GRANT_PASSWORD:
        return GatewayGrant(gateway_scopes(client, params.get("scope")), password_user)
    if grant_type == GRANT_AUTHORIZATION_CODE:
        return _code_grant(uow, ctx, client, params, now)
    return _refresh_grant(uow, ctx, client, params, now)


def _password_user(ctx: AppContext, params: Params) -> User:
    """Resource-owner password grant: only for users whose password alone is a full login.

    A user with a required second factor is refused (RFC 9700 §2.4): this grant has no step
    where the factor could be asked for. Only the username's budget applies: the peer is the
    partner's back end, so an address budget would let a few wrong passwords of some users
    lock out every user of that partner.
    """
    username = local.canonical_username(params.get("username") or "")
    password = params.get("password") or ""
    try:
        return check_password(ctx, username, password, None, password_alone_must_do=True)
    except (WrongPassword, SecondFactorRequired):
        raise gateway_error("not_authorized") from None
    except Throttled:
        raise gateway_error("not_authorized", "too many failed attempts; try again later") from None
    except HashingBusy:
        raise gateway_error("busy") from None


def _code_grant(
    uow: UnitOfWork, ctx: AppContext, client: Client, params: Params, now: datetime
) -> GatewayGrant:
    code_hash = hash_handle(ctx.secrets.handle_key, params.get("code") or "")
    stored = uow.codes.find(code_hash)
    if stored is None or stored.client_id != client.client_id or stored.expires_at <= now:
        raise gateway_error("invalid_code")
    if params.get("redirect_uri") != stored.redirect_uri:
        raise gateway_error("invalid_redirect_uri")
    verifier = params.get("code_verifier")
    if stored.code_challenge is not None and (
        verifier is None or not pkce.verifier_matches(verifier, stored.code_challenge)
    ):
        raise gateway_error("invalid_code", "code_verifier does not match")
    if not uow.codes.consume(code_hash, now):
        raise gateway_error("invalid_code", "the authorization code was already used")
    user = uow.users.find(stored.user_id)
    if user is None:
        raise gateway_error("invalid_code")
    return GatewayGrant(tuple(s for s in stored.scopes if is_api_scope(s)), user)


def _refresh_grant(
    uow: UnitOfWork, ctx: AppContext, client: Client, params: Params, now: datetime
) -> GatewayGrant:
    token_hash = hash_handle(ctx.secrets.handle_key, params.get("refresh_token") or "")
    stored = uow.gateway_tokens.find(token_hash)
    if stored is None or stored.kind != "refresh" or stored.client_id != client.client_id:
        raise gateway_error("invalid_refresh_token")
    if not stored.is_live(now) or not uow.gateway_tokens.revoke(token_hash, now):
        raise gateway_error("invalid_refresh_token")
    user = uow.users.find(stored.user_id) if stored.user_id else None
    requested = params.get("scope")
    scopes = split_space_list(requested) if requested else stored.scopes
    if any(s not in stored.scopes for s in scopes):
        raise gateway_error("invalid_scope", "a refresh may only narrow the scope")
    return GatewayGrant(scopes, user)


def _issue(
    uow: UnitOfWork,
    ctx: AppContext,
    client: Client,
    grant: GatewayGrant,
    for_user: bool,
    now: datetime,
) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "access_token": _store(uow, ctx, client, grant, "access", now + _ACCESS),
        "expires_in": ACCESS_TOKEN_SECONDS,
        "token_type": "Bearer",
    }
    if grant.scopes:
        answer["scope"] = " ".join(grant.scopes)
    if for_user and GRANT_REFRESH_TOKEN in client.grant_types:
        lifetime = client.rules.refresh_policy.lifetime
        answer["refresh_token"] = _store(uow, ctx, client, grant, "refresh", now + lifetime)
    return answer


_ACCESS = timedelta(seconds=ACCESS_TOKEN_SECONDS)


def _store(
    uow: UnitOfWork,
    ctx: AppContext,
    client: Client,
    grant: GatewayGrant,
    kind: str,
    expires_at: datetime,
) -> str:
    handle = ctx.random.handle(32)
    uow.gateway_tokens.insert(
        GatewayToken(
            token_hash=hash_handle(ctx.secrets.handle_key, handle),
            kind=kind,
            client_id=client.client_id,
            user_id=grant.user.id if grant.user else None,
            scopes=grant.scopes,
            created_at=ctx.clock.now(),
            expires_at=expires_at,
        ),
    )
    return handle


def logout_gateway_token(ctx: AppContext, authorization: str | None) -> None:
    if authorization is None or authorization[:7].lower() != "bearer ":
        raise gateway_error("bad_authorization_header")
    token = authorization[7:].strip()
    token_hash = hash_handle(ctx.secrets.handle_key, token)
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        stored = uow.gateway_tokens.find(token_hash)
        live = stored is not None and stored.kind == "access" and stored.is_live(now)
        if live:
            uow.gateway_tokens.revoke(token_hash, now)
    if not live:
        raise gateway_error("invalid_access_token")


def check_gateway_authorize(ctx: AppContext, params: Params) -> None:
    """What the gateway checks before handing an authorization request to the login."""
    client = ctx.clients.find(params.get("client_id") or "")
    if client is None:
        raise gateway_error("invalid_client_id")
    if not client.api_access:
        raise gateway_error("invalid_app_attributes", "the app is not enabled for API access")
    if params.get("redirect_uri") not in client.redirect_uris:
        raise gateway_error("invalid_redirect_uri")
    if params.get("response_type") != "code":
        raise gateway_error("illegal_response_type")
    gateway_scopes(client, params.get("scope"))
