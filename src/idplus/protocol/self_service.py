"""Self-service (SPEC §5): where a user's account page is, and what they can do there —
see their sessions (which browser, which apps) and end one or all the others, revoke apps that
hold refresh tokens, change their password (which ends their other sessions), and see and
unlink the upstream accounts they log in with (never the last way in)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from ua_parser import parse

from idplus.auth.throttle import Throttled
from idplus.crypto.hashing import hash_password
from idplus.crypto.keys import KeyRing
from idplus.models import AuditEvent, Client, SsoSession, UpstreamAccount, User
from idplus.policies import MAX_CLIENT_ID_LENGTH
from idplus.protocol.bearer import PresentedToken, check_not_revoked, verify_access_token
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.presentation import check_presentation
from idplus.protocol.dpop.request import DpopEvidence
from idplus.protocol.oidc.end_session import (
    EndedSession,
    end_sessions,
    end_sessions_within,
    ended_on_account_page,
    notify_outbox,
)
from idplus.protocol.password_check import WrongPassword, check_password
from idplus.store.base import UnitOfWork

ACCOUNT_PATH = "/account"
MIN_PASSWORD_LENGTH = 8


def self_service_url(
    ctx: AppContext,
    ring: KeyRing,
    presented: PresentedToken,
    dpop: DpopEvidence | None,
    locale: str | None,
) -> str:
    """The account page's URL, for the holder of a valid access token."""
    now = ctx.clock.now()
    access = verify_access_token(ring, presented.token, issuer=ctx.settings.issuer, now=now)
    check_presentation(ctx, access, presented, dpop)
    with ctx.store.reading() as uow:
        check_not_revoked(uow, access)
    query = f"?{urlencode({'locale': locale})}" if locale else ""
    return f"{ctx.settings.issuer}{ACCOUNT_PATH}{query}"


# Systems whose major version tells people something (Windows 11 still says 10, macOS 10.15).
_VERSIONED_SYSTEMS = frozenset({"iOS", "Android"})
_SYSTEM_NAMES = {"Mac OS X": "macOS"}


@dataclass(frozen=True, slots=True)
class Browser:
    """What a User-Agent says, in the parser's product names (never translated)."""

    # "Chrome 131", "Mobile Safari"; None when the parser does not know it.
    name: str | None = None
    # "Windows", "iOS 17"; None when the parser does not know it.
    system: str | None = None


def browser_of(user_agent: str | None) -> Browser:
    if not user_agent:
        return Browser()
    parsed = parse(user_agent)
    system, system_major = None, None
    if parsed.os is not None and parsed.os.family != "Other":
        system = _SYSTEM_NAMES.get(parsed.os.family, parsed.os.family)
        if parsed.os.family in _VERSIONED_SYSTEMS and parsed.os.major:
            system_major = parsed.os.major
            system = f"{system} {system_major}"
    agent = parsed.user_agent
    if agent is None or agent.family == "Other":
        return Browser(None, system)
    # Safari on iOS shares the system's number: "Mobile Safari on iOS 17", not "17 on iOS 17".
    shows_version = agent.major and agent.major != system_major
    return Browser(f"{agent.family} {agent.major}" if shows_version else agent.family, system)


@dataclass(frozen=True, slots=True)
class SessionSummary:
    session: SsoSession
    # The names of the apps it logged in to (the client id when a client has no name or is gone).
    apps: list[str]
    browser: Browser


@dataclass(frozen=True, slots=True)
class AccountView:
    user: User
    sessions: list[SessionSummary]
    apps: list[Client]
    upstream_accounts: list[UpstreamAccount]


def account_view(ctx: AppContext, user_id: str) -> AccountView | None:
    now = ctx.clock.now()
    with ctx.store.reading() as uow:
        user = uow.users.find(user_id)
        if user is None:
            return None
        names: dict[str, str] = {}
        sessions = [
            SessionSummary(s, _app_names(uow, s.id, names), browser_of(s.user_agent))
            for s in uow.sessions.active_of_user(user.id, now)
        ]
        apps = [
            client
            for client_id in uow.refresh_tokens.clients_of_user(user.id, now)
            if (client := uow.clients.find(client_id)) is not None
        ]
        upstream_accounts = uow.upstream_accounts.list_for_user(user.id)
    return AccountView(user, sessions, apps, upstream_accounts)


