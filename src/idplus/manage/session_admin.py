"""Operators and the live SSO sessions: list them (whose, which apps they served, how their
login went, from which browser) and end one. The cookie's handle is never shown: it is not
even stored, only its HMAC is, and that stays in the store.

Ending a session is the account page's "end session" (`protocol/oidc/end_session.py`): its
refresh tokens revoked and, in the same unit of work, a logout token queued for each of its
back-channel clients. Signing those needs the protocol layer, which `manage/` may not import,
so the entry point hands the use-case a `SessionEnding` built over it (the admin API and the
console pass `protocol.oidc.end_session.BackChannelEnding`);
`end_without_notice` is for callers without a key ring (the CLI): the relying parties then
learn of it when their refresh token is refused, as after `idplus user passkeys --remove`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from idplus.clock import Clock
from idplus.errors import NotFoundError
from idplus.manage.access import require_operator
from idplus.models import AuditEvent, Caller, SsoSession
from idplus.store.base import Store, UnitOfWork

DEFAULT_LIMIT = 50


class SessionEnding(Protocol):
    def __call__(self, uow: UnitOfWork, session_ids: Sequence[str], now: datetime) -> list[str]:
        """End the live ones of `session_ids` in the caller's unit of work, revoking their
        refresh tokens; the ids of the sessions it ended."""
        ...


def end_without_notice(uow: UnitOfWork, session_ids: Sequence[str], now: datetime) -> list[str]:
    """A `SessionEnding` that tells no relying party (no logout tokens)."""
    ended = [sid for sid in dict.fromkeys(session_ids) if uow.sessions.end(sid, now)]
    for session_id in ended:
        uow.refresh_tokens.revoke_session(session_id, now)
    return ended


@dataclass(frozen=True, slots=True)
class SessionView:
    session: SsoSession
    # None when the user is gone (the session goes with them).
    username: str | None
    # The clients the session served, first served first.
    client_ids: list[str]


def list_sessions(
    store: Store,
    clock: Clock,
    caller: Caller,
    *,
    user_id: str | None = None,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[SessionView]:
    """Live sessions by id, after the id `after`; `user_id`: only that user's (NotFoundError
    for an unknown user)."""
    require_operator(caller)
    now = clock.now()
    with store.reading() as uow:
        if user_id is not None and uow.users.find(user_id) is None:
            raise NotFoundError(f"no user {user_id!r}")
        sessions = uow.sessions.page_live(now, after=after, limit=limit, user_id=user_id)
        usernames: dict[str, str | None] = {}
        for session in sessions:
            if session.user_id not in usernames:
                user = uow.users.find(session.user_id)
                usernames[session.user_id] = user.username if user is not None else None
        return [
            SessionView(s, usernames[s.user_id], uow.sessions.client_ids(s.id)) for s in sessions
        ]


def end_session(
    store: Store, clock: Clock, caller: Caller, session_id: str, *, ending: SessionEnding
) -> SsoSession:
    """End one live session (NotFoundError for an unknown, ended or expired one) and record
    `session.ended` with the operator who did it."""
    require_operator(caller)
    now = clock.now()
    with store.transaction() as uow:
        session = uow.sessions.find(session_id)
        if session is None or not session.is_active(now) or not ending(uow, [session_id], now):
            raise NotFoundError(f"no live session {session_id!r}")
        detail = with_actor(caller, {"sid": session_id, "by": "operator"})
        uow.audit.record(AuditEvent("session.ended", now, user_id=session.user_id, detail=detail))
    return session


def with_actor(caller: Caller, detail: dict[str, object]) -> dict[str, object]:
    """An audit event's detail, naming who made the change (none for the CLI)."""
    return {**detail, "actor": caller.actor} if caller.actor is not None else detail
