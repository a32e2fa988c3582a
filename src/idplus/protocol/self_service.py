"""Self-service (SPEC §5): where a user's account page is, and what they can do there —
see and end their sessions, revoke apps that hold refresh tokens, change their password
(which ends their other sessions), and see and unlink the upstream accounts they log in with
(never the last way in)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from idplus.auth.throttle import Throttled
from idplus.crypto.hashing import hash_password
from idplus.crypto.keys import KeyRing
from idplus.models import AuditEvent, Client, SsoSession, UpstreamAccount, User
from idplus.protocol.bearer import check_not_revoked, verify_access_token
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import (
    EndedSession,
    end_sessions,
    end_sessions_within,
    notify_outbox,
)
from idplus.protocol.password_check import WrongPassword, check_password

ACCOUNT_PATH = "/account"
MIN_PASSWORD_LENGTH = 8


def self_service_url(ctx: AppContext, ring: KeyRing, token: str, locale: str | None) -> str:
    """The account page's URL, for the holder of a valid access token."""
    access = verify_access_token(ring, token, issuer=ctx.settings.issuer, now=ctx.clock.now())
    with ctx.store.reading() as uow:
        check_not_revoked(uow, access)
    query = f"?{urlencode({'locale': locale})}" if locale else ""
    return f"{ctx.settings.issuer}{ACCOUNT_PATH}{query}"


@dataclass(frozen=True, slots=True)
class AccountView:
    user: User
    sessions: list[tuple[SsoSession, list[str]]]
    apps: list[Client]
    upstream_accounts: list[UpstreamAccount]


def account_view(ctx: AppContext, user_id: str) -> AccountView | None:
    now = ctx.clock.now()
    with ctx.store.reading() as uow:
        user = uow.users.find(user_id)
        if user is None:
            return None
        sessions = [
            (s, uow.sessions.client_ids(s.id)) for s in uow.sessions.active_of_user(user.id, now)
        ]
        apps = [
            client
            for client_id in uow.refresh_tokens.clients_of_user(user.id, now)
            if (client := uow.clients.find(client_id)) is not None
        ]
        upstream_accounts = uow.upstream_accounts.list_for_user(user.id)
    return AccountView(user, sessions, apps, upstream_accounts)


def end_own_session(ctx: AppContext, user_id: str, session_id: str) -> list[EndedSession]:
    with ctx.store.reading() as uow:
        session = uow.sessions.find(session_id)
    if session is None or session.user_id != user_id:
        return []
    return end_sessions(ctx, [session_id])


def revoke_app(ctx: AppContext, user_id: str, client_id: str) -> int:
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        revoked = uow.refresh_tokens.revoke_user_client(user_id, client_id, now)
        uow.audit.record(AuditEvent("user.app_revoked", now, client_id=client_id, user_id=user_id))
    return revoked


def unlink_upstream_account(
    ctx: AppContext, user_id: str, provider_id: str, subject: str
) -> list[EndedSession] | None:
    """Disconnect the upstream account and end the sessions it logged in; None when the account
    is not the user's, or is their last way in. It is never linked to them again."""
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        user = uow.users.find(user_id)
        if user is None or not uow.upstream_accounts.unlink_unless_last(provider_id, subject, user):
            return None
        uow.audit.record(
            AuditEvent(
                "user.upstream_unlinked", now, user_id=user_id, detail={"provider": provider_id}
            )
        )
        through_it = [
            s.id
            for s in uow.sessions.active_of_user(user_id, now)
            if s.idp == provider_id and s.upstream_subject == subject
        ]
    return end_sessions(ctx, through_it) if through_it else []


class PasswordChangeRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def change_password(
    ctx: AppContext,
    user: User,
    current: str,
    new: str,
    keep_session_id: str,
    address: str | None,
) -> list[EndedSession]:
    """Check the current password, store the new one, end every other session of the user.

    The check is throttled like a login (a stolen session must not become a password oracle)
    and raises HashingBusy when every hashing slot is taken.
    """
    try:
        check_password(ctx, user.username, current, address)
    except WrongPassword:
        raise PasswordChangeRefused("wrong_password") from None
    except Throttled:
        raise PasswordChangeRefused("locked") from None
    if len(new) < MIN_PASSWORD_LENGTH:
        raise PasswordChangeRefused("too_short")
    with ctx.hash_slots.slot():
        new_hash = hash_password(new)
    now = ctx.clock.now()
    ring = ctx.keys.current()  # before the transaction: rereading keys may write
    # One unit of work: the new password never stands while a session it should end lives on.
    with ctx.store.transaction() as uow:
        uow.users.set_password_hash(user.id, new_hash, now)
        others = [
            s.id for s in uow.sessions.active_of_user(user.id, now) if s.id != keep_session_id
        ]
        ended = end_sessions_within(ctx, uow, ring, others, now)
        uow.audit.record(AuditEvent("user.password_changed", now, user_id=user.id))
    notify_outbox(ctx, ended)
    return ended
