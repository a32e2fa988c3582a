"""Logout tokens (OpenID Connect Back-Channel Logout 1.0 §2.4) for the ended sessions."""

from __future__ import annotations

from dataclasses import dataclass

from idplus.clock import epoch_seconds
from idplus.protocol.access_token import subject_of
from idplus.protocol.context import AppContext
from idplus.protocol.grant import Grant
from idplus.protocol.oidc.end_session import EndedSession

LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_TYPE = "logout+jwt"
LOGOUT_TOKEN_LIFETIME = 120


@dataclass(frozen=True, slots=True)
class LogoutNotice:
    uri: str
    logout_token: str
    client_id: str


def logout_notices(ctx: AppContext, ended: list[EndedSession]) -> list[LogoutNotice]:
    """Signed logout tokens for the sessions' back-channel clients (blocking: the key ring may
    be reread from the store)."""
    if not any(item.backchannel_clients for item in ended):
        return []
    ring = ctx.keys.current()
    now = epoch_seconds(ctx.clock.now())
    notices = []
    for item in ended:
        for client in item.backchannel_clients:
            assert client.backchannel_logout_uri is not None
            claims = {
                "iss": ctx.settings.issuer,
                "aud": client.client_id,
                "iat": now,
                "exp": now + LOGOUT_TOKEN_LIFETIME,
                "jti": ctx.random.hex_id(),
                "sid": item.session.id,
                "events": {LOGOUT_EVENT: {}},
            }
            if item.user is not None:
                grant = Grant(client=client, scopes=(), user=item.user)
                claims["sub"] = subject_of(grant, ctx.secrets.pairwise_salt)
            token = ring.sign(claims, typ=LOGOUT_TOKEN_TYPE)
            notices.append(LogoutNotice(client.backchannel_logout_uri, token, client.client_id))
    return notices
