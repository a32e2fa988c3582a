"""The API gateway front (SPEC §9): /oauth/v2 token, authorize and logout rules.

Its token endpoint is the one grant engine (`token_endpoint.redeem_grant`) with the gateway's
own client authentication — HTTP Basic only, Confidential clients enabled for API access —
and opaque reference access tokens (256 random bits, stored as an HMAC) that can be
invalidated. The engine's errors get their numbers in `gateway/endpoints.py`; the logout and
authorize checks below raise the numbered GatewayErrors themselves.
"""

from __future__ import annotations

import base64
import binascii

from idplus.crypto.hashing import hash_handle
from idplus.errors import gateway_error
from idplus.models import Client
from idplus.policies import is_api_scope
from idplus.protocol.client_auth import (
    ClientAuthenticationFailed,
    UnknownClient,
    UnreadableCredentials,
    secret_matches,
)
from idplus.protocol.context import AppContext
from idplus.protocol.grants import Front
from idplus.protocol.issuance import ReferenceAccessTokens, TokenResponse
from idplus.protocol.params import Params, split_space_list
from idplus.protocol.token_endpoint import redeem_grant

GATEWAY_FRONT = Front(ReferenceAccessTokens(), api_scopes_only=True)


class NotAGatewayClient(ClientAuthenticationFailed):
    """Only Confidential clients, which hold secrets, use the gateway."""


class NoApiAccess(ClientAuthenticationFailed):
    """The client is not enabled for API access."""


def issue_gateway_tokens(
    ctx: AppContext, authorization: str | None, params: Params
) -> TokenResponse:
    """POST /oauth/v2/token."""
    client = authenticate_gateway_client(ctx, authorization)
    return redeem_grant(ctx, GATEWAY_FRONT, client, params)


def authenticate_gateway_client(ctx: AppContext, authorization: str | None) -> Client:
    client_id, secret = _basic_credentials(authorization)
    client = ctx.clients.find(client_id)
    if client is None:
        raise UnknownClient("unknown client", basic=True)
    if not client.rules.is_confidential or not client.secrets:
        raise NotAGatewayClient("only Confidential clients use the gateway", basic=True)
    if not client.api_access:
        raise NoApiAccess("the app is not enabled for API access", basic=True)
    if client.require_dpop:
        # Registration refuses the pair; a client stored otherwise still gets no Bearer token.
        raise NoApiAccess(
            "a --require-dpop client cannot use the gateway's Bearer tokens", basic=True
        )
    # A secret rotated out works until its overlap ends, as at /connect/token.
    if not secret_matches(client, secret, ctx.clock.now()):
        raise ClientAuthenticationFailed("no stored secret matches", basic=True)
    return client


def _basic_credentials(authorization: str | None) -> tuple[str, str]:
    """client_id:secret as partners send them (not form-encoded, unlike RFC 6749 §2.3.1)."""
    if authorization is None or authorization[:6].lower() != "basic ":
        raise UnreadableCredentials("missing Authorization: Basic", basic=True)
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise UnreadableCredentials("malformed Basic credentials", basic=True) from None
    client_id, separator, secret = decoded.partition(":")
    if not separator or not client_id:
        raise UnreadableCredentials("malformed Basic credentials", basic=True)
    return client_id, secret


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
    for scope in split_space_list(params.get("scope")):
        if not is_api_scope(scope) or not client.may_request(scope):
            raise gateway_error("invalid_scope", f"scope {scope} is not allowed for this app")
