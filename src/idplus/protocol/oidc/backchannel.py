"""Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4) for an ended session, enqueued
in the outbox in the unit of work that ends it: the session ends and its RPs are told, or
neither happens."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from idplus.clock import epoch_seconds
from idplus.crypto.keys import KeyRing
from idplus.models import Client, SsoSession, User
from idplus.outbound.backchannel_logout import logout_delivery
from idplus.outbound.outbox import longest_delivery_time
from idplus.protocol.access_token import subject_of
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.store.base import UnitOfWork

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"
# How long a logout token is good for once the outbox has stopped retrying it.
LOGOUT_TOKEN_LIFETIME = 120


def enqueue_logout_tokens(
    ctx: AppContext,
    uow: UnitOfWork,
    ring: KeyRing,
    *,
    session: SsoSession,
    user: User | None,
    clients: Sequence[Client],
    now: datetime,
) -> None:
    """One delivery per client. `ring` is read before the unit of work began: rereading it
    may write (a first key), which must not happen inside another write transaction."""
    for client in clients:
        assert client.backchannel_logout_uri is not None
        token = _logout_token(ctx, ring, session, user, client, now)
        delivery_id = ctx.random.hex_id()
        uow.deliveries.enqueue(
            logout_delivery(
                delivery_id, client.backchannel_logout_uri, token, client.client_id, now
            )
        )


def _logout_token(
    ctx: AppContext,
    ring: KeyRing,
    session: SsoSession,
    user: User | None,
    client: Client,
    now: datetime,
) -> str:
    iat = epoch_seconds(now)
    # Valid until the outbox's last retry could have arrived: an RP refuses an expired token.
    lifetime = LOGOUT_TOKEN_LIFETIME + longest_delivery_time(ctx.settings).total_seconds()
    claims: dict[str, Any] = {
        "iss": ctx.settings.issuer,
        "aud": client.client_id,
        "iat": iat,
        "exp": iat + int(lifetime),
        "jti": ctx.random.hex_id(),
        "sid": session.id,
        "events": {LOGOUT_EVENT: {}},
    }
    if user is not None:
        grant = Grant(client=client, scopes=(), user=user)
        claims["sub"] = subject_of(grant, ctx.secrets.pairwise_salt)
    return ring.sign(claims, typ=LOGOUT_TOKEN_TYPE, alg=client.signing_alg)
