"""Operators and user accounts (issue 20): find users, look one up, lock and unlock them,
reset their second factor, and give or take the operator role.

Every use-case checks that its caller is an operator first, changes one unit of work, and
records its audit event there, with the actor and the state before and after (never a hash or
a code; phone numbers masked). A change that would leave the hub without an operator (the last
operator's role taken, or them locked or removed) is refused: `manage/access.operators`, with
the role holders' rows locked, so that two such changes in parallel cannot both pass.

A lock ends the user's sessions (`session_admin.SessionEnding`: the admin API's tells their
relying parties over the back channel), revokes every refresh token and gateway token of
theirs, and makes every flow refuse them (`protocol/account_lock.py`) until unlocked.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from idplus.auth import throttle
from idplus.auth.local import mask_phone_number
from idplus.clock import Clock
from idplus.config import Settings
from idplus.errors import NotFoundError, ValidationError
from idplus.identifiers import normalise_phone_number, normalise_username
from idplus.manage.access import refuse_last_operator, require_operator
from idplus.manage.session_admin import SessionEnding, end_without_notice, with_actor
from idplus.manage.users import describe_user
from idplus.models import AuditEvent, Caller, UpstreamAccount, User
from idplus.policies import OPERATOR_ROLE, USER_ROLES
from idplus.store.base import Store, UnitOfWork

DEFAULT_LIMIT = 50
# The longest identifier a user has (an e-mail address, RFC 5321 §4.5.3.1).
MAX_QUERY_LENGTH = 320
MAX_REASON_LENGTH = 500


@dataclass(frozen=True, slots=True)
class UserDetails:
    """The operator's view of one user: never a password hash or a passkey's key."""

    user: User
    roles: tuple[str, ...]
    passkeys: int
    upstream_accounts: list[UpstreamAccount]
    live_sessions: int

    @property
    def locked(self) -> bool:
        return self.user.disabled_at is not None


def describe_locked_user(user: User) -> dict[str, Any]:
    """`idplus user show`'s view, with when the user was made and locked (null: not)."""
    return {
        **describe_user(user),
        "created_at": user.created_at.isoformat() if user.created_at else None,
        "locked_at": user.disabled_at.isoformat() if user.disabled_at else None,
    }


def describe_details(details: UserDetails) -> dict[str, Any]:
    """The operator's view of one user, as JSON (the CLI's and the admin API's)."""
    return {
        **describe_locked_user(details.user),
        "roles": list(details.roles),
        "passkeys": details.passkeys,
        "upstream_accounts": [
            {
                "provider_id": account.provider_id,
                "subject": account.subject,
                "created_at": account.created_at.isoformat(),
            }
            for account in details.upstream_accounts
        ],
        "live_sessions": details.live_sessions,
    }


