"""Validating an upstream's ID token (OIDC Core §3.1.3.7) with the upstream's JWKS."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, TypeGuard

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from idplus.auth.upstream_metadata import UpstreamUnavailable
from idplus.models import UpstreamProvider
from idplus.protocol.context import AppContext
from idplus.protocol.federation.errors import UpstreamError

# Clock skew allowed between idplus and an upstream on `exp` / `iat` / `auth_time` (seconds).
LEEWAY_SECONDS = 60
ID_TOKEN_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384"]


def validate_id_token(
    ctx: AppContext,
    provider: UpstreamProvider,
    id_token: object,
    nonce: str,
    max_age: int | None = None,
) -> dict[str, Any]:
    """The ID token's claims once its signature (upstream JWKS), iss, aud, azp, exp, iat,
    nonce and — when idplus asked for `max_age` — auth_time check out; raises UpstreamError
    otherwise."""
    if not isinstance(id_token, str) or not id_token:
        raise UpstreamError("no id_token")
    keys = _keys_for(ctx, provider, _kid_of(id_token))
    try:
        claims = dict(jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS).claims)
    except (JoseError, ValueError, TypeError) as error:
        raise UpstreamError(f"id_token signature: {type(error).__name__}") from None
    check_id_token_claims(claims, provider, nonce, ctx.clock.now(), max_age)
    return claims


def _keys_for(ctx: AppContext, provider: UpstreamProvider, kid: str | None) -> KeySet:
    try:
        keys = KeySet.import_key_set(ctx.upstream.jwks(provider.issuer))  # type: ignore[arg-type]
        if kid is not None and not _has_kid(keys, kid):
            # The upstream may have rotated: refetch once.
            fresh = ctx.upstream.jwks(provider.issuer, refresh=True)
            keys = KeySet.import_key_set(fresh)  # type: ignore[arg-type]
            if not _has_kid(keys, kid):
                raise UpstreamError(f"id_token signed by unknown key {kid[:64]!r}")
    except UpstreamUnavailable as error:
        raise UpstreamError(f"jwks: {error}") from None
    except (JoseError, ValueError, TypeError) as error:
        raise UpstreamError(f"jwks: {type(error).__name__}") from None
    return keys


def check_id_token_claims(
    claims: Mapping[str, Any],
    provider: UpstreamProvider,
    nonce: str,
    now: datetime,
    max_age: int | None = None,
) -> None:
    if claims.get("iss") != provider.issuer:
        raise UpstreamError("id_token iss is not the provider's issuer")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if provider.client_id not in audiences:
        raise UpstreamError("id_token aud is not our client id")
    azp = claims.get("azp")
    if azp is not None and azp != provider.client_id:
        raise UpstreamError("id_token azp is not our client id")
    if len(audiences) > 1 and azp is None:
        raise UpstreamError("id_token has several audiences and no azp")
    exp, iat, moment = claims.get("exp"), claims.get("iat"), now.timestamp()
    if not _is_number(exp) or exp + LEEWAY_SECONDS <= moment:
        raise UpstreamError("id_token expired")
    if not _is_number(iat) or iat - LEEWAY_SECONDS > moment:
        raise UpstreamError("id_token issued in the future")
    if not nonce or claims.get("nonce") != nonce:
        raise UpstreamError("id_token nonce does not match")
    sub = claims.get("sub")
    # Printable excludes control characters and lone surrogates: neither fits a database.
    if not isinstance(sub, str) or not 0 < len(sub) <= 255 or not sub.isprintable():
        raise UpstreamError("id_token sub missing or invalid")
    if max_age is not None:
        # OIDC Core §3.1.2.1: asked with max_age, the upstream must say when the user logged in.
        auth_time = claims.get("auth_time")
        if not _is_number(auth_time):
            raise UpstreamError("id_token has no auth_time although max_age was sent")
        if auth_time + max_age + LEEWAY_SECONDS < moment:
            raise UpstreamError("the upstream did not log the user in again (auth_time)")


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _kid_of(id_token: str) -> str | None:
    """The header's kid, read (not trusted) to know whether the JWKS must be refetched."""
    try:
        header = extract_compact(id_token.encode()).protected
    except (JoseError, ValueError, TypeError, UnicodeError):
        raise UpstreamError("id_token is not a JWS") from None
    kid = header.get("kid")
    return kid if isinstance(kid, str) else None


def _has_kid(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys.keys)
