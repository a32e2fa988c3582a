"""SSO sessions (SPEC §6): groups, lifetimes, starting, renewing and ending them.

A session has two identifiers. `id` is public: it is the `sid` of tokens, logout tokens and
the account page. The *handle* is the cookie's secret: only its HMAC is stored, and every
login gives the session a new one, so a cookie fixed or copied before the login is worthless.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from idplus.crypto.hashing import hash_handle, new_handle
from idplus.models import Authentication, Client, SsoSession, User
from idplus.policies import REMEMBER_ME_COOKIE_LIFETIME
from idplus.store.sql import sessions as session_store
from idplus.store.sql import users as user_store
from idplus.store.sql.refresh_tokens import revoke_session_refresh_tokens

SHARED_GROUP = "one_telenor"


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


def live_session(conn: Connection, session_id: str | None, now: datetime) -> SsoSession | None:
    """The session with this id, if it has neither ended nor expired."""
    if session_id is None:
        return None
    return usable_session(session_store.find_session(conn, session_id), now)


def live_login(
    conn: Connection, session_id: str | None, now: datetime
) -> tuple[SsoSession, User] | None:
    """The live session and its user: what every grant for a user needs (SPEC §2)."""
    return _with_user(conn, live_session(conn, session_id, now))


def session_handle_hash(key: bytes, handle: str) -> str:
    return hash_handle(key, f"session:{handle}")


def live_session_of_cookie(
    conn: Connection, key: bytes, handle: str | None, now: datetime
) -> SsoSession | None:
    """The live session a cookie's handle opens, if any."""
    if handle is None:
        return None
    found = session_store.find_session_by_handle(conn, session_handle_hash(key, handle))
    return usable_session(found, now)


def live_login_of_cookie(
    conn: Connection, key: bytes, handle: str | None, now: datetime
) -> tuple[SsoSession, User] | None:
    return _with_user(conn, live_session_of_cookie(conn, key, handle, now))


def session_ids_of_cookies(conn: Connection, key: bytes, handles: list[str]) -> dict[str, str]:
    """cookie handle → session id, for the handles that still open a session."""
    by_hash = {session_handle_hash(key, h): h for h in handles}
    found = session_store.session_ids_by_handle(conn, list(by_hash))
    return {by_hash[handle_hash]: session_id for handle_hash, session_id in found.items()}


def _with_user(conn: Connection, session: SsoSession | None) -> tuple[SsoSession, User] | None:
    user = user_store.find_user(conn, session.user_id) if session is not None else None
    return (session, user) if session is not None and user is not None else None


@dataclass(frozen=True, slots=True)
class SignedInSession:
    """A session a login started or renewed, with the new handle for the browser's cookie."""

    session: SsoSession
    handle: str


def start_or_renew_session(
    conn: Connection,
    *,
    handle_key: bytes,
    group: str,
    authentication: Authentication,
    lifetime: SessionLifetime,
    existing: SsoSession | None,
    now: datetime,
) -> SignedInSession:
    """The same user logging in again keeps the session id (other clients' tokens survive).

    Either way the cookie gets a new handle: a login never keeps a handle it did not issue.
    """
    handle = new_handle(32)
    handle_hash = session_handle_hash(handle_key, handle)
    if existing is not None and existing.is_active(now):
        if existing.user_id == authentication.user_id:
            session_store.replace_session_handle(conn, existing.id, handle_hash)
            return SignedInSession(_renew(conn, existing, authentication, lifetime, now), handle)
        end_session(conn, existing.id, now)
    session = SsoSession(
        id=secrets.token_urlsafe(24),
        user_id=authentication.user_id,
        sso_group=group,
        auth_time=authentication.auth_time,
        acr=authentication.acr,
        amr=authentication.amr,
        idp=authentication.idp,
        persistent=lifetime.persistent,
        lifetime_seconds=int(lifetime.lifetime.total_seconds()),
        created_at=now,
        last_seen_at=now,
        expires_at=now + lifetime.lifetime,
    )
    session_store.insert_session(conn, session, handle_hash)
    return SignedInSession(session, handle)


def _renew(
    conn: Connection,
    existing: SsoSession,
    authentication: Authentication,
    lifetime: SessionLifetime,
    now: datetime,
) -> SsoSession:
    session_store.reauthenticate_session(
        conn,
        existing.id,
        auth_time=authentication.auth_time,
        acr=authentication.acr,
        amr=authentication.amr,
        now=now,
    )
    renewed = replace(
        existing,
        auth_time=authentication.auth_time,
        acr=authentication.acr,
        amr=authentication.amr,
        last_seen_at=now,
    )
    if lifetime.lifetime.total_seconds() > existing.lifetime_seconds:
        renewed = replace(
            renewed,
            persistent=lifetime.persistent or existing.persistent,
            lifetime_seconds=int(lifetime.lifetime.total_seconds()),
        )
        session_store.extend_session(conn, renewed, now)
    else:
        session_store.touch_session(conn, renewed, now)
    return renewed


def end_session(conn: Connection, session_id: str, now: datetime) -> bool:
    """End the session and revoke every refresh token bound to it (SPEC §2, §7)."""
    ended = session_store.end_session(conn, session_id, now)
    revoke_session_refresh_tokens(conn, session_id, now)
    return ended
