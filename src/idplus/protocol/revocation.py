"""Token revocation (RFC 7009) of refresh tokens of both fronts (their whole family), JWT
access tokens (their jti) and the gateway's reference access tokens.

The answer is the same whether or not the token was known (§2.2): 200 with an empty body.
"""

from __future__ import annotations

from datetime import UTC, datetime

from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import InvalidSignature, KeyRing
from idplus.errors import InvalidRequest
from idplus.models import Client
from idplus.protocol.context import AppContext
from idplus.protocol.params import Params
from idplus.store.base import UnitOfWork


def revoke(ctx: AppContext, ring: KeyRing, client: Client, params: Params) -> None:
    token = params.get("token")
    if token is None:
        raise InvalidRequest("token is required")
    now = ctx.clock.now()
    if token.count(".") == 2:
        _revoke_access_token(ctx, ring, client, token)
        return
    with ctx.store.transaction() as uow:
        _revoke_opaque_token(uow, client, hash_handle(ctx.secrets.handle_key, token), now)


def _revoke_opaque_token(uow: UnitOfWork, client: Client, token_hash: str, now: datetime) -> None:
    """A refresh token (either front) or a gateway reference token, if it is the client's."""
    refresh = uow.refresh_tokens.find(token_hash)
    if refresh is not None:
        if refresh.client_id == client.client_id:
            uow.refresh_tokens.revoke_family(refresh.family_id, now)
        return
    reference = uow.gateway_tokens.find(token_hash)
    if reference is not None and reference.client_id == client.client_id:
        uow.gateway_tokens.revoke(token_hash, now)


def _revoke_access_token(ctx: AppContext, ring: KeyRing, client: Client, token: str) -> None:
    # The published keys cover every access token that has not expired yet.
    try:
        claims = ring.verify(token).claims
    except InvalidSignature:
        return
    if claims.get("client_id") != client.client_id or "jti" not in claims:
        return
    expires_at = datetime.fromtimestamp(int(claims.get("exp", 0)), UTC)
    if expires_at <= ctx.clock.now():
        return
    with ctx.store.transaction() as uow:
        uow.revoked_access_tokens.revoke(str(claims["jti"]), expires_at)
