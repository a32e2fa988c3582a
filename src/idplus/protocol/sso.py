"""SSO sessions (SPEC §6): groups, lifetimes, starting, renewing and ending them.

A session has two identifiers. `id` is public: it is the `sid` of tokens, logout tokens and
the account page. The *handle* is the cookie's secret: only its HMAC is stored, and every
login gives the session a new one, so a cookie fixed or copied before the login is worthless.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from idplus.crypto.hashing import hash_handle
from idplus.models import Authentication, Client, SsoSession, User
from idplus.policies import REMEMBER_ME_COOKIE_LIFETIME
from idplus.protocol.account_lock import is_locked
from idplus.randomness import Randomness
from idplus.store.base import UnitOfWork

SHARED_GROUP = "one_telenor"
# The column's width: a longer header is cut, never refused (it only names the browser).
USER_AGENT_MAX_LENGTH = 512


def sso_group(client: Client) -> str:
    """one_telenor clients share one session; every other client gets its own."""
    return SHARED_GROUP if client.one_telenor else f"client:{client.client_id}"


@dataclass(frozen=True, slots=True)
class SessionLifetime:
    # A persistent session's cookie outlives the browser; otherwise it is a session cookie.
    persistent: bool
    lifetime: timedelta


def session_lifetime(
    client: Client, remember_me: bool, browser_session: timedelta
) -> SessionLifetime:
    client_lifetime = client.rules.sso_cookie_lifetime
    if client_lifetime is not None:
        return SessionLifetime(True, client_lifetime)
    if remember_me:
        return SessionLifetime(True, REMEMBER_ME_COOKIE_LIFETIME)
    return SessionLifetime(False, browser_session)


def usable_session(session: SsoSession | None, now: datetime) -> SsoSession | None:
    return session if session is not None and session.is_active(now) else None


def live_session(uow: UnitOfWork, session_id: str | None, now: datetime) -> SsoSession | None:
    """The session with this id, if it has neither ended nor expired."""
    if session_id is None:
        return None
    return usable_session(uow.sessions.find(session_id), now)


def live_login(
    uow: UnitOfWork, session_id: str | None, now: datetime
) -> tuple[SsoSession, User] | None:
    """The live session and its user: what every grant for a user needs (SPEC §2). A locked
    user's session is no login (`account_lock`): the lock ended it, unless a login raced it."""
    found = uow.sessions.find_with_user(session_id) if session_id is not None else None
    if found is None:
        return None
    session, user = found
    if not session.is_active(now) or is_locked(user):
        return None
    return session, user


def session_handle_hash(key: bytes, handle: str) -> str:
    return hash_handle(key, f"session:{handle}")


def live_session_of_cookie(
    uow: UnitOfWork, key: bytes, handle: str | None, now: datetime
) -> SsoSession | None:
    """The live session a cookie's handle opens, if any."""
    if handle is None:
        return None
    found = uow.sessions.find_by_handle(session_handle_hash(key, handle))
    return usable_session(found, now)


def live_login_of_cookie(
    uow: UnitOfWork, key: bytes, handle: str | None, now: datetime
) -> tuple[SsoSession, User] | None:
    return _with_user(uow, live_session_of_cookie(uow, key, handle, now))


def session_ids_of_cookies(uow: UnitOfWork, key: bytes, handles: list[str]) -> dict[str, str]:
    """cookie handle → session id, for the handles that still open a session."""
    by_hash = {session_handle_hash(key, h): h for h in handles}
    found = uow.sessions.ids_by_handle(list(by_hash))
    return {by_hash[handle_hash]: session_id for handle_hash, session_id in found.items()}


def _with_user(uow: UnitOfWork, session: SsoSession | None) -> tuple[SsoSession, User] | None:
    """A locked user's session is no login (`account_lock`): the lock ended it, unless a
    login raced the lock."""
    user = uow.users.find(session.user_id) if session is not None else None
    if session is None or user is None or is_locked(user):
        return None
    return session, user


def cleaned_user_agent(header: str | None) -> str | None:
    """The User-Agent as stored: control and other invisible characters (category C*, such
    as bidi overrides) dropped, since they could forge log lines or disguise the browser on the
    account page; cut to the column's width; None when nothing is left."""
    if header is None:
        return None
    kept = "".join(c for c in header if not unicodedata.category(c).startswith("C"))
    return kept.strip()[:USER_AGENT_MAX_LENGTH] or None


@dataclass(frozen=True, slots=True)
class SignedInSession:
    """A session a login started or renewed, with the new handle for the browser's cookie."""

    session: SsoSession
    handle: str


def start_or_renew_session(
    uow: UnitOfWork,
    *,
    handle_key: bytes,
    group: str,
    authentication: Authentication,
    lifetime: SessionLifetime,
    existing: SsoSession | None,
    now: datetime,
    random: Randomness,
    user_agent: str | None = None,
) -> SignedInSession:
    """The same user logging in again keeps the session id (other clients' tokens survive).

    Either way the cookie gets a new handle: a login never keeps a handle it did not issue.
    `user_agent` is the raw header of the login's request.
    """
    handle = random.handle(32)
    handle_hash = session_handle_hash(handle_key, handle)
    browser = cleaned_user_agent(user_agent)
    if existing is not None and existing.is_active(now):
        if existing.user_id == authentication.user_id:
            uow.sessions.replace_handle(existing.id, handle_hash)
            renewed = _renew(uow, existing, authentication, lifetime, now, browser)
            return SignedInSession(renewed, handle)
        end_session(uow, existing.id, now)
    session = SsoSession(
        id=random.handle(24),
        user_id=authentication.user_id,
        sso_group=group,
        auth_time=authentication.auth_time,
        acr=authentication.acr,
        amr=authentication.amr,
        idp=authentication.idp,
        upstream_subject=authentication.upstream_subject,
        persistent=lifetime.persistent,
        lifetime_seconds=int(lifetime.lifetime.total_seconds()),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime.lifetime,
        user_agent=browser,
    )
    uow.sessions.insert(session, handle_hash)
    return SignedInSession(session, handle)


def _renew(
    uow: UnitOfWork,
    existing: SsoSession,
    authentication: Authentication,
    lifetime: SessionLifetime,
    now: datetime,
    user_agent: str | None,
) -> SsoSession:
    # The cookie proves it is the same browser; its User-Agent may have a newer version.
    uow.sessions.reauthenticate(
        existing.id,
        auth_time=authentication.auth_time,
        acr=authentication.acr,
        amr=authentication.amr,
        idp=authentication.idp,
        upstream_subject=authentication.upstream_subject,
        now=now,
        user_agent=user_agent,
    )
    renewed = replace(
        existing,
        auth_time=authentication.auth_time,
        acr=authentication.acr,
        amr=authentication.amr,
        idp=authentication.idp,
        upstream_subject=authentication.upstream_subject,
        last_seen_at=now,
        user_agent=user_agent or existing.user_agent,
    )
    if lifetime.lifetime.total_seconds() > existing.lifetime_seconds:
        renewed = replace(
            renewed,
            persistent=lifetime.persistent or existing.persistent,
            lifetime_seconds=int(lifetime.lifetime.total_seconds()),
        )
        uow.sessions.extend(renewed, now)
    else:
        uow.sessions.touch(renewed, now)
    return renewed


def end_session(uow: UnitOfWork, session_id: str, now: datetime) -> bool:
    """End the session and revoke every refresh token bound to it (SPEC §2, §7)."""
    ended = uow.sessions.end(session_id, now)
    uow.refresh_tokens.revoke_session(session_id, now)
    return ended
