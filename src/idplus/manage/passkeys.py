"""An operator's view of a user's passkeys (`idplus user passkeys`), and removing one.

Removing a passkey ends, in the same unit of work, the live sessions whose login used it and
revokes their refresh tokens, and records `user.passkey_removed`. Unlike the account page
(protocol/passkeys/removal.py), no back-channel logout tokens are queued: signing them needs
the protocol layer (pairwise subjects, the key ring), which manage/ may not import. The
relying parties of those sessions learn of it when their refresh token is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from idplus.clock import Clock
from idplus.errors import NotFoundError
from idplus.manage.users import get_user
from idplus.models import AuditEvent, Passkey
from idplus.store.base import Store


@dataclass(frozen=True, slots=True)
class RemovedPasskey:
    passkey: Passkey
    # Ids of the sessions its logins had opened, now ended.
    ended_sessions: list[str]


def list_passkeys(store: Store, username: str) -> list[Passkey]:
    """The passkeys of user `username`, oldest first (NotFoundError for an unknown user)."""
    user = get_user(store, username)
    with store.reading() as uow:
        return uow.passkeys.list_for_user(user.id)


def remove_passkey(store: Store, clock: Clock, username: str, passkey_id: str) -> RemovedPasskey:
    """Remove one of the user's passkeys and end the sessions it logged in; NotFoundError for
    an unknown user or a passkey that is not theirs."""
    user = get_user(store, username)
    now = clock.now()
    with store.transaction() as uow:
        passkey = uow.passkeys.find(passkey_id)
        if (
            passkey is None
            or passkey.user_id != user.id
            or not uow.passkeys.delete(passkey_id, user.id)
        ):
            raise NotFoundError(f"user {username!r} has no passkey {passkey_id!r}")
        ended = [
            session_id
            for session_id in uow.sessions.active_of_passkey(passkey_id, now)
            if uow.sessions.end(session_id, now)
        ]
        for session_id in ended:
            uow.refresh_tokens.revoke_session(session_id, now)
        uow.audit.record(
            AuditEvent(
                "user.passkey_removed",
                now,
                user_id=user.id,
                detail={
                    "passkey_id": passkey_id,
                    "name": passkey.name,
                    "sessions_ended": len(ended),
                    "by": "operator",
                },
            )
        )
    return RemovedPasskey(passkey, ended)


def describe_passkey(passkey: Passkey) -> dict[str, Any]:
    """The operator's view: what it is and how it was used; never its key."""
    return {
        "id": passkey.id,
        "name": passkey.name,
        "created_at": passkey.created_at.isoformat(),
        "last_used_at": passkey.last_used_at.isoformat() if passkey.last_used_at else None,
        "aaguid": passkey.aaguid,
        "transports": list(passkey.transports),
        "backup_eligible": passkey.backup_eligible,
        "backed_up": passkey.backed_up,
        "hardware_attested": passkey.hardware_attested,
        "sign_count": passkey.sign_count,
    }
