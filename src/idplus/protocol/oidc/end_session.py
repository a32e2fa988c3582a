"""Ending SSO sessions: OpenID Connect RP-Initiated Logout 1.0 and the native JSON logout.

An `id_token_hint` we signed (also an expired one) identifies the client and the session; a
`post_logout_redirect_uri` is honoured only when registered for that client. Ending a session
revokes its refresh tokens (SPEC §7) and, in the same unit of work, puts a logout token for
each of its other back-channel clients in the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from idplus.crypto.keys import InvalidSignature, KeyRing
from idplus.models import AuditEvent, Client, SsoSession, UpstreamSessionTokens
from idplus.protocol.context import AppContext
from idplus.protocol.federation.logout import revoke_upstream_sessions
from idplus.protocol.oidc.backchannel import enqueue_logout_tokens
from idplus.protocol.sso import end_session
from idplus.store.base import UnitOfWork

# The audit event one ended session records, in the unit of work that ends it.
SessionAudit = Callable[[SsoSession, datetime], AuditEvent]


class LogoutVia(StrEnum):
    """How a `session.logged_out` came about."""

    # RP-initiated logout (id_token_hint) of a session this browser holds.
    END_SESSION = "end_session"
    # RP-initiated logout of a session another browser (or none) holds: the hint named it.
    ID_TOKEN_HINT = "id_token_hint"
    # The user confirmed on the logout page (no id_token_hint): this browser's sessions.
    CONFIRMED = "confirmed"
    # The JSON logout of native apps.
    NATIVE = "native"


def logged_out(
    via: LogoutVia, client_id: str | None, *, browser_sessions: Collection[str] | None = None
) -> SessionAudit:
    """`session.logged_out` {sid, via} for the RP `client_id` (when one asked). With
    `browser_sessions`, a session not among them was ended by its hint alone (`id_token_hint`)."""

    def event(session: SsoSession, now: datetime) -> AuditEvent:
        held = browser_sessions is None or session.id in browser_sessions
        how = via if held else LogoutVia.ID_TOKEN_HINT
        return AuditEvent(
            "session.logged_out",
            now,
            client_id=client_id,
            user_id=session.user_id,
            detail={"sid": session.id, "via": how.value},
        )

    return event


def ended_on_account_page(session: SsoSession, now: datetime) -> AuditEvent:
    """`user.session_ended` {sid}: the user ended one of their sessions on the account page."""
    return AuditEvent(
        "user.session_ended", now, user_id=session.user_id, detail={"sid": session.id}
    )


class InvalidIdTokenHint(Exception):
    """Not an ID token of ours (bad signature, other issuer, malformed)."""


@dataclass(frozen=True, slots=True)
class IdTokenHint:
    client_id: str
    session_id: str | None
    subject: str


@dataclass(frozen=True, slots=True)
class EndedSession:
    session: SsoSession
    # Clients that received tokens in this session and are told over the back channel.
    notified: tuple[str, ...]
    # What ending it at the upstream provider its login came from needs (federation).
    upstream: UpstreamSessionTokens | None = None


def read_id_token_hint(ctx: AppContext, token: str) -> IdTokenHint:
    """Signature and issuer only: an expired hint is still good enough to log out with."""
    try:
        decoded = ctx.keys.all_keys_ring().verify(token)
    except InvalidSignature:
        raise InvalidIdTokenHint("the id_token_hint is not signed by this server") from None
    claims: dict[str, Any] = dict(decoded.claims)
    audience = claims.get("aud")
    client_id = audience[0] if isinstance(audience, list) and audience else audience
    if claims.get("iss") != ctx.settings.issuer or not isinstance(client_id, str):
        raise InvalidIdTokenHint("the id_token_hint was not issued here")
    if decoded.header.get("typ") not in (None, "JWT"):
        raise InvalidIdTokenHint("the id_token_hint is not an ID token")
    sid = claims.get("sid")
    return IdTokenHint(client_id, sid if isinstance(sid, str) else None, str(claims.get("sub")))


def valid_post_logout_redirect(
    ctx: AppContext, hint: IdTokenHint | None, uri: str | None
) -> Client | None:
    """The hint's client when `uri` is registered for it; otherwise None (the URI is ignored)."""
    if hint is None or uri is None:
        return None
    with ctx.store.reading() as uow:
        client = uow.clients.find(hint.client_id)
    if client is None or uri not in client.post_logout_redirect_uris:
        return None
    return client


def end_sessions(
    ctx: AppContext,
    session_ids: Iterable[str],
    *,
    initiator: str | None = None,
    audit: SessionAudit | None = None,
) -> list[EndedSession]:
    """End every live session given; the initiating client is not notified of its own logout.
    `audit` makes the event each session ended records."""
    ring = ctx.keys.current()
    with ctx.store.transaction() as uow:
        ended = end_sessions_within(
            ctx, uow, ring, session_ids, ctx.clock.now(), initiator=initiator, audit=audit
        )
    notify_outbox(ctx, ended)
    return ended


def end_sessions_within(
    ctx: AppContext,
    uow: UnitOfWork,
    ring: KeyRing,
    session_ids: Iterable[str],
    now: datetime,
    *,
    initiator: str | None = None,
    audit: SessionAudit | None = None,
) -> list[EndedSession]:
    """End the sessions and enqueue their logout tokens in the caller's unit of work, which
    then calls `notify_outbox` after its commit."""
    ended: list[EndedSession] = []
    for session_id in dict.fromkeys(session_ids):
        session = uow.sessions.find(session_id)
        if session is None or not session.is_active(now):
            continue
        if not end_session(uow, session.id, now):
            continue  # a parallel logout ended it first, and told its clients
        if audit is not None:
            uow.audit.record(audit(session, now))
        notify = [
            client
            for client_id in uow.sessions.client_ids(session.id)
            if client_id != initiator
            and (client := uow.clients.find(client_id)) is not None
            and client.backchannel_logout_uri
        ]
        user = uow.users.find(session.user_id)
        enqueue_logout_tokens(ctx, uow, ring, session=session, user=user, clients=notify, now=now)
        # Handed to the caller, who ends the upstream session with them; kept no longer.
        upstream = uow.upstream_session_tokens.find(session.id)
        if upstream is not None:
            uow.upstream_session_tokens.delete(session.id)
        ended.append(EndedSession(session, tuple(c.client_id for c in notify), upstream))
    return ended


def notify_outbox(ctx: AppContext, ended: Iterable[EndedSession]) -> None:
    """After the commit: the outbox worker sends the new logout tokens at once."""
    if any(item.notified for item in ended):
        ctx.outbox_signal.notify()


class BackChannelEnding:
    """Sessions an operator ends (manage/session_admin.SessionEnding, called in the use-case's
    unit of work) the way the account page ends one: `end_sessions_within`, so their refresh
    tokens are revoked and their back-channel clients' logout tokens queued. `finish`, after
    the commit, wakes the outbox and ends the sessions' upstream logins (no browser is there
    to be sent through them). The key ring is read first: rereading it may write."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.ring = ctx.keys.current()
        self.ended: list[EndedSession] = []

    def __call__(self, uow: UnitOfWork, session_ids: Sequence[str], now: datetime) -> list[str]:
        ended = end_sessions_within(self.ctx, uow, self.ring, session_ids, now)
        self.ended.extend(ended)
        return [item.session.id for item in ended]

    def finish(self) -> None:
        notify_outbox(self.ctx, self.ended)
        upstreams = [item.upstream for item in self.ended if item.upstream is not None]
        if upstreams:
            revoke_upstream_sessions(self.ctx, upstreams)
