"""The account page's view of a user's passkeys, and removing one.

Removing a passkey ends, in the same unit of work, every live session whose login used it:
their refresh tokens are revoked and their back-channel logout tokens queued in the outbox
(sent once it commits), as when the user ends a session on the account page. The account
page's own session is among them when its login used that passkey: the page then logs out.
"""

from __future__ import annotations

from dataclasses import dataclass

from idplus.models import AuditEvent, Passkey
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import EndedSession, end_sessions_within, notify_outbox


@dataclass(frozen=True, slots=True)
class RemovedPasskey:
    passkey: Passkey
    # The sessions its logins had opened, now ended.
    ended: list[EndedSession]


def passkeys_of(ctx: AppContext, user_id: str) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    with ctx.store.reading() as uow:
        return uow.passkeys.list_for_user(user_id)


def remove_passkey(ctx: AppContext, user_id: str, passkey_id: str) -> RemovedPasskey | None:
    """Remove the user's own passkey; None when it is not theirs (or already gone)."""
    now = ctx.clock.now()
    ring = ctx.keys.current()  # before the transaction: rereading keys may write
    with ctx.store.transaction() as uow:
        passkey = uow.passkeys.find(passkey_id)
        if passkey is None or passkey.user_id != user_id:
            return None
        if not uow.passkeys.delete(passkey_id, user_id):
            return None  # a parallel removal got there first
        sessions = uow.sessions.active_of_passkey(passkey_id, now)
        ended = end_sessions_within(ctx, uow, ring, sessions, now)
        uow.audit.record(
            AuditEvent(
                "user.passkey_removed",
                now,
                user_id=user_id,
                detail={
                    "passkey_id": passkey_id,
                    "name": passkey.name,
                    "sessions_ended": len(ended),
                    "by": "user",
                },
            )
        )
    notify_outbox(ctx, ended)
    return RemovedPasskey(passkey, ended)
