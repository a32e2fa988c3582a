"""A fake upstream OpenID provider (httpx.MockTransport) and an AppContext wired to it, for
the federation tests of the protocol core."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from idplus.auth.providers import LOCAL_PROVIDER, ProviderInfo, ProviderKind, ProviderRegistry
from idplus.auth.upstream_metadata import UpstreamMetadata
from idplus.manage.providers import ProviderRegistration, add_provider
from idplus.protocol.context import AppContext

ISSUER = "https://up.example"
CLIENT_ID = "hub"
SECRET = "upstream-secret"


def key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig"}, private=True)


@dataclass
class FakeUpstream:
    """An upstream OpenID provider: discovery, JWKS, and a token endpoint issuing one token."""

    now: datetime
    signing: RSAKey = field(default_factory=lambda: key("k1"))
    published: list[RSAKey] = field(default_factory=list)
    claims: dict[str, Any] = field(default_factory=dict)
    down: bool = False
    token_requests: list[httpx.Request] = field(default_factory=list)
    jwks_fetches: int = 0
    # Userinfo claims (the endpoint is advertised only when set) and the requests it got.
    userinfo: dict[str, Any] | None = None
    userinfo_requests: list[httpx.Request] = field(default_factory=list)
    # A userinfo body sent as it is (too big, too deep …) instead of `userinfo`.
    userinfo_raw: bytes | None = None
    refresh_token: str | None = None
    # RFC 7009 endpoint: advertised when revocation_status is set; the tokens it received.
    revocation_status: int | None = None
    revoked: list[str] = field(default_factory=list)
    # RFC 9207: the upstream says it sends `iss` with its authorization responses.
    sends_iss: bool = False
    # The token endpoint takes longer than idplus waits.
    slow_token_endpoint: bool = False

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
            return httpx.Response(200, json=self.metadata())
        if path == "/jwks":
            self.jwks_fetches += 1
            return httpx.Response(
                200, json={"keys": [k.as_dict(private=False) for k in self.published]}
            )
        if path == "/token":
            self.token_requests.append(request)
            if self.slow_token_endpoint:
                raise httpx.ReadTimeout("slow", request=request)
            tokens = {"id_token": self.id_token(**self.claims), "access_token": "upstream-at"}
            if self.refresh_token is not None:
                tokens["refresh_token"] = self.refresh_token
            return httpx.Response(200, json=tokens)
        if path == "/userinfo" and self.userinfo is not None:
            self.userinfo_requests.append(request)
            if self.userinfo_raw is not None:
                return httpx.Response(200, content=self.userinfo_raw)
            return httpx.Response(200, json=self.userinfo)
        if path == "/revoke" and self.revocation_status is not None:
            self.revoked.append(parse_qs(request.content.decode())["token"][0])
            return httpx.Response(self.revocation_status)
        return httpx.Response(404)

    def metadata(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "issuer": ISSUER,
            "authorization_endpoint": f"{ISSUER}/authorize",
            "token_endpoint": f"{ISSUER}/token",
            "jwks_uri": f"{ISSUER}/jwks",
            "end_session_endpoint": f"{ISSUER}/logout",
            "authorization_response_iss_parameter_supported": self.sends_iss,
        }
        if self.userinfo is not None:
            document["userinfo_endpoint"] = f"{ISSUER}/userinfo"
        if self.revocation_status is not None:
            document["revocation_endpoint"] = f"{ISSUER}/revoke"
        return document


def wired_to(context: AppContext, fake: FakeUpstream) -> Iterator[AppContext]:
    """`context` with provider "up" registered and every upstream request going to `fake`."""
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
