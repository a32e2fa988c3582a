"""ASGI middleware for APIs that accept idplus tokens (the resource-server side, SPEC §9).

JWT access tokens (RFC 9068) are checked against the issuer's JWKS, fetched once and
refetched when a token names an unknown key. Opaque gateway tokens are checked by RFC 7662
introspection with the API's own client credentials. A request without a valid token gets
401 (RFC 6750 §3), one without the required `api:` scope 403 insufficient_scope; otherwise
the token's claims are in `scope["idplus.token"]` (Starlette: `request.scope`).

    app = RequireToken(api, validator=TokenValidator(issuer, client_id=…, client_secret=…),
                       scope="api:tv")
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from typing import Any

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.types import ASGIApp, Receive, Scope, Send

ACCESS_TOKEN_TYPE = "at+jwt"
JWKS_REFETCH_SECONDS = 10.0


class InvalidToken(Exception):
    pass


class TokenValidator:
    def __init__(
        self,
        issuer: str,
        *,
        client_id: str | None = None,
        client_secret: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self._credentials = (client_id, client_secret) if client_id and client_secret else None
        self._http = httpx.AsyncClient(transport=transport, timeout=5.0)
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None
        self._keys_fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def validate(self, token: str) -> dict[str, Any]:
        if token.count(".") == 2:
            return await self._validate_jwt(token)
        return await self._introspect(token)

    async def _metadata_of_issuer(self) -> dict[str, Any]:
        if self._metadata is None:
            response = await self._http.get(f"{self.issuer}/.well-known/openid-configuration")
            response.raise_for_status()
            self._metadata = dict(response.json())
        return self._metadata

    async def _key_set(self, refresh: bool) -> KeySet:
        async with self._lock:
            stale = time.monotonic() - self._keys_fetched_at > JWKS_REFETCH_SECONDS
            if self._keys is None or (refresh and stale):
                metadata = await self._metadata_of_issuer()
                response = await self._http.get(metadata["jwks_uri"])
                response.raise_for_status()
                self._keys = KeySet.import_key_set(response.json())
                self._keys_fetched_at = time.monotonic()
            return self._keys

    async def _validate_jwt(self, token: str) -> dict[str, Any]:
        for refresh in (False, True):
            try:
                decoded = jwt.decode(token, await self._key_set(refresh), algorithms=["RS256"])
                break
            except (JoseError, ValueError) as exc:
                if refresh:
                    raise InvalidToken(f"signature: {exc}") from None
        if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
            raise InvalidToken("not an access token")
        claims = dict(decoded.claims)
        now = time.time()
        if claims.get("iss") != self.issuer:
            raise InvalidToken("another issuer")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            raise InvalidToken("expired")
        if int(claims.get("nbf", 0)) > now + 5:
            raise InvalidToken("not valid yet")
        return claims

    async def _introspect(self, token: str) -> dict[str, Any]:
        if self._credentials is None:
            raise InvalidToken("opaque tokens need introspection credentials")
        metadata = await self._metadata_of_issuer()
        response = await self._http.post(
            metadata["introspection_endpoint"], data={"token": token}, auth=self._credentials
        )
        if response.status_code != 200:
            raise InvalidToken(f"introspection answered {response.status_code}")
        answer = dict(response.json())
        if answer.get("active") is not True:
            raise InvalidToken("inactive")
        answer["scope"] = str(answer.get("scope", "")).split()
        return answer


class RequireToken:
    """Lets a request through only with a valid idplus token carrying `scope`."""

    def __init__(self, app: ASGIApp, *, validator: TokenValidator, scope: str) -> None:
        self.app = app
        self.validator = validator
        self.required_scope = scope

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _bearer(scope["headers"])
        if token is None:
            await _deny(send, 401, 'Bearer realm="api"', "missing_token")
            return
        try:
            claims = await self.validator.validate(token)
        except (InvalidToken, httpx.HTTPError):
            await _deny(send, 401, 'Bearer realm="api", error="invalid_token"', "invalid_token")
            return
        scopes = claims.get("scope") or []
        if self.required_scope not in scopes:
            challenge = (
                f'Bearer realm="api", error="insufficient_scope", scope="{self.required_scope}"'
            )
            await _deny(send, 403, challenge, "insufficient_scope")
            return
        scope["idplus.token"] = claims
        await self.app(scope, receive, send)


def _bearer(headers: list[tuple[bytes, bytes]]) -> str | None:
    for name, value in headers:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


async def _deny(send: Send, status: int, challenge: str, error: str) -> None:
    body = json.dumps({"error": error}).encode()
    headers: Mapping[bytes, bytes] = {
        b"content-type": b"application/json",
        b"www-authenticate": challenge.encode(),
        b"content-length": str(len(body)).encode(),
    }
    await send({"type": "http.response.start", "status": status, "headers": list(headers.items())})
    await send({"type": "http.response.body", "body": body})
