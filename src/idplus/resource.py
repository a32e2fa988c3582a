"""ASGI middleware for APIs that accept idplus tokens (the resource-server side, SPEC §9).

JWT access tokens (RFC 9068) are checked against the issuer's JWKS, fetched once and
refetched when a token names an unknown key; RS256, PS256 and ES256 are accepted, each only
with the published key the token's `kid` names and only when that key is published for the
token's `alg` (no algorithm confusion). Opaque gateway tokens are checked by RFC 7662
introspection with the API's own client credentials.

DPoP (RFC 9449 §7): a token bound to a key (`cnf.jkt`, in the JWT or the introspection
answer) gets in only as `Authorization: DPoP <token>` with a `DPoP` proof of that key for this
very request (method, URL, the token's hash), each proof once. A token without a binding gets
in only as a Bearer token.

A request without a valid token gets 401 (RFC 6750 §3, RFC 9449 §7.1), one without the
required `api:` scope 403 insufficient_scope; otherwise the token's claims are in
`scope["idplus.token"]` (Starlette: `request.scope`).

    app = RequireToken(api, validator=TokenValidator(issuer, client_id=…, client_secret=…),
                       scope="api:tv", public_url="https://api.example.com")

`public_url` is where clients reach this app: a proof names the URL the client used, which
behind a proxy is not what the app sees. Without it, the URL is rebuilt from the request
(its scheme and its Host header, which is the client's word), so set it in production. Each
instance remembers the proofs it has seen in memory; several instances behind one name should
share one ReplayCache, or a proof seen by one could be replayed once at each other.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

import httpx
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import Key, KeySet
from starlette.types import ASGIApp, Receive, Scope, Send

from idplus.protocol.dpop.proof import (
    DPOP_ALGORITHMS,
    PROOF_WINDOW_SECONDS,
    DpopProof,
    InvalidDpopProof,
    single_dpop_header,
    verify_proof,
)

ACCESS_TOKEN_TYPE = "at+jwt"
JWKS_REFETCH_SECONDS = 10.0
# The algorithms idplus signs access tokens with, and the key type each needs.
JWT_KEY_TYPES = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}
BEARER = "Bearer"
DPOP = "DPoP"
BEARER_CHALLENGE = 'Bearer realm="api"'
DPOP_CHALLENGE = f'DPoP algs="{" ".join(DPOP_ALGORITHMS)}"'
# How many proofs the in-memory replay cache remembers at most (about 100 bytes each).
REPLAY_CACHE_ENTRIES = 100_000
# RFC 3986 pchar besides the unreserved characters: left as they are when a path is re-encoded.
_PATH_SAFE = "/:@!$&'()*+,;="


class InvalidToken(Exception):
    pass


class Validator(Protocol):
    """Turns a presented token into its claims, or raises InvalidToken (or httpx.HTTPError)."""

    async def validate(self, token: str) -> dict[str, Any]: ...


class ReplayCache(Protocol):
    """Remembers the DPoP proofs seen until they expire. Several instances of an API must
    share one (e.g. over Redis) for a proof to be accepted once in all."""

    async def use_once(self, key: str, expires_at: float) -> bool:
        """True the first time `key` is seen; False while an earlier sighting has not expired
        (`expires_at` in epoch seconds)."""
        ...


class MemoryReplayCache:
    """The proofs this process has seen, at most `max_entries`: when a flood of proofs fills
    it, the oldest are forgotten before they expire (replay protection weakens for them rather
    than every request failing). For one event loop; not shared between processes."""

    def __init__(
        self, max_entries: int = REPLAY_CACHE_ENTRIES, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._expiries: OrderedDict[str, float] = OrderedDict()

    async def use_once(self, key: str, expires_at: float) -> bool:
        now = self._clock()
        self._forget_expired(now)
        seen_until = self._expiries.get(key)
        if seen_until is not None and seen_until > now:
            return False
        self._expiries.pop(key, None)
        while len(self._expiries) >= self._max_entries:
            self._expiries.popitem(last=False)
        self._expiries[key] = expires_at
        return True

    def _forget_expired(self, now: float) -> None:
        # Entries arrive roughly in expiry order; one that expires later than those behind it
        # only delays their removal (use_once still treats them as expired).
        while self._expiries:
            first_key, first_expiry = next(iter(self._expiries.items()))
            if first_expiry > now:
                return
            del self._expiries[first_key]


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
        algorithm, kid = _signing_header(token)
        key = await self._published_key(kid, algorithm)
        try:
            decoded = jwt.decode(token, key, algorithms=[algorithm])
        except (JoseError, ValueError, TypeError) as exc:
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

    async def _published_key(self, kid: str, algorithm: str) -> Key:
        """The key `kid` names, refetching the JWKS once for a kid not seen yet (rotation)."""
        for refresh in (False, True):
            key = _key_for(await self._key_set(refresh), kid, algorithm)
            if key is not None:
                return key
        raise InvalidToken("no published key has this kid")

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


def _signing_header(token: str) -> tuple[str, str]:
    """The token's `alg` and `kid`, read before verification to pick the one key to verify
    with."""
    try:
        header = jws.extract_compact(token.encode("ascii")).protected
    except (JoseError, ValueError, TypeError, RecursionError):
        raise InvalidToken("not a compact JWS") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    # `none`, HS256 (keyed with a public key) and every other algorithm stop here.
    if algorithm not in JWT_KEY_TYPES:
        raise InvalidToken(f"algorithm {str(algorithm)[:20]!r} is not accepted")
    if not isinstance(kid, str):
        raise InvalidToken("no kid")
    return str(algorithm), kid


def _key_for(keys: KeySet, kid: str, algorithm: str) -> Key | None:
    """The key named `kid` if it is published for `algorithm`; None for an unknown kid."""
    for key in keys.keys:
        if key.kid != kid:
            continue
        published_for = key.get("alg")
        # A key is for the algorithm its JWK names (idplus names one for every key); a JWK
        # without `alg` is held to its key type.
        if published_for is not None and published_for != algorithm:
            raise InvalidToken(f"key {kid[:40]!r} is published for another algorithm")
        if key.key_type != JWT_KEY_TYPES[algorithm]:
            raise InvalidToken(f"key {kid[:40]!r} is not a key for {algorithm}")
        return key
    return None


@dataclass(frozen=True, slots=True)
class Credentials:
    """The Authorization header: its scheme (BEARER or DPOP) and the token."""

    scheme: str
    token: str


class Refused(Exception):
    """A request that does not get through: the status, the error and the WWW-Authenticate
    challenges to answer with (the message is the reason, for the log)."""

    def __init__(self, status: int, error: str, challenges: tuple[str, ...], reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.challenges = challenges


def challenge(scheme: str, error: str | None = None, **params: str) -> str:
    """RFC 6750 §3 / RFC 9449 §7.1 challenge of `scheme`, with the error and other params."""
    base = DPOP_CHALLENGE if scheme == DPOP else BEARER_CHALLENGE
    members = {"error": error, **params} if error is not None else params
    return base + "".join(f', {name}="{value}"' for name, value in members.items())


def check_binding(
    credentials: Credentials,
    claims: Mapping[str, Any],
    proofs: Sequence[str],
    *,
    method: str,
    url: str,
    now: datetime,
) -> DpopProof | None:
    """RFC 9449 §7: may this validated token be used the way it was presented, with these
    DPoP header values, for `method` `url`? None lets an unbound Bearer token through; a
    DPoP-bound one gets through with its verified proof (whose replay check is the caller's
    job); anything else raises Refused with the 401 to send."""
    bound_to = _bound_key(claims)
    if credentials.scheme == BEARER:
        if bound_to is None:
            return None
        raise _binding_refused("a DPoP-bound token presented as a Bearer token")
    if bound_to is None:
        raise _binding_refused("a DPoP-scheme token that is not DPoP-bound")
    try:
        header = single_dpop_header(proofs)
        if header is None:
            raise InvalidDpopProof("no DPoP proof")
        proof = verify_proof(
            header, method=method, url=url, now=now, access_token=credentials.token
        )
    except InvalidDpopProof as invalid:
        raise proof_refused(invalid.detail) from None
    if proof.jkt != bound_to:
        raise _binding_refused("the proof is made with another key than the token's")
    return proof


def proof_refused(reason: str) -> Refused:
    return Refused(401, "invalid_dpop_proof", (challenge(DPOP, "invalid_dpop_proof"),), reason)


def _binding_refused(reason: str) -> Refused:
    return Refused(401, "invalid_token", (challenge(DPOP, "invalid_token"),), reason)


def _bound_key(claims: Mapping[str, Any]) -> str | None:
    """cnf.jkt (RFC 9449 §6.1); a `cnf` this middleware cannot read lets the token nowhere."""
    confirmation = claims.get("cnf")
    if confirmation is None:
        return None
    jkt = confirmation.get("jkt") if isinstance(confirmation, Mapping) else None
    if not isinstance(jkt, str):
        raise _binding_refused("the token's cnf holds no jkt")
    return jkt


class RequireToken:
    """Lets a request through only with a valid idplus token carrying `scope`, presented the
    way its binding demands."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        validator: Validator,
        scope: str,
        public_url: str | None = None,
        replay_cache: ReplayCache | None = None,
    ) -> None:
        self.app = app
        self.validator = validator
        self.required_scope = scope
        # Where clients reach this app's "/", e.g. "https://api.example.com/tv" behind a
        # proxy that strips "/tv"; the request's path is appended to it.
        self.public_url = public_url.rstrip("/") if public_url is not None else None
        self.replay_cache: ReplayCache = replay_cache or MemoryReplayCache()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            scope["idplus.token"] = await self._claims_of(scope)
        except Refused as refused:
            await _deny(send, refused)
            return
        await self.app(scope, receive, send)

    async def _claims_of(self, scope: Scope) -> dict[str, Any]:
        credentials = _credentials(scope["headers"])
        if credentials is None:
            challenges = (BEARER_CHALLENGE, DPOP_CHALLENGE)
            raise Refused(401, "missing_token", challenges, "no token")
        try:
            claims = await self.validator.validate(credentials.token)
        except (InvalidToken, httpx.HTTPError) as invalid:
            invalid_token = (challenge(credentials.scheme, "invalid_token"),)
            raise Refused(401, "invalid_token", invalid_token, str(invalid)) from None
        proofs = [value.decode("latin-1") for name, value in scope["headers"] if name == b"dpop"]
        try:
            url, now = self.request_url(scope), datetime.now(UTC)
        except InvalidHost:
            raise Refused(
                400, "invalid_request", (), "the Host header is not host[:port]"
            ) from None
        proof = check_binding(credentials, claims, proofs, method=scope["method"], url=url, now=now)
        if proof is not None:
            await self._spend(proof)
        scopes = claims.get("scope") or []
        if self.required_scope not in scopes:
            needed = challenge(credentials.scheme, "insufficient_scope", scope=self.required_scope)
            raise Refused(403, "insufficient_scope", (needed,), "scope missing")
        return claims

    async def _spend(self, proof: DpopProof) -> None:
        # The thumbprint is base64url (no newline), so "jkt\njti" names one proof.
        key = hashlib.sha256(f"{proof.jkt}\n{proof.jti}".encode()).hexdigest()
        # Until the proof is too old to pass verify_proof (its last second included).
        expires_at = proof.issued_at + PROOF_WINDOW_SECONDS + 1
        if not await self.replay_cache.use_once(key, float(expires_at)):
            raise proof_refused("replayed")

    def request_url(self, scope: Scope) -> str:
        """The URL the client called, as its proof's htu names it (query left out)."""
        raw_path = scope.get("raw_path")
        if isinstance(raw_path, bytes):
            # Some servers leave the query in raw_path; a proof's htu never has one.
            path = raw_path.partition(b"?")[0].decode("latin-1")
        else:
            path = quote(str(scope["path"]), safe=_PATH_SAFE)
        if self.public_url is not None:
            return self.public_url + path
        return f"{scope.get('scheme', 'http')}://{_host(scope)}{path}"


