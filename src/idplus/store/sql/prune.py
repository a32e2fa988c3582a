"""Deleting rows that can no longer matter: expired one-time artefacts and dead tokens."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.store.sql.tables import (
    audit_events,
    authorization_codes,
    ciba_requests,
    client_assertion_jtis,
    company_invitations,
    deliveries,
    device_requests,
    dpop_proof_jtis,
    gateway_tokens,
    interactions,
    login_throttle,
    metadata,
    password_resets,
    pushed_requests,
    refresh_tokens,
    revoked_access_tokens,
    sso_sessions,
    upstream_logouts,
    upstream_session_tokens,
    webauthn_challenges,
)

# Kept a while after expiry: a late replay of a code should still revoke what it issued.
CODE_GRACE = timedelta(days=1)
# Ended sessions stay visible in the audit of a user's account for a month.
SESSION_GRACE = timedelta(days=30)
# Finished deliveries stay a week, for an operator asking whether a logout reached an RP.
DELIVERY_GRACE = timedelta(days=7)
# Sessions deleted per statement when a call sets no limit.
_SESSION_CHUNK = 5_000


class SqlMaintenance:
    """Deleting rows that can no longer matter: expired one-time artefacts and dead tokens."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def prune_expired(
        self, now: datetime, limit: int | None = None, only: Collection[str] | None = None
    ) -> dict[str, int]:
        deleted = {}
        for name, deletion in _expired(now).items():
            if only is None or name in only:
                deleted[name] = deletion(self._conn, limit)
        return deleted

    def prune_audit_events(self, before: datetime, limit: int) -> int:
        """Delete up to `limit` of the oldest events older than `before`: one short
        transaction per batch, so a year of backlog never holds the write lock for long."""
        oldest = (
            sa.select(audit_events.c.id)
            .where(audit_events.c.at < before)
            .order_by(audit_events.c.id)
            .limit(limit)
        )
        return self._conn.execute(
            sa.delete(audit_events).where(audit_events.c.id.in_(oldest.scalar_subquery()))
        ).rowcount


# A table's deletion of what expired, given how many rows at most (None: all): rows deleted.
_Deletion = Callable[[Connection, int | None], int]


def _up_to(column: sa.Column[datetime], cutoff: datetime) -> _Deletion:
    """Rows whose `column`, which is indexed, is at most `cutoff`. A batch is the oldest
    `limit` of them: the index gives the limit-th value, then everything up to it goes as one
    range (ties may add a few). Two statements, so that the range's bound is a value the
    planner sees: it then reads the index, not the whole table."""
    table = column.table

    def deletion(conn: Connection, limit: int | None) -> int:
        bound = cutoff
        if limit is not None:
            oldest = sa.select(column).where(column <= cutoff).order_by(column)
            nth = conn.execute(oldest.offset(limit - 1).limit(1)).scalar_one_or_none()
            bound = cutoff if nth is None else nth
        return conn.execute(sa.delete(table).where(column <= bound)).rowcount

    return deletion


def _matching(table: sa.Table, condition: sa.ColumnElement[bool]) -> _Deletion:
    """Rows meeting `condition`; a batch is any `limit` of them, by primary key."""

    def deletion(conn: Connection, limit: int | None) -> int:
        if limit is None:
            return conn.execute(sa.delete(table).where(condition)).rowcount
        (key,) = table.primary_key.columns
        batch = sa.select(key).where(condition).limit(limit).scalar_subquery()
        return conn.execute(sa.delete(table).where(key.in_(batch))).rowcount

    return deletion


def _expired(now: datetime) -> dict[str, _Deletion]:
    """Each table's rows that can no longer matter at `now`, in the order they are deleted."""
    return {
        "interactions": _up_to(interactions.c.expires_at, now),
        "password_resets": _up_to(password_resets.c.expires_at, now),
        "authorization_codes": _up_to(authorization_codes.c.expires_at, now - CODE_GRACE),
        "device_requests": _matching(device_requests, device_requests.c.expires_at <= now),
        "revoked_access_tokens": _up_to(revoked_access_tokens.c.expires_at, now),
        "client_assertion_jtis": _up_to(client_assertion_jtis.c.expires_at, now),
        "dpop_proof_jtis": _up_to(dpop_proof_jtis.c.expires_at, now),
        "refresh_tokens": _up_to(refresh_tokens.c.expires_at, now),
        "gateway_tokens": _up_to(gateway_tokens.c.expires_at, now),
        "deliveries": _matching(deliveries, deliveries.c.finished_at <= now - DELIVERY_GRACE),
        "login_throttle": _matching(
            login_throttle, login_throttle.c.window_started_at <= now - timedelta(days=1)
        ),
        "ciba_requests": _up_to(ciba_requests.c.expires_at, now),
        "webauthn_challenges": _up_to(webauthn_challenges.c.expires_at, now),
        "pushed_requests": _up_to(pushed_requests.c.expires_at, now),
        "upstream_logouts": _matching(upstream_logouts, upstream_logouts.c.expires_at <= now),
        # Used or not, an invitation past its expiry opens nothing; the audit trail keeps
        # who was invited and who accepted.
        "company_invitations": _up_to(company_invitations.c.expires_at, now),
        # An upstream ID token is personal data: kept only while its session can end.
        "upstream_session_tokens": _matching(
            upstream_session_tokens,
            upstream_session_tokens.c.session_id.in_(
                sa.select(sso_sessions.c.id).where(
                    sa.or_(sso_sessions.c.ended_at.is_not(None), sso_sessions.c.expires_at <= now)
                )
            ),
        ),
        # No index on their expiry: a session's expiry moves at every use, and an index on it
        # would cost each of those updates a write to every index of the table.
        "sso_sessions": _sessions_with_what_they_issued(
            sa.or_(
                sso_sessions.c.ended_at <= now - SESSION_GRACE,
                sso_sessions.c.expires_at <= now - SESSION_GRACE,
            ),
        ),
    }


def _issued_under_a_session() -> tuple[sa.Table, ...]:
    """The tables whose rows name the session they were issued under (set to NULL when the
    session row goes: refresh tokens, codes, device and CIBA requests, logins in progress)."""
    return tuple(
        table
        for table in metadata.sorted_tables
        if "session_id" in table.c
        and any(
            key.column.table is sso_sessions and key.ondelete == "SET NULL"
            for key in table.c.session_id.foreign_keys
        )
    )


_ISSUED_UNDER_A_SESSION = _issued_under_a_session()


def _sessions_with_what_they_issued(condition: sa.ColumnElement[bool]) -> _Deletion:
    """Sessions meeting `condition`, and with each what was issued under it. A refresh token
    left behind would lose its session (SET NULL) and then read as a token bound to no
    session, which needs only its user: deleting the session would bring it back to life."""

    def deletion(conn: Connection, limit: int | None) -> int:
        deleted = 0
        while True:
            chunk = limit or _SESSION_CHUNK
            ids = sa.select(sso_sessions.c.id).where(condition).limit(chunk)
            batch = list(conn.execute(ids).scalars())
            for table in _ISSUED_UNDER_A_SESSION:
                conn.execute(sa.delete(table).where(table.c.session_id.in_(batch)))
            deleted += conn.execute(
                sa.delete(sso_sessions).where(sso_sessions.c.id.in_(batch))
            ).rowcount
            if limit is not None or len(batch) < chunk:
                return deleted

    return deletion
