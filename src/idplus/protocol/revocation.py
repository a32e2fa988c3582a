"""Token revocation (RFC 7009) of refresh tokens (their whole family) and access tokens.

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


def revoke(ctx: AppContext, ring: KeyRing, client: Client, params: Params) -> None:
    token = params.get("token")
    if token is None:
        raise InvalidRequest("token is required")
    now = ctx.clock.now()
    if token.count(".") == 2:
        _revoke_access_token(ctx, ring, client, token)
        return
    with ctx.store.transaction() as uow:
        record = uow.refresh_tokens.find(hash_handle(ctx.secrets.handle_key, token))
        if record is not None and record.client_id == client.client_id:
            uow.refresh_tokens.revoke_family(record.family_id, now)


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
