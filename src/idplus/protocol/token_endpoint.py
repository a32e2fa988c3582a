"""The token endpoint of both fronts as a short pipeline (RFC 6749 §3.2, §5).

authenticate the client (each front its own way) → pick the grant the front serves from one
table → check the client may use it → the grant parses, validates, consumes and issues in the
front's token format. Errors are OAuthErrors, rendered by each front's adapter:
`web/adapters.py` (RFC 6749 JSON) or `gateway/endpoints.py` (SPEC §9's numbered codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idplus.crypto.keys import KeyRing
from idplus.errors import OAuthError, UnauthorizedClient, UnsupportedGrantType
from idplus.metrics import TokenKind
from idplus.models import Client
from idplus.protocol.client_auth import (
    ClientCredentials,
    authenticate_request,
    read_client_credentials,
)
from idplus.protocol.client_directory import ClientDirectory
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.proof import InvalidDpopProof
from idplus.protocol.dpop.request import DpopEvidence, checked_proof, proof_algorithms
from idplus.protocol.grants import Front, GrantType, required
from idplus.protocol.grants.authorization_code import AuthorizationCodeGrant
from idplus.protocol.grants.ciba import CibaGrant
from idplus.protocol.grants.client_credentials import ClientCredentialsGrant
from idplus.protocol.grants.device_code import DeviceCodeGrant
from idplus.protocol.grants.password import PasswordGrant
from idplus.protocol.grants.refresh_token import RefreshTokenGrant
from idplus.protocol.grants.token_exchange import TokenExchangeGrant
from idplus.protocol.issuance import CONNECT, GATEWAY, JwtAccessTokens, TokenResponse
from idplus.protocol.params import Params

BOTH_FRONTS = frozenset({CONNECT, GATEWAY})
DPOP_ERROR = InvalidDpopProof.error

# Which grant each front serves: the one table.
SERVED_ON: tuple[tuple[GrantType[Any], frozenset[str]], ...] = (
    (AuthorizationCodeGrant(), BOTH_FRONTS),
    (ClientCredentialsGrant(), BOTH_FRONTS),
    (RefreshTokenGrant(), BOTH_FRONTS),
    # RFC 8628 and CIBA (a user approves elsewhere) and RFC 8693: on /connect only.
    (DeviceCodeGrant(), frozenset({CONNECT})),
    (CibaGrant(), frozenset({CONNECT})),
    (TokenExchangeGrant(), frozenset({CONNECT})),
    # RFC 9700 §2.4: never where a browser login exists; partner back ends only (SPEC §9).
    (PasswordGrant(), frozenset({GATEWAY})),
)

GRANTS_OF_FRONT: dict[str, dict[str, GrantType[Any]]] = {
    front: {grant.name: grant for grant, fronts in SERVED_ON if front in fronts}
    for front in (CONNECT, GATEWAY)
}
# The grants of /connect (discovery advertises them).
GRANT_TYPES = GRANTS_OF_FRONT[CONNECT]


def redeem_grant(ctx: AppContext, front: Front, client: Client, params: Params) -> TokenResponse:
    """The engine, after the front has authenticated the client."""
    params.require_single()
    grant = _grant_type(GRANTS_OF_FRONT[front.name], params)
    if grant.name not in client.grant_types:
        raise UnauthorizedClient(f"this client may not use grant_type {grant.name}")
    response = grant.handle(ctx, front, client, params)
    # Counted here, after the grant's transaction committed, for both fronts alike.
    ctx.identity_metrics.tokens_issued(grant.name, client.client_type.value, _kinds(response))
    return response


def _kinds(response: TokenResponse) -> list[TokenKind]:
    kinds = [TokenKind.ACCESS_TOKEN]
    if response.refresh_token is not None:
        kinds.append(TokenKind.REFRESH_TOKEN)
    if response.id_token is not None:
        kinds.append(TokenKind.ID_TOKEN)
    return kinds


def _grant_type(grants: dict[str, GrantType[Any]], params: Params) -> GrantType[Any]:
    grant_type = required(params, "grant_type")
    grant = grants.get(grant_type)
    if grant is None:
        raise UnsupportedGrantType(f"grant_type {grant_type} is not supported here")
    return grant


@dataclass(frozen=True, slots=True)
class TokenRequest:
    authorization: str | None
    params: Params
    # RFC 9449: the request's DPoP header, if it sent one.
    dpop: DpopEvidence | None = None


def handle_token_request(ctx: AppContext, ring: KeyRing, request: TokenRequest) -> TokenResponse:
    """POST /connect/token: RFC 6749 client authentication, JWT access tokens, bound to the
    key of the request's DPoP proof when it sent one (RFC 9449 §5)."""
    client = authenticate_request(
        ctx, request.authorization, request.params, endpoint="token_endpoint"
    )
    # After authentication, so that only a client can make idplus record proofs.
    proof = checked_proof(ctx, request.dpop, algorithms=proof_algorithms(client))
    if proof is None and client.require_dpop:
        raise OAuthError("this client's token requests need a DPoP proof", error=DPOP_ERROR)
    tokens = JwtAccessTokens(ring, dpop_jkt=proof.jkt if proof is not None else None)
    return redeem_grant(ctx, Front(tokens), client, request.params)


def answerable_without_io(clients: ClientDirectory, request: TokenRequest) -> bool:
    """True when the client is cached and the grant needs no store: run it on the loop."""
    grant = GRANT_TYPES.get(request.params.get("grant_type") or "")
    if grant is None or grant.uses_store or request.dpop is not None:
        return False  # a proof is spent in the store
    try:
        credentials: ClientCredentials = read_client_credentials(
            request.authorization, request.params
        )
    except OAuthError:
        return True  # answering with the error needs no I/O either
    if credentials.assertion is not None:
        return False  # the assertion's jti is recorded in the store
    hit, _client = clients.cached(credentials.client_id)
    return hit
