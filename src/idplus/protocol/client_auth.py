"""Client authentication at the token, introspection and revocation endpoints (RFC 6749 §2.3).

Confidential clients use HTTP Basic (`client_secret_basic`) or body parameters
(`client_secret_post`), never both; public clients send only their client_id. The gateway
front (protocol/gateway.py) has stricter rules and numbers the kinds of refusal below apart.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from urllib.parse import unquote

from idplus.crypto.hashing import verify_client_secret
from idplus.errors import InvalidClient, InvalidRequest
from idplus.models import Client
from idplus.protocol.client_directory import ClientDirectory
from idplus.protocol.params import Params


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    secret: str | None
    # True when the credentials came in an Authorization: Basic header.
    basic: bool


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
    params.require_single("client_id", "client_secret")
    body_id, body_secret = params.get("client_id"), params.get("client_secret")
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


def authenticate_client(client: Client | None, credentials: ClientCredentials) -> Client:
    basic = credentials.basic
    if client is None:
        raise UnknownClient("unknown client", basic=basic)
    if not client.rules.is_confidential:
        if credentials.secret is not None:
            raise ClientAuthenticationFailed("public clients have no secret", basic=basic)
        return client
    if credentials.secret is None:
        raise ClientAuthenticationFailed("client secret is required", basic=basic)
    # Check every stored secret (two during rotation) so timing does not tell which matched.
    matches = [verify_client_secret(s.secret_hash, credentials.secret) for s in client.secrets]
    if not any(matches):
        raise ClientAuthenticationFailed("no stored secret matches", basic=basic)
    return client


def authenticate_request(
    clients: ClientDirectory, authorization: str | None, params: Params
) -> Client:
    """Read and check the client's credentials (blocking on a client-cache miss)."""
    credentials = read_client_credentials(authorization, params)
    return authenticate_client(clients.find(credentials.client_id), credentials)
