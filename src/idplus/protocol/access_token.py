"""JWT access tokens (RFC 9068, header typ at+jwt) with the claims of SPEC §4."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from idplus.clock import epoch_seconds
from idplus.crypto.keys import KeyRing
from idplus.policies import is_api_scope
from idplus.protocol.grant import Grant
from idplus.protocol.oidc.subject import pairwise_subject
from idplus.randomness import Randomness

ACCESS_TOKEN_TYPE = "at+jwt"


@dataclass(frozen=True, slots=True)
class MintedAccessToken:
    token: str
    jti: str
    expires_at: datetime
    lifetime: int


def subject_of(grant: Grant, pairwise_salt: bytes) -> str:
    if grant.user is None:
        return grant.client.client_id
    return pairwise_subject(pairwise_salt, grant.client.client_id, grant.user.id)


def access_token_claims(
    grant: Grant,
    *,
    issuer: str,
    subject: str,
    jti: str,
    now: datetime,
    lifetime: int,
    dpop_jkt: str | None = None,
) -> dict[str, Any]:
    iat = epoch_seconds(now)
    claims: dict[str, Any] = {
        "iss": issuer,
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "jti": jti,
        "client_id": grant.client.client_id,
        "sub": subject,
        "scope": list(grant.scopes),
    }
    if grant.user is not None:
        claims.update(_login_claims(grant))
    audiences = [s for s in grant.scopes if is_api_scope(s)]
    if "extsub" in grant.scopes and grant.user is not None:
        # The upstream provider's subject; a local login's "upstream" is idplus itself.
        claims["extsub"] = grant.extsub or grant.user.id
        audiences.insert(0, grant.client.client_id)
    if "tnn.ids" in grant.scopes and grant.user is not None:
        claims["kurtid"] = grant.user.kurtid
        claims["tnuid"] = grant.profile
    if audiences:
        claims["aud"] = audiences[0] if len(audiences) == 1 else audiences
    if dpop_jkt is not None:
        # RFC 9449 §6.1: only a proof made with this key may present the token.
        claims["cnf"] = {"jkt": dpop_jkt}
    return claims


def _login_claims(grant: Grant) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "idp": grant.idp,
        "amr": list(grant.amr),
        "acr": grant.acr,
    }
    if grant.auth_time is not None:
        claims["auth_time"] = epoch_seconds(grant.auth_time)
    if grant.session_id is not None:
        claims["sid"] = grant.session_id
        claims["ibis.sid"] = grant.session_id
    return claims


def mint_access_token(
    grant: Grant,
    ring: KeyRing,
    *,
    issuer: str,
    pairwise_salt: bytes,
    now: datetime,
    lifetime: int,
    random: Randomness,
    dpop_jkt: str | None = None,
) -> MintedAccessToken:
    jti = random.hex_id()
    claims = access_token_claims(
        grant,
        issuer=issuer,
        subject=subject_of(grant, pairwise_salt),
        jti=jti,
        now=now,
        lifetime=lifetime,
        dpop_jkt=dpop_jkt,
    )
    token = ring.sign(claims, typ=ACCESS_TOKEN_TYPE, alg=grant.client.signing_alg)
    return MintedAccessToken(token, jti, now + timedelta(seconds=lifetime), lifetime)
