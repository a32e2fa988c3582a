"""Setting the new password: the end of a reset, in one unit of work.

The reset is consumed and the password set the way every password is set
(`self_service.set_password_within`: every SSO session of the user ends with its
back-channel logout tokens queued, their other resets go, their gateway tokens are revoked),
hashed (argon2id) in a hashing slot before the transaction. Every refresh token of the user
is revoked too, a login lock on the name lifted, and the user told by SMS and e-mail. The
notice goes last, in the transaction: a reset the owner is not told of does not happen.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from idplus.auth import throttle
from idplus.crypto.hashing import hash_password
from idplus.models import AuditEvent, User
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import EndedSession, notify_outbox
from idplus.protocol.password_reset.messages import send_password_changed
from idplus.protocol.password_reset.start import login_of_reset
from idplus.protocol.password_reset.state import (
    ResetGone,
    ResetProblem,
    ResetProblemReason,
    ResetStage,
    ResetView,
)
from idplus.protocol.self_service import MIN_PASSWORD_LENGTH, set_password_within
from idplus.store.base import UnitOfWork


@dataclass(frozen=True, slots=True)
class PasswordChanged:
    ended: list[EndedSession]
    locale: str
    # The handle of the login in progress the reset started from, to go back to it.
    interaction: str | None


def set_new_password(
    ctx: AppContext, view: ResetView, new_password: str, *, login: str = ""
) -> PasswordChanged:
    """`login`: the handle of the login the reset started from, as the browser kept it.

    Raises ResetProblem (not at this step, too short), ResetGone (used meanwhile) and
    HashingBusy (every hashing slot taken; nothing spent)."""
    user = view.user
    if view.stage is not ResetStage.NEW_PASSWORD or user is None:
        raise ResetProblem(ResetProblemReason.UNKNOWN_ACTION)
    # The account page's rule (protocol/self_service.change_password).
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ResetProblem(ResetProblemReason.TOO_SHORT)
    with ctx.hash_slots.slot():
        new_hash = hash_password(new_password)
    now = ctx.clock.now()
    ring = ctx.keys.current()  # before the transaction: rereading keys may write
    with ctx.store.transaction() as uow:
        if not uow.password_resets.consume(view.reset.id, view.reset.handle_hash):
            raise ResetGone("used meanwhile")
        ended = set_password_within(ctx, uow, ring, user, new_hash, now)
        _revoke_refresh_tokens(uow, user, now)
        # The owner may have locked the name with wrong passwords before asking for a reset.
        throttle.succeeded(
            uow, [throttle.key_of(throttle.username_rule(ctx.settings), user.username)]
        )
        uow.audit.record(AuditEvent("user.password_reset", now, user_id=user.id))
        send_password_changed(ctx.sender, user, view.reset.locale, now)
    notify_outbox(ctx, ended)
    back_to = login_of_reset(ctx, view, login)
    return PasswordChanged(ended, view.reset.locale, login if back_to is not None else None)


def _revoke_refresh_tokens(uow: UnitOfWork, user: User, now: datetime) -> None:
    """Also those bound to no session (offline access): whoever had the old password may
    have got them."""
    for client_id in uow.refresh_tokens.clients_of_user(user.id, now):
        uow.refresh_tokens.revoke_user_client(user.id, client_id, now)
