"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

Confidential clients use HTTP Basic (`client_secret_basic`) or body parameters
(`client_secret_post`), never both, or — registered with private_key_jwt — a signed assertion
(RFC 7523, protocol/client_assertion.py) and never a secret; public clients send only their
client_id. The gateway
front (protocol/gateway.py) has stricter rules and numbers the kinds of refusal below apart.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote

from idplus.crypto.hashing import verify_client_secret
from idplus.errors import InvalidClient, InvalidRequest
from idplus.models import Client
from idplus.protocol.client_assertion import (
    JWT_BEARER,
    AssertionRefused,
    unverified_client_id,
    verify_client_assertion,
)
from idplus.protocol.context import AppContext
from idplus.protocol.params import Params


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    secret: str | None
    # True when the credentials came in an Authorization: Basic header.
    basic: bool
    # A private_key_jwt client assertion (RFC 7523); client_id is then its claimed `sub`.
    assertion: str | None = None


class ClientAuthenticationFailed(InvalidClient):
    """invalid_client; `basic` says whether to answer 401 with WWW-Authenticate: Basic.

    Every refusal says the same to the client, so an unknown client_id cannot be told from a
    wrong secret; the reason (`detail`) goes only to the log.
    """

    PUBLIC_DESCRIPTION = "client authentication failed"

    def __init__(self, reason: str, *, basic: bool) -> None:
        super().__init__(self.PUBLIC_DESCRIPTION, detail=reason)
        self.basic = basic


class UnreadableCredentials(ClientAuthenticationFailed):
    """No credentials, or an Authorization header that does not decode."""


class UnknownClient(ClientAuthenticationFailed):
    """No client has this client_id."""


def read_client_credentials(authorization: str | None, params: Params) -> ClientCredentials:
    params.require_single("client_id", "client_secret", "client_assertion", "client_assertion_type")
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
    if params.get("client_assertion") is not None or params.get("client_assertion_type"):
        return _read_assertion(authorization, params)
    if authorization is not None and authorization[:6].lower() == "basic ":
        if body_secret is not None:
            raise InvalidRequest("use one client authentication method, not Basic and the body")
        client_id, secret = _decode_basic(authorization[6:].strip())
        if body_id is not None and body_id != client_id:
            raise InvalidRequest("client_id in the body differs from the Basic credentials")
        return ClientCredentials(client_id, secret, basic=True)
    if body_id is None:
        raise UnreadableCredentials("client authentication is required", basic=False)
    return ClientCredentials(body_id, body_secret, basic=False)


def _read_assertion(authorization: str | None, params: Params) -> ClientCredentials:
    """RFC 7521 §4.2: client_assertion_type + client_assertion, and nothing else that
    authenticates; client_id, when sent too, must be the assertion's subject."""
    if params.get("client_secret") is not None or (
        authorization is not None and authorization[:6].lower() == "basic "
    ):
        raise InvalidRequest("use one client authentication method, not a secret and an assertion")
    assertion, assertion_type = params.get("client_assertion"), params.get("client_assertion_type")
    if not assertion or not assertion_type:
        raise InvalidRequest("client_assertion and client_assertion_type go together")
    if assertion_type != JWT_BEARER:
        raise UnreadableCredentials("unsupported client_assertion_type", basic=False)
    client_id = unverified_client_id(assertion)
    if client_id is None:
        raise UnreadableCredentials("client_assertion is not a JWT with a sub", basic=False)
    body_id = params.get("client_id")
    if body_id is not None and body_id != client_id:
        raise UnreadableCredentials("client_id differs from the assertion's sub", basic=False)
    return ClientCredentials(client_id, None, basic=False, assertion=assertion)


def _decode_basic(encoded: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise UnreadableCredentials("malformed Basic credentials", basic=True) from None
    client_id, separator, secret = decoded.partition(":")
    if not separator or not client_id:
        raise UnreadableCredentials("malformed Basic credentials", basic=True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    client_id, secret = unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))
    if "\x00" in client_id or "\x00" in secret:
        raise UnreadableCredentials("malformed Basic credentials", basic=True)
    return client_id, secret


def authenticate_client(
    client: Client | None, credentials: ClientCredentials, *, now: datetime
) -> Client:
    """`now`: a secret rotated out works until its overlap ends (`ClientSecret.works_at`)."""
    basic = credentials.basic
    if client is None:
        raise UnknownClient("unknown client", basic=basic)
    if credentials.assertion is not None:
        # Only authenticate_request checks assertions (they need the store and the keys).
        raise ClientAuthenticationFailed("a client assertion is not accepted here", basic=basic)
    if client.uses_private_key_jwt:
        raise ClientAuthenticationFailed("the client uses private_key_jwt only", basic=basic)
    if not client.rules.is_confidential:
        if credentials.secret is not None:
            raise ClientAuthenticationFailed("public clients have no secret", basic=basic)
        return client
    if credentials.secret is None:
        raise ClientAuthenticationFailed("client secret is required", basic=basic)
    if not secret_matches(client, credentials.secret, now):
        raise ClientAuthenticationFailed("no stored secret matches", basic=basic)
    return client


def secret_matches(client: Client, presented: str, now: datetime) -> bool:
    """Whether the secret is one of the client's that still work (both fronts ask this)."""
    # Check every stored secret (two during rotation) so timing does not tell which matched;
    # an ended one is checked too and then not counted.
    matches = [
        verify_client_secret(s.secret_hash, presented) and s.works_at(now) for s in client.secrets
    ]
    return any(matches)


def authenticate_request(
    ctx: AppContext, authorization: str | None, params: Params, *, endpoint: str | None
) -> Client:
    """Read and check the client's credentials (blocking: a client-cache miss, and for an
    assertion the replay record and perhaps the client's jwks_uri). `endpoint` is the
    discovery metadata name of the endpoint called (an assertion's accepted `aud`)."""
    credentials = read_client_credentials(authorization, params)
    client = ctx.clients.find(credentials.client_id)
    if client is None or credentials.assertion is None:
        return authenticate_client(client, credentials, now=ctx.clock.now())
    try:
        return verify_client_assertion(ctx, client, credentials.assertion, endpoint)
    except AssertionRefused as refused:
        raise ClientAuthenticationFailed(str(refused), basic=False) from None
