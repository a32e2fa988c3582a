"""A consistency check of a database the service has been writing to: rows that only a
transaction cut in half (or a race one of the writers lost without noticing) could leave.

Each check is one SQL query (SQLite or PostgreSQL) for rows that break an invariant the write
paths keep inside one transaction:

- refresh-token rotation consumes the parent and inserts its one successor together, and a
  revocation takes the whole family (refresh_token.py, store/sql/refresh_tokens.py);
- a code exchange marks the code used in the transaction that issues the tokens
  (authorization_code.py); a logout ends the session and revokes its tokens (sso.end_session);
- an outbox row moves pending → delivered | failed with its finish time, under a lease that
  runs out (store/sql/deliveries.py).

The invariants hold after `idplus db prune` too: it deletes whole expired lineages and old
finished rows, never half of what one transaction wrote.

Not checked: that an ended session's back-channel clients each have a logout delivery. Some
endings rightly queue none (the CLI's `end_without_notice` and passkey removal, a login as
another user over a live session, the RP that asked for the logout itself), a delivery names
no session (the `sid` is inside the signed token), and the prune drops finished deliveries
after 7 days but ended sessions after 30.

    problems = find_half_written_rows(database_url)
    assert problems == [], problems
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from idplus.store.sql.engine import create_database_engine
from idplus.store.sql.tables import (
    authorization_codes,
    ciba_requests,
    deliveries,
    device_requests,
    gateway_tokens,
    refresh_tokens,
    sso_sessions,
)

# A delivery lease is the attempt's timeout plus a margin of at most an hour (outbound/outbox.py,
# IDPLUS_DELIVERY_LEASE_MARGIN_SECONDS); one held further ahead was never going to run out.
LEASE_LIMIT = timedelta(hours=2)
# Rows named per broken invariant; the count is given in full.
SHOWN_ROWS = 5

_rt = refresh_tokens
_parent = refresh_tokens.alias("parent")
_child = refresh_tokens.alias("child")
_live = sa.and_(_rt.c.used_at.is_(None), _rt.c.revoked_at.is_(None))


@dataclass(frozen=True, slots=True)
class Check:
    """One invariant: `rows(now)` selects what breaks it, identified by its first columns."""

    invariant: str
    rows: Callable[[datetime], sa.Select[Any]]


def _count_if(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _families_with_several_live_tokens(_now: datetime) -> sa.Select[Any]:
    return (
        sa.select(_rt.c.family_id, sa.func.count())
        .where(_live)
        .group_by(_rt.c.family_id)
        .having(sa.func.count() > 1)
    )


def _rotated_without_successor(_now: datetime) -> sa.Select[Any]:
    successor = sa.select(_child.c.id).where(_child.c.parent_id == _rt.c.id)
    return sa.select(_rt.c.id, _rt.c.family_id).where(
        _rt.c.used_at.is_not(None), ~successor.exists()
    )


def _rotated_twice(_now: datetime) -> sa.Select[Any]:
    return (
        sa.select(_rt.c.parent_id, sa.func.count())
        .where(_rt.c.parent_id.is_not(None))
        .group_by(_rt.c.parent_id)
        .having(sa.func.count() > 1)
    )


def _successor_of_unspent_parent(_now: datetime) -> sa.Select[Any]:
    return (
        sa.select(_child.c.id, _parent.c.id)
        .join(_parent, _child.c.parent_id == _parent.c.id)
        .where(_parent.c.used_at.is_(None))
    )


def _successor_of_another_lineage(_now: datetime) -> sa.Select[Any]:
    differs = [
        _child.c[name].is_distinct_from(_parent.c[name])
        for name in ("family_id", "client_id", "user_id", "session_id", "grant_id", "front")
    ]
    return (
        sa.select(_child.c.id, _parent.c.id)
        .join(_parent, _child.c.parent_id == _parent.c.id)
        .where(sa.or_(*differs))
    )


def _families_revoked_in_part(_now: datetime) -> sa.Select[Any]:
    return (
        sa.select(_rt.c.family_id)
        .group_by(_rt.c.family_id)
        .having(_count_if(_rt.c.revoked_at.is_not(None)) > 0)
        .having(_count_if(_live) > 0)
    )


def _live_tokens_of_ended_sessions(_now: datetime) -> sa.Select[Any]:
    return (
        sa.select(_rt.c.id, sso_sessions.c.id)
        .join(sso_sessions, _rt.c.session_id == sso_sessions.c.id)
        .where(sso_sessions.c.ended_at.is_not(None), _live)
    )


def _unspent_codes() -> sa.Select[Any]:
    return sa.select(authorization_codes.c.grant_id).where(authorization_codes.c.used_at.is_(None))


def _refresh_tokens_of_unspent_codes(_now: datetime) -> sa.Select[Any]:
    return sa.select(_rt.c.id, _rt.c.grant_id).where(_rt.c.grant_id.in_(_unspent_codes()))


def _gateway_tokens_of_unspent_codes(_now: datetime) -> sa.Select[Any]:
    return sa.select(gateway_tokens.c.token_hash, gateway_tokens.c.grant_id).where(
        gateway_tokens.c.grant_id.in_(_unspent_codes())
    )


def _unspent_codes_with_an_access_token(_now: datetime) -> sa.Select[Any]:
    codes = authorization_codes
    return sa.select(codes.c.grant_id).where(
        codes.c.used_at.is_(None), codes.c.access_token_jti.is_not(None)
    )


def _ended_sessions_with_a_cookie(_now: datetime) -> sa.Select[Any]:
    return sa.select(sso_sessions.c.id).where(
        sso_sessions.c.ended_at.is_not(None), sso_sessions.c.handle_hash.is_not(None)
    )


_FINISHED = ("delivered", "failed")


def _deliveries_in_no_known_state(_now: datetime) -> sa.Select[Any]:
    return sa.select(deliveries.c.id, deliveries.c.status).where(
        deliveries.c.status.not_in(("pending", *_FINISHED))
    )


def _finished_deliveries_half_recorded(_now: datetime) -> sa.Select[Any]:
    d = deliveries.c
    return sa.select(d.id, d.status).where(
        d.status.in_(_FINISHED),
        sa.or_(d.finished_at.is_(None), d.claimed_until.is_not(None), d.attempts < 1),
    )


def _pending_deliveries_with_a_finish(_now: datetime) -> sa.Select[Any]:
    d = deliveries.c
    return sa.select(d.id).where(d.status == "pending", d.finished_at.is_not(None))


def _deliveries_claimed_for_ever(now: datetime) -> sa.Select[Any]:
    d = deliveries.c
    return sa.select(d.id, d.claimed_until).where(d.claimed_until > now + LEASE_LIMIT)


def _decided_device_requests_without_a_user(_now: datetime) -> sa.Select[Any]:
    d = device_requests.c
    return sa.select(d.user_code, d.status).where(
        sa.or_(
            d.status.not_in(("pending", "approved", "denied", "used")),
            sa.and_(d.status.in_(("approved", "used")), d.user_id.is_(None)),
        )
    )


def _ciba_requests_in_no_known_state(_now: datetime) -> sa.Select[Any]:
    c = ciba_requests.c
    return sa.select(c.auth_req_id_hash, c.status).where(
        c.status.not_in(("pending", "approved", "denied", "used"))
    )


CHECKS = (
    Check("a refresh family has more than one live token", _families_with_several_live_tokens),
    Check("a rotated refresh token has no successor", _rotated_without_successor),
    Check("a refresh token was rotated into two successors", _rotated_twice),
    Check("a successor exists but its parent was never spent", _successor_of_unspent_parent),
    Check(
        "a successor left its parent's family, client, user, session, grant or front",
        _successor_of_another_lineage,
    ),
    Check("a refresh family is revoked in part: some tokens live on", _families_revoked_in_part),
    Check("a live refresh token is bound to an ended session", _live_tokens_of_ended_sessions),
    Check("a refresh token came from a code never spent", _refresh_tokens_of_unspent_codes),
    Check("a gateway token came from a code never spent", _gateway_tokens_of_unspent_codes),
    Check("an unspent code has an access token recorded", _unspent_codes_with_an_access_token),
    Check("an ended session still has a cookie handle", _ended_sessions_with_a_cookie),
    Check("a delivery is in no known state", _deliveries_in_no_known_state),
    Check(
        "a finished delivery lacks its finish time or attempt, or is still claimed",
        _finished_deliveries_half_recorded,
    ),
    Check("a pending delivery has a finish time", _pending_deliveries_with_a_finish),
    Check("a delivery is claimed far beyond any lease", _deliveries_claimed_for_ever),
    Check(
        "a device request is in no known state, or decided without a user",
        _decided_device_requests_without_a_user,
    ),
    Check("a CIBA request is in no known state", _ciba_requests_in_no_known_state),
)


def find_half_written_rows(database_url: str, now: datetime | None = None) -> list[str]:
    """One line per broken invariant, naming a few of the rows; empty when all hold."""
    moment = now or datetime.now(UTC)
    engine = create_database_engine(database_url)
    problems = []
    try:
        with engine.connect() as conn:
            for check in CHECKS:
                rows = conn.execute(check.rows(moment)).all()
                if rows:
                    shown = ", ".join(str(tuple(row)) for row in rows[:SHOWN_ROWS])
                    problems.append(f"{check.invariant} ({len(rows)}): {shown}")
    finally:
        engine.dispose()
    return problems
