"""private_key_jwt client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9).

The client signs a short-lived JWT about itself (`iss` = `sub` = its client_id) for us (`aud`)
with a key whose public half it registered (`--jwks`) or publishes (`--jwks-uri`). Each
assertion is accepted once: its `jti` is recorded in the database until it expires, so a copy
replayed on any instance is refused. Every refusal is AssertionRefused with the reason for the
log; client_auth turns it into the one public invalid_client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, TypeGuard

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jws import extract_compact

from idplus.auth.client_jwks import ClientKeysUnavailable
from idplus.crypto.client_keys import ASSERTION_ALGORITHMS, choose_key
from idplus.crypto.hashing import hash_handle
from idplus.models import FAPI2_ALGORITHMS, Client
from idplus.policies import MAX_CLIENT_ID_LENGTH
from idplus.protocol.context import AppContext

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# An assertion is a few hundred bytes; anything far longer is not worth parsing.
MAX_ASSERTION_LENGTH = 8192
# The longest an assertion may be valid (exp - iat), and the clock skew allowed either way.
MAX_LIFETIME_SECONDS = 300
LEEWAY_SECONDS = 30
MAX_JTI_LENGTH = 255


class AssertionRefused(Exception):
    """The assertion does not authenticate the client (the message is for the log only)."""


class AssertionAudience(Enum):
    """Which `aud` values identify idplus to a client's assertions."""

    # RFC 7523 §3 and OIDC Core §9: the issuer, the token endpoint or the endpoint called.
    ISSUER_OR_ENDPOINT = "issuer_or_endpoint"
    # FAPI 2.0 Security Profile §5.3.2.1: the issuer only.
    ISSUER = "issuer"


def audience_rule(client: Client) -> AssertionAudience:
    """FAPI 2.0 §5.3.2.1 item 8: a fapi2 client's assertions name the issuer alone."""
    return AssertionAudience.ISSUER if client.is_fapi2 else AssertionAudience.ISSUER_OR_ENDPOINT


def unverified_client_id(assertion: str) -> str | None:
    """The `sub` the assertion claims (read, not trusted), to know whose keys check it."""
    try:
        payload = json.loads(extract_compact(assertion.encode()).payload)
    except (JoseError, ValueError, TypeError, UnicodeError, RecursionError):
        return None
    sub = payload.get("sub") if isinstance(payload, dict) else None
    return sub if isinstance(sub, str) and _could_be_a_client_id(sub) else None


def _could_be_a_client_id(text: str) -> bool:
    """JSON escapes can carry what form parameters cannot (NUL, lone surrogates): no store
    may be asked about such a name."""
    if not 1 <= len(text) <= MAX_CLIENT_ID_LENGTH or not text.isprintable():
        return False
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def verify_client_assertion(
    ctx: AppContext, client: Client, assertion: str, endpoint: str | None
) -> Client:
    """`client` when the assertion is theirs, fresh, for us and not seen before.

    `endpoint` is the discovery metadata name of the endpoint called (e.g.
    `revocation_endpoint`), whose URL is one of the accepted audiences.
    """
    if not client.uses_private_key_jwt:
        raise AssertionRefused("the client does not use private_key_jwt")
    if len(assertion) > MAX_ASSERTION_LENGTH:
        raise AssertionRefused("assertion too long")
    algorithm, kid = _header_of(assertion)
    if client.is_fapi2 and algorithm not in FAPI2_ALGORITHMS:
        raise AssertionRefused(
            f"a fapi2 client signs assertions with PS256 or ES256, not {algorithm}"
        )
    key = choose_key(_jwks_of(ctx, client, kid), algorithm, kid)
    if key is None:
        raise AssertionRefused(f"no registered {algorithm} key fits kid {str(kid)[:64]!r}")
    try:
        claims = dict(jwt.decode(assertion, key, algorithms=[algorithm]).claims)
    except (JoseError, ValueError, TypeError, RecursionError) as error:
        raise AssertionRefused(f"assertion signature: {type(error).__name__}") from None
    now = ctx.clock.now()
    _check_claims(claims, client.client_id, accepted_audiences(ctx, client, endpoint), now)
    if (
        audience_rule(client) is AssertionAudience.ISSUER
        and claims.get("aud") != ctx.settings.issuer
    ):
        # FAPI 2.0 §5.3.2.1 item 8: "as a string", so an array holding the issuer is refused.
        raise AssertionRefused("assertion aud must be the issuer as a single string")
    _use_once(ctx, client.client_id, claims, now)
    return client


