"""grant_type=urn:ietf:params:oauth:grant-type:device_code (RFC 8628 §3.4-3.5).

Polls are recorded even when they fail, so `slow_down` (interval + 5 s) holds across polls.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Connection

from idplus.crypto.hashing import hash_handle
from idplus.crypto.keys import KeyRing
from idplus.errors import InvalidGrant, OAuthError
from idplus.models import Client
from idplus.protocol.context import ServerContext
from idplus.protocol.device import SLOW_DOWN_STEP
from idplus.protocol.grant import Grant
from idplus.protocol.grants import committed_outcome, required
from idplus.protocol.issuance import TokenResponse, issue_tokens, new_lineage
from idplus.protocol.params import Params
from idplus.protocol.sso import live_login
from idplus.store.sql import devices as device_store
from idplus.store.sql import sessions as session_store

USES_STORE = True


def poll(ctx: ServerContext, ring: KeyRing, client: Client, params: Params) -> TokenResponse:
    code_hash = hash_handle(ctx.secrets.handle_key, required(params, "device_code"))
    now = ctx.clock.now()
    return committed_outcome(ctx, lambda conn: _poll(conn, ctx, ring, client, code_hash, now))


def _poll(
    conn: Connection,
    ctx: ServerContext,
    ring: KeyRing,
    client: Client,
    code_hash: str,
    now: datetime,
) -> TokenResponse | OAuthError:
    request = device_store.find_by_device_code(conn, code_hash)
    if request is None or request.client_id != client.client_id:
        return InvalidGrant("unknown device_code")
    if request.status == "used":
        return InvalidGrant("the device_code was already used")
    if request.expires_at <= now:
        return OAuthError("the device_code has expired", error="expired_token")
    last = request.last_polled_at
    if last is not None and (now - last).total_seconds() < request.interval:
        device_store.record_poll(conn, code_hash, now, request.interval + SLOW_DOWN_STEP)
        return OAuthError("polling too fast", error="slow_down")
    device_store.record_poll(conn, code_hash, now, request.interval)
    if request.status == "pending":
        return OAuthError("the user has not answered yet", error="authorization_pending")
    if request.status == "denied":
        return OAuthError("the user denied the request", error="access_denied")
    if not device_store.redeem(conn, code_hash):
        return InvalidGrant("the device_code was already used")
    login = live_login(conn, request.session_id, now)
    if login is None:
        return InvalidGrant("the user is no longer logged in")
    session, user = login
    session_store.add_session_client(conn, session.id, client.client_id, now)
    grant = Grant(
        client=client,
        scopes=request.scopes,
        user=user,
        session_id=session.id,
        auth_time=request.auth_time,
        acr=request.acr,
        amr=request.amr,
        idp=request.idp,
        preferred_username=user.username,
    )
    return issue_tokens(ctx, ring, grant, now, conn=conn, lineage=new_lineage())
