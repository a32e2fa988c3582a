"""The fault tests' consistency check (tests/flows/consistency.py) finds nothing in what the
service writes, and finds each kind of half-written row put there on purpose."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.models import Delivery
from idplus.store.sql.tables import authorization_codes, deliveries, refresh_tokens, sso_sessions
from tests.flows.consistency import find_half_written_rows
from tests.harness import PASSWORD, Harness, basic, code_from_login, exchange_code, refresh


def _write_like_the_service(h: Harness) -> None:
    """A rotation chain on each front, a spent code, a delivered and a pending delivery."""
    h.add_client("spa", client_type="PublicWithRefresh")
    h.add_user("+4790000001")
    tokens = exchange_code(h, code_from_login(h, "spa", scope="openid offline_access")).json()
    for _ in range(2):
        tokens = refresh(h, tokens["refresh_token"]).json()
    h.add_api_products("api:tv")
    secret = h.add_client("partner", client_type="Confidential", api_access=True,
                          grant_types=["password", "refresh_token"], scopes=["api:tv"])  # fmt: skip
    assert secret is not None
    form = {"grant_type": "password", "username": "+4790000001", "password": PASSWORD}
    gateway = h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret)).json()
    form = {"grant_type": "refresh_token", "refresh_token": gateway["refresh_token"]}
    assert h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret)).is_success
    store, now = h.store(), h.clock.now()
    try:
        with store.transaction() as uow:
            for delivery_id in ("delivered-one", "pending-one"):
                target, payload = "https://rp.example/bc", {"logout_token": "t"}
                uow.deliveries.enqueue(
                    Delivery(delivery_id, "backchannel_logout", target, payload, "pending", 0,
                             next_attempt_at=now, created_at=now)
                )  # fmt: skip
            uow.deliveries.mark_delivered("delivered-one", now)
    finally:
        store.dispose()


def test_what_the_service_writes_is_consistent(harness: Harness) -> None:
    _write_like_the_service(harness)
    assert find_half_written_rows(harness.settings.database_url) == []


@dataclass(frozen=True)
class Chain:
    """The SPA's rotation chain: root → middle → newest (the live one)."""

    middle: str
    newest: str
    session_id: str


def _chain(conn: Connection) -> Chain:
    rt = refresh_tokens.c
    newest = conn.execute(
        sa.select(rt.id, rt.parent_id, rt.session_id).where(
            rt.front == "connect", rt.used_at.is_(None)
        )
    ).one()
    return Chain(middle=newest.parent_id, newest=newest.id, session_id=newest.session_id)


def _token(token_id: str) -> sa.Update:
    return sa.update(refresh_tokens).where(refresh_tokens.c.id == token_id)


def _delivery(delivery_id: str) -> sa.Update:
    return sa.update(deliveries).where(deliveries.c.id == delivery_id)


Corruption = Callable[[Chain], sa.Executable]
FAR = datetime(2099, 1, 1, tzinfo=UTC)
CORRUPTIONS: dict[str, tuple[Corruption, list[str]]] = {
    "parent unspent": (
        lambda chain: _token(chain.middle).values(used_at=None),
        ["more than one live token", "parent was never spent"],
    ),
    "successor lost": (
        lambda chain: sa.delete(refresh_tokens).where(refresh_tokens.c.id == chain.newest),
        ["rotated refresh token has no successor"],
    ),
    "family revoked in part": (
        lambda chain: _token(chain.middle).values(revoked_at=refresh_tokens.c.used_at),
        ["revoked in part"],
    ),
    "session ended, tokens not revoked": (
        lambda chain: (
            sa.update(sso_sessions)
            .where(sso_sessions.c.id == chain.session_id)
            .values(ended_at=sso_sessions.c.last_seen_at)
        ),
        ["bound to an ended session", "still has a cookie handle"],
    ),
    "code unspent": (
        lambda _chain: sa.update(authorization_codes).values(used_at=None),
        ["came from a code never spent", "unspent code has an access token"],
    ),
    "delivered without its finish": (
        lambda _chain: _delivery("delivered-one").values(finished_at=None),
        ["finished delivery lacks"],
    ),
    "claimed for ever": (
        lambda _chain: _delivery("pending-one").values(claimed_until=FAR),
        ["claimed far beyond any lease"],
    ),
    "unknown state": (
        lambda _chain: _delivery("pending-one").values(status="sending"),
        ["delivery is in no known state"],
    ),
}


def _corrupt(database_url: str, corruption: Corruption) -> None:
    engine = sa.create_engine(database_url)
    try:
        with engine.begin() as conn:
            assert conn.execute(corruption(_chain(conn))).rowcount >= 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_each_half_written_row_is_found(harness: Harness, corruption: str) -> None:
    _write_like_the_service(harness)
    statement, expected = CORRUPTIONS[corruption]
    _corrupt(harness.settings.database_url, statement)

    problems = find_half_written_rows(harness.settings.database_url)
    found = [e for e in expected if any(e in problem for problem in problems)]
    assert found == expected, problems
    assert len(problems) == len(expected), problems


def test_a_lease_that_runs_out_is_not_claimed_for_ever(harness: Harness) -> None:
    """A sender that died holding a lease leaves a claim that runs out: not half-written."""
    _write_like_the_service(harness)
    soon = harness.clock.now() + timedelta(minutes=1)
    _corrupt(
        harness.settings.database_url,
        lambda _chain: _delivery("pending-one").values(claimed_until=soon),
    )
    assert find_half_written_rows(harness.settings.database_url, harness.clock.now()) == []