def accepted_audiences(ctx: AppContext, client: Client, endpoint: str | None) -> frozenset[str]:
    issuer = ctx.settings.issuer
    if audience_rule(client) is AssertionAudience.ISSUER:
        return frozenset({issuer})
    urls = (ctx.discovery.get("token_endpoint"), ctx.discovery.get(endpoint or ""))
    return frozenset({issuer, *(url for url in urls if isinstance(url, str))})


def _header_of(assertion: str) -> tuple[str, str | None]:
    try:
        header = extract_compact(assertion.encode()).protected
    except (JoseError, ValueError, TypeError, UnicodeError, RecursionError):
        raise AssertionRefused("the assertion is not a compact JWS") from None
    algorithm, kid = header.get("alg"), header.get("kid")
    # `none`, HS256 (keyed with a public key) and every other algorithm stop here.
    if algorithm not in ASSERTION_ALGORITHMS:
        raise AssertionRefused(f"assertion algorithm {str(algorithm)[:20]!r} is not accepted")
    if kid is not None and not isinstance(kid, str):
        raise AssertionRefused("assertion kid is not a string")
    return str(algorithm), kid


def _jwks_of(ctx: AppContext, client: Client, kid: str | None) -> Mapping[str, Any]:
    if client.jwks is not None:
        return client.jwks
    if client.jwks_uri is None:
        raise AssertionRefused("the client has neither jwks nor jwks_uri")
    try:
        return ctx.client_jwks.jwks(client.client_id, client.jwks_uri, kid)
    except ClientKeysUnavailable as error:
        raise AssertionRefused(f"jwks_uri: {error}") from None


def _check_claims(
    claims: Mapping[str, Any], client_id: str, audiences: frozenset[str], now: datetime
) -> None:
    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise AssertionRefused("assertion iss and sub must both be the client_id")
    aud = claims.get("aud")
    named = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not any(isinstance(a, str) and a in audiences for a in named):
        raise AssertionRefused("assertion aud names neither the issuer nor this endpoint")
    exp, iat, moment = claims.get("exp"), claims.get("iat"), now.timestamp()
    if not _is_number(exp) or not _is_number(iat):
        raise AssertionRefused("assertion exp and iat are required numbers")
    # Written so that NaN and infinities fail every comparison and are refused.
    if not 0 < exp - iat <= MAX_LIFETIME_SECONDS:
        raise AssertionRefused(f"assertion valid longer than {MAX_LIFETIME_SECONDS} s (exp-iat)")
    if not exp + LEEWAY_SECONDS > moment:
        raise AssertionRefused("assertion expired")
    if not iat - LEEWAY_SECONDS <= moment:
        raise AssertionRefused("assertion issued in the future")
    nbf = claims.get("nbf")
    if nbf is not None and not (_is_number(nbf) and nbf - LEEWAY_SECONDS <= moment):
        raise AssertionRefused("assertion not valid yet (nbf)")


def _use_once(ctx: AppContext, client_id: str, claims: Mapping[str, Any], now: datetime) -> None:
    jti = claims.get("jti")
    # Printable excludes control characters and lone surrogates (which would not encode).
    if not isinstance(jti, str) or not 0 < len(jti) <= MAX_JTI_LENGTH or not jti.isprintable():
        raise AssertionRefused("assertion jti missing or invalid")
    # A client_id never holds a newline, so "client_id\njti" names one pair only.
    jti_hash = hash_handle(ctx.secrets.handle_key, f"{client_id}\n{jti}")
    expires_at = datetime.fromtimestamp(float(claims["exp"]) + LEEWAY_SECONDS, UTC)
    with ctx.store.transaction() as uow:
        if not uow.client_assertions.use_once(jti_hash, expires_at, now):
            raise AssertionRefused("assertion jti already used (replay)")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)