def search_users(
    store: Store,
    clock: Clock,
    caller: Caller,
    query: str,
    *,
    after: str | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[User]:
    """Users by id whose username, e-mail address, phone number, kurtid, given or family
    name starts with `query` (case-insensitive; a phone number may be typed in any form the
    login takes, 90012345 or +47 900 12 345); "" lists everyone. Paged by id after `after`."""
    require_operator(caller)
    text = query.strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise ValidationError(f"q: at most {MAX_QUERY_LENGTH} characters")
    if _has_control_characters(text):
        raise ValidationError("q: no control characters")
    with store.reading() as uow:
        return uow.users.search(_as_stored(text), after=after, limit=limit)


def _as_stored(text: str) -> str:
    """A whole phone number in the form it is stored in (E.164); anything else as typed."""
    if not text or "@" in text or not any(c.isdigit() for c in text):
        return text
    try:
        return normalise_phone_number(text)
    except ValidationError:
        return text


def get_user(store: Store, clock: Clock, caller: Caller, user_id: str) -> UserDetails:
    require_operator(caller)
    with store.reading() as uow:
        return _details(uow, _user(uow, user_id), clock.now())


def find_user(store: Store, username_or_id: str) -> User:
    """The user with this id, or else this username (the CLI's USERNAME_OR_ID)."""
    with store.reading() as uow:
        user = uow.users.find(username_or_id)
        if user is None:
            try:
                user = uow.users.find_by_username(normalise_username(username_or_id))
            except ValidationError:
                user = None
    if user is None:
        raise NotFoundError(f"unknown user {username_or_id!r}")
    return user


def lock_user(
    store: Store,
    clock: Clock,
    caller: Caller,
    user_id: str,
    *,
    reason: str | None = None,
    ending: SessionEnding = end_without_notice,
) -> UserDetails:
    """Lock the user: their sessions end, their refresh and gateway tokens are revoked. A
    user locked already stays as they are (nothing recorded)."""
    require_operator(caller)
    reason = _checked_reason(reason)
    now = clock.now()
    with store.transaction() as uow:
        user = _user(uow, user_id)
        if user.disabled_at is None:
            refuse_last_operator(uow, user.id, user.username, "lock")
            if uow.users.set_disabled(user.id, now, now):
                ended = _end_everything(uow, user, now, ending)
                _record_lock(uow, caller, user, reason, ended, now)
        return _details(uow, _user(uow, user_id), now)


def _end_everything(
    uow: UnitOfWork, user: User, now: datetime, ending: SessionEnding
) -> dict[str, object]:
    """Every refresh token (also those bound to no session), session and gateway token."""
    refresh_tokens = sum(
        uow.refresh_tokens.revoke_user_client(user.id, client_id, now)
        for client_id in uow.refresh_tokens.clients_of_user(user.id, now)
    )
    sessions = ending(uow, [s.id for s in uow.sessions.active_of_user(user.id, now)], now)
    gateway_tokens = uow.gateway_tokens.revoke_user(user.id, now)
    return {
        "sessions_ended": len(sessions),
        "refresh_tokens_revoked": refresh_tokens,
        "gateway_tokens_revoked": gateway_tokens,
    }


def _record_lock(
    uow: UnitOfWork,
    caller: Caller,
    user: User,
    reason: str | None,
    ended: dict[str, object],
    now: datetime,
) -> None:
    detail: dict[str, object] = {
        "before": {"disabled_at": None},
        "after": {"disabled_at": now.isoformat()},
        **ended,
    }
    if reason is not None:
        detail["reason"] = reason
    uow.audit.record(
        AuditEvent("user.locked", now, user_id=user.id, detail=with_actor(caller, detail))
    )


def unlock_user(
    store: Store, clock: Clock, caller: Caller, user_id: str, *, settings: Settings
) -> UserDetails:
    """Unlock the user and lift the password lock on their username (too many wrong
    passwords), so that they can log in at once."""
    require_operator(caller)
    now = clock.now()
    with store.transaction() as uow:
        user = _user(uow, user_id)
        uow.users.set_disabled(user.id, None, now)
        uow.throttles.clear(throttle.key_of(throttle.username_rule(settings), user.username)[1])
        before = user.disabled_at.isoformat() if user.disabled_at is not None else None
        detail: dict[str, object] = {
            "before": {"disabled_at": before},
            "after": {"disabled_at": None},
            "login_lockout_cleared": True,
        }
        uow.audit.record(
            AuditEvent("user.unlocked", now, user_id=user.id, detail=with_actor(caller, detail))
        )
        return _details(uow, _user(uow, user_id), now)


def reset_second_factor(
    store: Store,
    clock: Clock,
    caller: Caller,
    user_id: str,
    *,
    settings: Settings,
    phone_number: str | None = None,
    ending: SessionEnding = end_without_notice,
) -> UserDetails:
    """For a user who lost their phone or security key: every passkey removed, the SMS
    codes sent to `phone_number` from now on (when given; validated as `idplus user add`
    does), the SMS lock lifted, and every session of theirs ended."""
    require_operator(caller)
    phone = normalise_phone_number(phone_number) if phone_number is not None else None
    now = clock.now()
    with store.transaction() as uow:
        user = _user(uow, user_id)
        passkeys = [
            p for p in uow.passkeys.list_for_user(user.id) if uow.passkeys.delete(p.id, user.id)
        ]
        if phone is not None and phone != user.phone_number:
            uow.users.update_profile(user.id, {"phone_number": phone}, now)
        sms_rule = throttle.login_sms_rule(settings)
        for number in {user.phone_number, phone} - {None}:
            uow.throttles.clear(throttle.key_of(sms_rule, str(number))[1])
        ended = ending(uow, [s.id for s in uow.sessions.active_of_user(user.id, now)], now)
        detail: dict[str, object] = {
            "passkeys_removed": len(passkeys),
            "sessions_ended": len(ended),
            "before": {"phone_number": _masked(user.phone_number)},
            "after": {"phone_number": _masked(phone or user.phone_number)},
        }
        uow.audit.record(
            AuditEvent(
                "user.second_factor_reset", now, user_id=user.id, detail=with_actor(caller, detail)
            )
        )
        return _details(uow, _user(uow, user_id), now)


def grant_role(store: Store, clock: Clock, caller: Caller, user_id: str, role: str) -> UserDetails:
    """Give the user the role; one who holds it already keeps it (nothing recorded)."""
    require_operator(caller)
    _check_role(role)
    now = clock.now()
    with store.transaction() as uow:
        user = _user(uow, user_id)
        before = uow.users.roles_of(user.id)
        if uow.users.grant_role(user.id, role, now):
            _record_roles(uow, caller, "user.role_granted", user, role, before, now)
        return _details(uow, user, now)


def revoke_role(store: Store, clock: Clock, caller: Caller, user_id: str, role: str) -> UserDetails:
    """Take the role away (nothing recorded when the user did not hold it); never the last
    operator's (Conflict)."""
    require_operator(caller)
    _check_role(role)
    now = clock.now()
    with store.transaction() as uow:
        user = _user(uow, user_id)
        if role == OPERATOR_ROLE:
            refuse_last_operator(uow, user.id, user.username, "take the operator role from")
        before = uow.users.roles_of(user.id)
        if uow.users.revoke_role(user.id, role):
            _record_roles(uow, caller, "user.role_revoked", user, role, before, now)
        return _details(uow, user, now)


def _record_roles(
    uow: UnitOfWork,
    caller: Caller,
    event: str,
    user: User,
    role: str,
    before: Sequence[str],
    now: datetime,
) -> None:
    detail: dict[str, object] = {
        "role": role,
        "before": {"roles": list(before)},
        "after": {"roles": list(uow.users.roles_of(user.id))},
    }
    uow.audit.record(AuditEvent(event, now, user_id=user.id, detail=with_actor(caller, detail)))


def _check_role(role: str) -> None:
    if role not in USER_ROLES:
        raise ValidationError(f"unknown role {role!r} (roles: {', '.join(USER_ROLES)})")


def _checked_reason(reason: str | None) -> str | None:
    """One line for the audit trail: an operator's note, never a secret of the user's."""
    if reason is None or not reason.strip():
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON_LENGTH or _has_control_characters(reason):
        raise ValidationError(f"reason: one line of at most {MAX_REASON_LENGTH} characters")
    return reason


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(c) in ("Cc", "Cs") for c in text)


def _masked(phone_number: str | None) -> str | None:
    return mask_phone_number(phone_number) if phone_number else None


def _user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.users.find(user_id)
    if user is None:
        raise NotFoundError(f"no user {user_id!r}")
    return user


def _details(uow: UnitOfWork, user: User, now: datetime) -> UserDetails:
    return UserDetails(
        user=user,
        roles=uow.users.roles_of(user.id),
        passkeys=len(uow.passkeys.list_for_user(user.id)),
        upstream_accounts=uow.upstream_accounts.list_for_user(user.id),
        live_sessions=len(uow.sessions.active_of_user(user.id, now)),
    )