def _app_names(uow: UnitOfWork, session_id: str, known: dict[str, str]) -> list[str]:
    """`known` carries names already read: one client often serves several sessions."""
    for client_id in (ids := uow.sessions.client_ids(session_id)):
        if client_id not in known:
            client = uow.clients.find(client_id)
            known[client_id] = client.display_name if client is not None else client_id
    return [known[client_id] for client_id in ids]


def end_own_session(ctx: AppContext, user_id: str, session_id: str) -> list[EndedSession]:
    with ctx.store.reading() as uow:
        session = uow.sessions.find(session_id)
    if session is None or session.user_id != user_id:
        return []
    return end_sessions(ctx, [session_id], audit=ended_on_account_page)


def end_other_sessions(ctx: AppContext, user_id: str, keep_session_id: str) -> list[EndedSession]:
    """ "Log out everywhere else": every live session of the user but `keep_session_id` ends in
    one unit of work, each as `end_own_session` ends one (refresh tokens revoked, back-channel
    logout tokens queued)."""
    now = ctx.clock.now()
    ring = ctx.keys.current()  # before the transaction: rereading keys may write
    with ctx.store.transaction() as uow:
        ended = end_user_sessions_within(ctx, uow, ring, user_id, now, keep=keep_session_id)
        if ended:
            uow.audit.record(
                AuditEvent(
                    "user.other_sessions_ended",
                    now,
                    user_id=user_id,
                    detail={"sessions": len(ended)},
                )
            )
    notify_outbox(ctx, ended)
    return ended


def end_user_sessions_within(
    ctx: AppContext,
    uow: UnitOfWork,
    ring: KeyRing,
    user_id: str,
    now: datetime,
    *,
    keep: str | None = None,
) -> list[EndedSession]:
    """Every live session of the user but `keep`, ended in the caller's unit of work."""
    others = [s.id for s in uow.sessions.active_of_user(user_id, now) if s.id != keep]
    return end_sessions_within(ctx, uow, ring, others, now)


def set_password_within(
    ctx: AppContext,
    uow: UnitOfWork,
    ring: KeyRing,
    user: User,
    password_hash: str,
    now: datetime,
    *,
    keep_session: str | None = None,
) -> list[EndedSession]:
    """Store a new password in the caller's unit of work and end, with it, what the old one
    may have opened: every session of the user but `keep_session`, every reset of theirs in
    progress (one that passed its SMS check must not set a password again), and their gateway
    tokens, which belong to no session."""
    uow.users.set_password_hash(user.id, password_hash, now)
    uow.password_resets.delete_of_user(user.id)
    uow.gateway_tokens.revoke_user(user.id, now)
    return end_user_sessions_within(ctx, uow, ring, user.id, now, keep=keep_session)


def revoke_app(ctx: AppContext, user_id: str, client_id: str) -> int:
    """The app's refresh tokens of the user revoked; recorded only when there were some (the
    form's client id is the browser's to choose)."""
    if not 1 <= len(client_id) <= MAX_CLIENT_ID_LENGTH:
        return 0
    now = ctx.clock.now()
    with ctx.store.transaction() as uow:
        revoked = uow.refresh_tokens.revoke_user_client(user_id, client_id, now)
        if revoked:
            uow.audit.record(
                AuditEvent("user.app_revoked", now, client_id=client_id, user_id=user_id)
            )
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
    """Check the current password and set the new one (`set_password_within`: every other
    session of the user ends).

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
    with ctx.store.transaction() as uow:
        ended = set_password_within(
            ctx, uow, ring, user, new_hash, now, keep_session=keep_session_id
        )
        uow.audit.record(AuditEvent("user.password_changed", now, user_id=user.id))
    notify_outbox(ctx, ended)
    return ended
