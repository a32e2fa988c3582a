"""The account page's view of a user's passkeys, and removing one.

Removing a passkey ends, in the same unit of work, every live session whose login used it:
their refresh tokens are revoked and their back-channel logout tokens queued in the outbox
(sent once it commits), as when the user ends a session on the account page. The account
page's own session is among them when its login used that passkey: the page then logs out.
Once it committed, the owner is told by SMS (and e-mail when the account has an address),
as when one is added; a notice that cannot go out is logged and undoes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from idplus.auth.sms_texts import passkey_removed_text
from idplus.metrics import SmsPurpose
from idplus.models import AuditEvent, Passkey
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import EndedSession, end_sessions_within, notify_outbox
from idplus.protocol.passkeys.notices import tell_owner


@dataclass(frozen=True, slots=True)
class RemovedPasskey:
    passkey: Passkey
    # The sessions its logins had opened, now ended.
    ended: list[EndedSession]


def passkeys_of(ctx: AppContext, user_id: str) -> list[Passkey]:
    """The user's passkeys, oldest first."""
    with ctx.store.reading() as uow:
        return uow.passkeys.list_for_user(user_id)


def remove_passkey(
    ctx: AppContext, user_id: str, passkey_id: str, *, locale: str = "en"
) -> RemovedPasskey | None:
    """Remove the user's own passkey and tell them (in `locale`); None when it is not theirs
    (or already gone)."""
    now = ctx.clock.now()
    ring = ctx.keys.current()  # before the transaction: rereading keys may write
    with ctx.store.transaction() as uow:
        passkey = uow.passkeys.find(passkey_id)
        owner = uow.users.find(user_id)
        if passkey is None or passkey.user_id != user_id or owner is None:
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
    body = passkey_removed_text(locale, passkey.name)
    tell_owner(ctx.sender, owner, body, now, SmsPurpose.PASSKEY_REMOVED, must_reach=False)
    return RemovedPasskey(passkey, ended)
