"""POST /connect/token as a short pipeline (RFC 6749 §3.2, §5).

parse → authenticate the client → pick the grant from a table → check the client may use it
→ the grant validates and issues. Errors are OAuthErrors, rendered in one place by the web layer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

from idplus.crypto.keys import KeyRing
from idplus.errors import InvalidRequest, OAuthError, UnauthorizedClient, UnsupportedGrantType
from idplus.models import Client
from idplus.policies import (
    GRANT_AUTHORIZATION_CODE,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_DEVICE_CODE,
    GRANT_REFRESH_TOKEN,
)
from idplus.protocol.client_auth import (
    ClientCredentials,
    authenticate_request,
    read_client_credentials,
)
from idplus.protocol.client_directory import ClientDirectory
from idplus.protocol.context import AppContext
from idplus.protocol.grants import (
    authorization_code,
    client_credentials,
    device_code,
    refresh_token,
)
from idplus.protocol.issuance import TokenResponse
from idplus.protocol.params import Params

GrantHandler = Callable[[AppContext, KeyRing, Client, Params], TokenResponse]


@dataclass(frozen=True, slots=True)
class GrantType:
    handle: GrantHandler
    # False when the grant needs no database at all (it can run on the event loop).
    uses_store: bool


def _grant(module: ModuleType, handler: GrantHandler) -> GrantType:
    return GrantType(handler, bool(module.USES_STORE))


GRANT_TYPES: dict[str, GrantType] = {
    GRANT_AUTHORIZATION_CODE: _grant(authorization_code, authorization_code.exchange),
    GRANT_CLIENT_CREDENTIALS: _grant(client_credentials, client_credentials.issue),
    GRANT_REFRESH_TOKEN: _grant(refresh_token, refresh_token.refresh),
    GRANT_DEVICE_CODE: _grant(device_code, device_code.poll),
}


@dataclass(frozen=True, slots=True)
class TokenRequest:
    authorization: str | None
    params: Params


def handle_token_request(ctx: AppContext, ring: KeyRing, request: TokenRequest) -> TokenResponse:
    client = authenticate_request(ctx.clients, request.authorization, request.params)
    request.params.require_single()
    grant_type = _grant_type(request.params)
    if grant_type not in client.grant_types:
        raise UnauthorizedClient(f"this client may not use grant_type {grant_type}")
    return GRANT_TYPES[grant_type].handle(ctx, ring, client, request.params)


def _grant_type(params: Params) -> str:
    grant_type = params.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    if grant_type not in GRANT_TYPES:
        raise UnsupportedGrantType(f"grant_type {grant_type} is not supported")
    return grant_type


def answerable_without_io(clients: ClientDirectory, request: TokenRequest) -> bool:
    """True when the client is cached and the grant needs no store: run it on the loop."""
    grant = GRANT_TYPES.get(request.params.get("grant_type") or "")
    if grant is None or grant.uses_store:
        return False
    try:
        credentials: ClientCredentials = read_client_credentials(
            request.authorization, request.params
        )
    except OAuthError:
        return True  # answering with the error needs no I/O either
    hit, _client = clients.cached(credentials.client_id)
    return hit
