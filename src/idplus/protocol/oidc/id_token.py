"""ID tokens (OIDC Core §2, §3.1.3.6) with the claims of SPEC §4; header typ JWT."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from idplus.clock import epoch_seconds
from idplus.crypto.keys import KeyRing
from idplus.protocol.grant import Grant

IAL_PREFIX = "telenor.identity.ial"


def left_half_hash(value: str) -> str:
    """at_hash / c_hash / s_hash for RS256, PS256 and ES256 (all hash with SHA-256): base64url
    of the left half of SHA-256."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode("ascii")


def id_token_claims(
    grant: Grant,
    *,
    issuer: str,
    subject: str,
    now: datetime,
    lifetime: int,
    access_token: str | None = None,
    code: str | None = None,
    state: str | None = None,
) -> dict[str, Any]:
    user = grant.user
    assert user is not None, "ID tokens are only issued for a user"
    iat = epoch_seconds(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": grant.client.client_id,
        "sub": subject,
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "idp": grant.idp,
        "amr": list(grant.amr),
        "acr": grant.acr,
        "analytics_uuid": user.analytics_uuid,
        "preferred_username": grant.preferred_username or user.username,
        "ial": f"{IAL_PREFIX}{user.ial}",
    }
    if grant.auth_time is not None:
        claims["auth_time"] = epoch_seconds(grant.auth_time)
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
        claims["ibis.sid"] = grant.session_id
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    if access_token is not None:
        claims["at_hash"] = left_half_hash(access_token)
    if code is not None:
        claims["c_hash"] = left_half_hash(code)
    if state is not None:
        claims["s_hash"] = left_half_hash(state)
    if user.given_name:
        claims["given_name"] = user.given_name
    if user.family_name:
        claims["family_name"] = user.family_name
    return claims


def mint_id_token(
    grant: Grant,
    ring: KeyRing,
    *,
    issuer: str,
    subject: str,
    now: datetime,
    lifetime: int,
    access_token: str | None,
    code: str | None = None,
    state: str | None = None,
) -> str:
    claims = id_token_claims(
        grant,
        issuer=issuer,
        subject=subject,
        now=now,
        lifetime=lifetime,
        access_token=access_token,
        code=code,
        state=state,
    )
    return ring.sign(claims, typ="JWT", alg=grant.client.signing_alg)
