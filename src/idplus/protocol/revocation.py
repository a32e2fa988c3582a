"""Token revocation (RFC 7009) of refresh tokens (their whole family) and access tokens.

The answer is the same whether or not the token was known (§2.2): 200 with an empty body.
"""

from __future__ import annotations

from datetime import UTC, datetime

from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import InvalidSignature, KeyRing
from idplus.errors import InvalidRequest
from idplus.models import Client
from idplus.protocol.context import ServerContext
from idplus.protocol.params import Params
from idplus.store.sql import refresh_tokens as token_store
from idplus.store.sql.revoked_tokens import revoke_access_token


def revoke(ctx: ServerContext, ring: KeyRing, client: Client, params: Params) -> None:
    token = params.get("token")
    if token is None:
        raise InvalidRequest("token is required")
    now = ctx.clock.now()
    if token.count(".") == 2:
        _revoke_access_token(ctx, ring, client, token)
        return
    with ctx.db.transaction() as conn:
        record = token_store.find_refresh_token(conn, hash_handle(ctx.secrets.handle_key, token))
        if record is not None and record.client_id == client.client_id:
            token_store.revoke_family(conn, record.family_id, now)


def _revoke_access_token(ctx: ServerContext, ring: KeyRing, client: Client, token: str) -> None:
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
    with ctx.db.transaction() as conn:
        revoke_access_token(conn, str(claims["jti"]), expires_at)