def _host(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == b"host":
            return _checked_host(value.decode("latin-1"))
    server = scope.get("server")
    if server is None:
        return "localhost"
    host, port = server
    return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"


def _checked_host(host: str) -> str:
    """A Host header that is a host and port only: one carrying a path, query, fragment or
    userinfo would move the rest of the URL out of the comparison with the proof's htu
    (RFC 9449 §11.1), so such a request is refused."""
    try:
        parts = urlsplit(f"//{host}")
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError:
        raise InvalidHost(host) from None
    if not parts.hostname or parts.netloc != host or "@" in host:
        raise InvalidHost(host)
    if parts.path or parts.query or parts.fragment or any(c in host for c in "/?#\\ \t"):
        raise InvalidHost(host)
    return host


class InvalidHost(ValueError):
    """A Host header that is not host[:port]."""


def _credentials(headers: list[tuple[bytes, bytes]]) -> Credentials | None:
    for name, value in headers:
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            # Authentication schemes are case-insensitive (RFC 9110 §11.1).
            scheme = {"bearer": BEARER, "dpop": DPOP}.get(kind.lower())
            return Credentials(scheme, token.strip()) if scheme and token.strip() else None
    return None


async def _deny(send: Send, refused: Refused) -> None:
    body = json.dumps({"error": refused.error}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        # One header per challenge (RFC 9110 §11.6.1 allows either form; this one is easier
        # for clients to read).
        *((b"www-authenticate", each.encode()) for each in refused.challenges),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
