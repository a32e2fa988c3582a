"""Token introspection (RFC 7662) for access tokens (JWTs of /connect, reference tokens of
/oauth/v2) and the refresh tokens of both fronts.

Only Confidential clients may introspect. A refresh token is described only to the client it
belongs to; anything unknown, expired, revoked or foreign is `{"active": false}`.
"""

from __future__ import annotations

from typing import Any

from idplus.clock import epoch_seconds
from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import KeyRing
from idplus.errors import InvalidRequest, UnauthorizedClient
from idplus.models import Client
from idplus.protocol.bearer import InvalidToken, standing_of, verify_access_token
from idplus.protocol.context import AppContext
from idplus.protocol.issuance import refresh_rotates
from idplus.protocol.params import Params
from idplus.protocol.sso import usable_session

INACTIVE: dict[str, Any] = {"active": False}
_JWT_CLAIMS_SHOWN = (
    "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "auth_time", "acr", "amr",
    "idp", "sid", "kurtid", "tnuid", "extsub", "act", "cnf",
)  # fmt: skip


def introspect(ctx: AppContext, ring: KeyRing, client: Client, params: Params) -> dict[str, Any]:
    if not client.rules.is_confidential:
        raise UnauthorizedClient("introspection is only for Confidential clients")
    token = params.get("token")
    if token is None:
        raise InvalidRequest("token is required")
    if token.count(".") == 2:
        return _introspect_access_token(ctx, ring, token)
    gateway_answer = _introspect_gateway_token(ctx, token)
    if gateway_answer is not None:
        return gateway_answer
    return _introspect_refresh_token(ctx, client, token)


def _introspect_gateway_token(ctx: AppContext, token: str) -> dict[str, Any] | None:
    """The gateway's reference access tokens; None when the token is not one of them."""
    with ctx.store.reading() as uow:
        record = uow.gateway_tokens.find(hash_handle(ctx.secrets.handle_key, token))
    if record is None or record.kind != "access":
        return None
    if not record.is_live(ctx.clock.now()):
        return dict(INACTIVE)
    return {
        "active": True,
        "token_type": "access_token",
        "scope": " ".join(record.scopes),
        "client_id": record.client_id,
        "exp": epoch_seconds(record.expires_at),
        "iat": epoch_seconds(record.created_at),
        "iss": ctx.settings.issuer,
    }


def _introspect_access_token(ctx: AppContext, ring: KeyRing, token: str) -> dict[str, Any]:
    now = ctx.clock.now()
    try:
        access = verify_access_token(ring, token, issuer=ctx.settings.issuer, now=now)
    except InvalidToken:
        return dict(INACTIVE)
    with ctx.store.reading() as uow:
        standing = standing_of(uow, access)
    registered_at = standing.client_registered_at
    if (
        standing.revoked
        # A removed client's tokens die with it (the admin API's DELETE /clients).
        or registered_at is None
        or access.predates(registered_at)
        # A user's token dies with the session it came from (SPEC §2, §7).
        or ("sid" in access.claims and usable_session(standing.session, now) is None)
    ):
        return dict(INACTIVE)
    answer: dict[str, Any] = {
        "active": True,
        # RFC 9449 §6.2: a bound token says so, and `cnf` below names its key.
        "token_type": "DPoP" if access.dpop_jkt is not None else "access_token",
        "scope": " ".join(access.scopes),
    }
    answer.update({k: access.claims[k] for k in _JWT_CLAIMS_SHOWN if k in access.claims})
    return answer


def _introspect_refresh_token(ctx: AppContext, client: Client, token: str) -> dict[str, Any]:
    now = ctx.clock.now()
    with ctx.store.reading() as uow:
        record = uow.refresh_tokens.find(hash_handle(ctx.secrets.handle_key, token))
        if record is None or record.client_id != client.client_id:
            return dict(INACTIVE)
        session = uow.sessions.find(record.session_id) if record.session_id else None
    dead = record.revoked_at is not None or record.expires_at <= now
    used = record.used_at is not None and refresh_rotates(record.front, client.rules.refresh_policy)
    # The gateway's password grant binds its refresh tokens to no session.
    logged_out = record.session_id is not None and usable_session(session, now) is None
    if dead or used or logged_out:
        return dict(INACTIVE)
    answer: dict[str, Any] = {
        "active": True,
        "token_type": "refresh_token",
        "scope": " ".join(record.scopes),
        "client_id": record.client_id,
        "exp": epoch_seconds(record.expires_at),
        "iat": epoch_seconds(record.issued_at),
        "iss": ctx.settings.issuer,
    }
    if record.dpop_jkt is not None:
        answer["cnf"] = {"jkt": record.dpop_jkt}
    return answer
