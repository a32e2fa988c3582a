"""SSO session rows ⇄ `models.SsoSession`, and which clients each session has served."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import SsoSession, User
from idplus.store.sql.dialect import insert_if_absent
from idplus.store.sql.tables import session_clients, sso_sessions, users
from idplus.store.sql.users import PREFIXED_USER_COLUMNS, user_from_prefixed_row

_FIND = sa.select(sso_sessions).where(sso_sessions.c.id == sa.bindparam("session_id"))
_FIND_WITH_USER = (
    sa.select(sso_sessions, *PREFIXED_USER_COLUMNS)
    .join(users, users.c.id == sso_sessions.c.user_id)
    .where(sso_sessions.c.id == sa.bindparam("session_id"))
)
_FIND_BY_HANDLE = sa.select(sso_sessions).where(
    sso_sessions.c.handle_hash == sa.bindparam("handle_hash")
)
_TOUCH = (
    sa.update(sso_sessions)
    .where(sso_sessions.c.id == sa.bindparam("session_id"), sso_sessions.c.ended_at.is_(None))
    .values(last_seen_at=sa.bindparam("now"), expires_at=sa.bindparam("expires_at"))
)


def _touch_interval(session: SsoSession) -> timedelta:
    return min(timedelta(seconds=60), timedelta(seconds=session.lifetime_seconds / 100))


def session_from_row(row: Any) -> SsoSession:
    return SsoSession(
        id=row["id"],
        user_id=row["user_id"],
        sso_group=row["sso_group"],
        auth_time=row["auth_time"],
        acr=row["acr"],
        amr=tuple(row["amr"]),
        idp=row["idp"],
        persistent=row["persistent"],
        lifetime_seconds=row["lifetime_seconds"],
        created_at=row["created_at"],
        last_seen_at=row["last_seen_at"],
        expires_at=row["expires_at"],
        ended_at=row["ended_at"],
        upstream_subject=row["upstream_subject"],
        user_agent=row["user_agent"],
        passkey_id=row["passkey_id"],
    )


class SqlSessions:
    """SSO session rows ⇄ `models.SsoSession`, and which clients each session has served."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, session: SsoSession, handle_hash: str) -> None:
        self._conn.execute(
            sa.insert(sso_sessions).values(
                id=session.id,
                handle_hash=handle_hash,
                user_id=session.user_id,
                sso_group=session.sso_group,
                auth_time=session.auth_time,
                acr=session.acr,
                amr=list(session.amr),
                idp=session.idp,
                persistent=session.persistent,
                lifetime_seconds=session.lifetime_seconds,
                created_at=session.created_at,
                last_seen_at=session.last_seen_at,
                expires_at=session.expires_at,
                upstream_subject=session.upstream_subject,
                user_agent=session.user_agent,
                passkey_id=session.passkey_id,
            )
        )

    def find(self, session_id: str) -> SsoSession | None:
        row = self._conn.execute(_FIND, {"session_id": session_id}).first()
        return session_from_row(row._mapping) if row is not None else None

    def find_with_user(self, session_id: str) -> tuple[SsoSession, User] | None:
        row = self._conn.execute(_FIND_WITH_USER, {"session_id": session_id}).first()
        if row is None:
            return None
        user = user_from_prefixed_row(self._conn, row._mapping)
        return (session_from_row(row._mapping), user) if user is not None else None

    def find_by_handle(self, handle_hash: str) -> SsoSession | None:
        row = self._conn.execute(_FIND_BY_HANDLE, {"handle_hash": handle_hash}).first()
        return session_from_row(row._mapping) if row is not None else None

    def ids_by_handle(self, handle_hashes: list[str]) -> dict[str, str]:
        """handle hash → session id, for the handles that name a session."""
        rows = self._conn.execute(
            sa.select(sso_sessions.c.handle_hash, sso_sessions.c.id).where(
                sso_sessions.c.handle_hash.in_(handle_hashes)
            )
        ).all()
        return {row.handle_hash: row.id for row in rows}

    def replace_handle(self, session_id: str, handle_hash: str) -> None:
        """A new cookie handle; the old cookie stops working (no session fixation)."""
        self._conn.execute(
            sa.update(sso_sessions)
            .where(sso_sessions.c.id == session_id)
            .values(handle_hash=handle_hash)
        )

    def reauthenticate(
        self,
        session_id: str,
        *,
        auth_time: datetime,
        acr: str,
        amr: tuple[str, ...],
        idp: str,
        upstream_subject: str | None,
        now: datetime,
        user_agent: str | None = None,
    ) -> None:
        """A new login (prompt=login, max_age, step-up) refreshes what the session asserts;
        a login without a User-Agent keeps the one stored."""
        values: dict[str, Any] = {
            "auth_time": auth_time,
            "acr": acr,
            "amr": list(amr),
            "idp": idp,
            "upstream_subject": upstream_subject,
            "last_seen_at": now,
        }
        if user_agent is not None:
            values["user_agent"] = user_agent
        self._conn.execute(
            sa.update(sso_sessions).where(sso_sessions.c.id == session_id).values(**values)
        )

    def touch(self, session: SsoSession, now: datetime) -> None:
        """Slide the session's expiry forward on use (never backwards).

        Skipped when the session was seen moments ago: the expiry would move by less than the
        write costs, and hot refresh loops would otherwise write on every request.
        """
        if now - session.last_seen_at < _touch_interval(session):
            return
        expires_at = max(session.expires_at, now + timedelta(seconds=session.lifetime_seconds))
        self._conn.execute(_TOUCH, {"session_id": session.id, "now": now, "expires_at": expires_at})

    def end(self, session_id: str, now: datetime) -> bool:
        result = self._conn.execute(
            sa.update(sso_sessions)
            .where(sso_sessions.c.id == session_id, sso_sessions.c.ended_at.is_(None))
            .values(ended_at=now, handle_hash=None)
        )
        return result.rowcount > 0

    def add_client(self, session_id: str, client_id: str, now: datetime) -> None:
        """Record that the session served the client; parallel code issues may both call it."""
        values = {"session_id": session_id, "client_id": client_id, "first_seen_at": now}
        insert_if_absent(self._conn, session_clients, values, ["session_id", "client_id"])

    def client_ids(self, session_id: str) -> list[str]:
        rows = self._conn.execute(
            sa.select(session_clients.c.client_id)
            .where(session_clients.c.session_id == session_id)
            .order_by(session_clients.c.first_seen_at, session_clients.c.client_id)
        ).scalars()
        return list(rows)

    def extend(self, session: SsoSession, now: datetime) -> None:
        """Give the session a longer lifetime ("remember me" on a later login)."""
        self._conn.execute(
            sa.update(sso_sessions)
            .where(sso_sessions.c.id == session.id)
            .values(
                persistent=session.persistent,
                lifetime_seconds=session.lifetime_seconds,
                last_seen_at=now,
                expires_at=max(
                    session.expires_at, now + timedelta(seconds=session.lifetime_seconds)
                ),
            )
        )

    def active_of_user(self, user_id: str, now: datetime) -> list[SsoSession]:
        rows = self._conn.execute(
            sa.select(sso_sessions)
            .where(
                sso_sessions.c.user_id == user_id,
                sso_sessions.c.ended_at.is_(None),
                sso_sessions.c.expires_at > now,
            )
            .order_by(sso_sessions.c.last_seen_at.desc())
        ).all()
        return [session_from_row(row._mapping) for row in rows]

    def page_live(
        self, now: datetime, *, after: str | None, limit: int, user_id: str | None = None
    ) -> list[SsoSession]:
        query = (
            sa.select(sso_sessions)
            .where(sso_sessions.c.ended_at.is_(None), sso_sessions.c.expires_at > now)
            .order_by(sso_sessions.c.id)
            .limit(limit)
        )
        if after is not None:
            query = query.where(sso_sessions.c.id > after)
        if user_id is not None:
            query = query.where(sso_sessions.c.user_id == user_id)
        return [session_from_row(row._mapping) for row in self._conn.execute(query).all()]

    def set_passkey(self, session_id: str, passkey_id: str | None) -> None:
        """Record the passkey the session's latest login used (None: a login without one)."""
        self._conn.execute(
            sa.update(sso_sessions)
            .where(sso_sessions.c.id == session_id)
            .values(passkey_id=passkey_id)
        )

    def active_of_passkey(self, passkey_id: str, now: datetime) -> list[str]:
        """Ids of the live sessions whose login used the passkey."""
        rows = self._conn.execute(
            sa.select(sso_sessions.c.id).where(
                sso_sessions.c.passkey_id == passkey_id,
                sso_sessions.c.ended_at.is_(None),
                sso_sessions.c.expires_at > now,
            )
        ).scalars()
        return list(rows)
