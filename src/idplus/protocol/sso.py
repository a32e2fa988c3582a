"""SSO sessions (SPEC §6): groups, lifetimes, starting, renewing and ending them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

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
    session = live_session(conn, session_id, now)
    user = user_store.find_user(conn, session.user_id) if session is not None else None
    return (session, user) if session is not None and user is not None else None


def start_or_renew_session(
    conn: Connection,
    *,
    group: str,
    authentication: Authentication,
    lifetime: SessionLifetime,
    existing: SsoSession | None,
    now: datetime,
) -> SsoSession:
    """The same user logging in again keeps the session id (other clients' tokens survive)."""
    if existing is not None and existing.is_active(now):
        if existing.user_id == authentication.user_id:
            return _renew(conn, existing, authentication, lifetime, now)
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
    session_store.insert_session(conn, session)
    return session


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
