"""Reading and checking access tokens (RFC 6750 §2, RFC 9068 §4), as Bearer or DPoP (RFC 9449
§7.1) tokens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from idplus.clock import epoch_seconds
from idplus.crypto.keys import InvalidSignature, KeyRing
from idplus.errors import InvalidRequest, OAuthError
from idplus.protocol.access_token import ACCESS_TOKEN_TYPE
from idplus.protocol.params import Params
from idplus.store.base import AccessTokenStanding, UnitOfWork

BEARER = "Bearer"
DPOP = "DPoP"
# Tolerated clock difference when checking nbf / iat against our own clock.
LEEWAY_SECONDS = 5
# RFC 8693: the ids of the tokens an exchanged token descends from, nearest first.
EXCHANGED_FROM = "ibis.exchanged_from"
MAX_EXCHANGE_DEPTH = 10


class InvalidToken(OAuthError):
    """One public text for every reason (expired, revoked, forged …); the reason is logged."""

    error = "invalid_token"
    status_code = 401
    PUBLIC_DESCRIPTION = "the access token is invalid"
    # The authentication scheme of the WWW-Authenticate challenge.
    scheme: ClassVar[str] = BEARER

    def __init__(self, reason: str) -> None:
        super().__init__(self.PUBLIC_DESCRIPTION, detail=reason)


class InvalidBoundToken(InvalidToken):
    """RFC 9449 §7.1: a DPoP-bound token without a fitting proof, or a DPoP-scheme token that
    is not bound: the challenge names the DPoP scheme."""

    scheme = DPOP


class ResourceProofRefused(OAuthError):
    """RFC 9449 §7.1, §9: a resource's 401 for a bad proof (invalid_dpop_proof) or one without
    a current server nonce (use_dpop_nonce, with the nonce to use)."""

    status_code = 401
    scheme: ClassVar[str] = DPOP

    def __init__(self, error: str, description: str, *, detail: str, nonce: str | None) -> None:
        super().__init__(description, error=error, detail=detail)
        self.nonce = nonce


class InsufficientScope(OAuthError):
    error = "insufficient_scope"
    status_code = 403
    scheme: ClassVar[str] = BEARER


class DpopInsufficientScope(InsufficientScope):
    """insufficient_scope for a request made with the DPoP scheme (RFC 9449 §7.1)."""

    scheme = DPOP


class MissingToken(OAuthError):
    """RFC 6750 §3.1: no credentials at all get a bare challenge without an error code."""

    error = "invalid_request"
    status_code = 401


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    claims: dict[str, Any]

    @property
    def jti(self) -> str:
        return str(self.claims["jti"])

    @property
    def scopes(self) -> tuple[str, ...]:
        scope = self.claims.get("scope") or []
        return tuple(scope) if isinstance(scope, list) else tuple(str(scope).split())

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])

    def predates(self, registered_at: datetime | None) -> bool:
        """Issued before its client was registered: to a client of the same id that was
        removed since, whose tokens must not come back to life with the new one."""
        if registered_at is None:
            return False
        issued_at = self.claims.get("iat")
        # The leeway: an instance whose clock is a little behind may issue the first tokens of
        # a client just registered elsewhere.
        registered = int(registered_at.timestamp()) - LEEWAY_SECONDS
        return not isinstance(issued_at, int) or issued_at < registered

    @property
    def dpop_jkt(self) -> str | None:
        """RFC 9449 §6.1: the thumbprint of the key the token is bound to (cnf.jkt)."""
        confirmation = self.claims.get("cnf")
        jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
        return jkt if isinstance(jkt, str) else None


@dataclass(frozen=True, slots=True)
class PresentedToken:
    token: str
    # BEARER, or DPOP for `Authorization: DPoP <token>` (RFC 9449 §7.1).
    scheme: str


def read_access_token(authorization: str | None, params: Params | None) -> PresentedToken:
    """From the Authorization header (Bearer or DPoP), or the form body's access_token (a
    Bearer token, RFC 6750 §2.2); never both."""
    body_token = params.get("access_token") if params is not None else None
    if authorization is not None:
        scheme, _, token = authorization.partition(" ")
        known = {BEARER.lower(): BEARER, DPOP.lower(): DPOP}.get(scheme.lower())
        if known is None or not token.strip():
            raise InvalidToken("the Authorization header is neither a Bearer nor a DPoP token")
        if body_token is not None:
            raise InvalidRequest("send the access token once")
        return PresentedToken(token.strip(), known)
    if body_token is None:
        raise MissingToken("an access token is required")
    return PresentedToken(body_token, BEARER)


def verify_access_token(
    ring: KeyRing, token: str, *, issuer: str, now: datetime
) -> AccessTokenClaims:
    """Signature, type, issuer and time checks; revocation is `standing_of`'s (one read with
    the client and session) or `check_not_revoked`'s job."""
    try:
        decoded = ring.verify(token)
    except InvalidSignature:
        raise InvalidToken("the access token is malformed or not signed by this server") from None
    claims = dict(decoded.claims)
    if decoded.header.get("typ") != ACCESS_TOKEN_TYPE:
        raise InvalidToken("not an access token")
    if claims.get("iss") != issuer or "jti" not in claims or "exp" not in claims:
        raise InvalidToken("not an access token of this server")
    moment = epoch_seconds(now)
    try:
        expired = int(claims["exp"]) <= moment
        early = int(claims.get("nbf", 0)) > moment + LEEWAY_SECONDS
    except (TypeError, ValueError):
        raise InvalidToken("malformed time claims") from None
    if expired:
        raise InvalidToken("the access token has expired")
    if early:
        raise InvalidToken("the access token is not valid yet")
    return AccessTokenClaims(claims)


def standing_of(
    uow: UnitOfWork, token: AccessTokenClaims, *, with_user: bool = False
) -> AccessTokenStanding:
    """Whether the token or one it was exchanged from was revoked, when its client was
    registered, and the session its `sid` names (with its user if asked): one read."""
    session_id = token.claims.get("sid")
    return uow.access_token_standing.of(
        _revocable_jtis(token),
        str(token.claims.get("client_id")),
        str(session_id) if session_id is not None else None,
        with_user=with_user,
    )


def _revocable_jtis(token: AccessTokenClaims) -> list[str]:
    ancestors = token.claims.get(EXCHANGED_FROM)
    if not isinstance(ancestors, list):
        return [token.jti]
    return [token.jti, *(str(jti) for jti in ancestors[:MAX_EXCHANGE_DEPTH])]


def check_not_revoked(uow: UnitOfWork, token: AccessTokenClaims) -> None:
    """Neither the token nor any token it was exchanged from (RFC 8693) was revoked."""
    if uow.revoked_access_tokens.is_revoked(token.jti):
        raise InvalidToken("the access token was revoked")
    ancestors = token.claims.get(EXCHANGED_FROM)
    if isinstance(ancestors, list):
        for jti in ancestors[:MAX_EXCHANGE_DEPTH]:
            if uow.revoked_access_tokens.is_revoked(str(jti)):
                raise InvalidToken("a token it was exchanged from was revoked")
