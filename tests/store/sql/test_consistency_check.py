"""The fault tests' consistency check (tests/flows/consistency.py) finds nothing in what the
service writes, and finds each kind of half-written row put there on purpose: every check is
shown to fire, on both databases (its queries are SQL that each dialect must get right)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from idplus.config import Settings
from idplus.models import Delivery
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
from tests.flows.consistency import find_half_written_rows
from tests.harness import PASSWORD, Harness, basic, code_from_login, exchange_code, refresh
from tests.protocol.ciba.helpers import add_ciba_client, started

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: the check is SQL, and PostgreSQL is where the cluster runs."""
    return settings.model_copy(update={"database_url": database_url})


def _write_like_the_service(h: Harness) -> None:
    """A rotation chain on each front, a spent and an unspent code, an approved device request,
    a pending CIBA request, a delivered and a pending delivery."""
    h.add_client("spa", client_type="PublicWithRefresh")
    h.add_user("+4790000001")
    tokens = exchange_code(h, code_from_login(h, "spa", scope="openid offline_access")).json()
    for _ in range(2):
        tokens = refresh(h, tokens["refresh_token"]).json()
    code_from_login(h, "spa")  # a code the fault caught before its exchange
    _write_gateway_tokens(h)
    _approve_a_device(h)
    add_ciba_client(h)
    started(h)
    _enqueue_deliveries(h)


def _write_gateway_tokens(h: Harness) -> None:
    h.add_api_products("api:tv")
    secret = h.add_client("partner", client_type="Confidential", api_access=True,
                          grant_types=["password", "refresh_token"], scopes=["api:tv"])  # fmt: skip
    assert secret is not None
    form = {"grant_type": "password", "username": "+4790000001", "password": PASSWORD}
    gateway = h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret)).json()
    form = {"grant_type": "refresh_token", "refresh_token": gateway["refresh_token"]}
    assert h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret)).is_success


def _approve_a_device(h: Harness) -> None:
    h.add_client("tv", client_type="MobileApp", grant_types=[DEVICE_GRANT],
                 scopes=["openid"], redirect_uris=[])  # fmt: skip
    response = h.http.post("/connect/deviceauthorization", data={"client_id": "tv"})
    assert response.status_code == 200, response.text
    browser = h.browser()
    page = browser.get(response.json()["verification_uri_complete"])
    if 'value="continue"' in page.text:  # the code to check before the login
        page = browser.submit(button=("action", "continue"))
    if 'name="password"' in page.text:
        page = h.login(browser)
    assert 'value="approve"' in page.text, page.text[:400]
    assert browser.submit(button=("action", "approve")).status_code == 200


def _enqueue_deliveries(h: Harness) -> None:
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
class Written:
    """The SPA's rotation chain (root → middle → newest, the live one) and the grant of the
    code never exchanged."""

    middle: str
    newest: str
    family_id: str
    session_id: str
    unspent_grant_id: str


def _written(conn: Connection) -> Written:
    rt, codes = refresh_tokens.c, authorization_codes.c
    newest = conn.execute(
        sa.select(rt.id, rt.parent_id, rt.family_id, rt.session_id).where(
            rt.front == "connect", rt.used_at.is_(None)
        )
    ).one()
    unspent = conn.execute(sa.select(codes.grant_id).where(codes.used_at.is_(None))).scalar_one()
    return Written(newest.parent_id, newest.id, newest.family_id, newest.session_id, unspent)


def _token(token_id: str) -> sa.Update:
    return sa.update(refresh_tokens).where(refresh_tokens.c.id == token_id)


def _second_successor(written: Written) -> tuple[sa.Executable, ...]:
    """Two rotations of `middle` that both won, the family since revoked whole (as reuse
    detection does): only the fork is wrong."""
    revoke = sa.update(refresh_tokens).where(refresh_tokens.c.family_id == written.family_id)
    copied = [c for c in refresh_tokens.c if c.name not in ("id", "token_hash")]
    twin = sa.select(sa.literal("twin"), sa.literal("twin-hash"), *copied).where(
        refresh_tokens.c.id == written.newest
    )
    names = ["id", "token_hash", *(c.name for c in copied)]
    return (
        revoke.values(revoked_at=refresh_tokens.c.issued_at),
        sa.insert(refresh_tokens).from_select(names, twin),
    )


def _delivery(delivery_id: str) -> sa.Update:
    return sa.update(deliveries).where(deliveries.c.id == delivery_id)


Statements = sa.Executable | Sequence[sa.Executable]
Corruption = Callable[[Written], Statements]
FAR = datetime(2099, 1, 1, tzinfo=UTC)
CORRUPTIONS: dict[str, tuple[Corruption, list[str]]] = {
    "parent unspent": (
        lambda w: _token(w.middle).values(used_at=None),
        ["more than one live token", "parent was never spent"],
    ),
    "successor lost": (
        lambda w: sa.delete(refresh_tokens).where(refresh_tokens.c.id == w.newest),
        ["rotated refresh token has no successor"],
    ),
    "rotated twice": (_second_successor, ["rotated into two successors"]),
    # NULL on one side only: a check written with `!=` would miss it.
    "successor left the session": (
        lambda w: _token(w.newest).values(session_id=None),
        ["successor left its parent's family, client, user, session, grant or front"],
    ),
    "family revoked in part": (
        lambda w: _token(w.middle).values(revoked_at=refresh_tokens.c.used_at),
        ["revoked in part"],
    ),
    "session ended, tokens not revoked": (
        lambda w: (
            sa.update(sso_sessions)
            .where(sso_sessions.c.id == w.session_id)
            .values(ended_at=sso_sessions.c.last_seen_at)
        ),
        ["bound to an ended session", "still has a cookie handle"],
    ),
    "code unspent": (
        lambda w: sa.update(authorization_codes).values(used_at=None),
        ["refresh token came from a code never spent", "unspent code has an access token"],
    ),
    "gateway token of an unspent code": (
        lambda w: sa.update(gateway_tokens).values(grant_id=w.unspent_grant_id),
        ["gateway token came from a code never spent"],
    ),
    "delivered without its finish": (
        lambda _w: _delivery("delivered-one").values(finished_at=None),
        ["finished delivery lacks"],
    ),
    "pending with a finish": (
        lambda _w: _delivery("pending-one").values(finished_at=deliveries.c.created_at),
        ["pending delivery has a finish time"],
    ),
    "claimed for ever": (
        lambda _w: _delivery("pending-one").values(claimed_until=FAR),
        ["claimed far beyond any lease"],
    ),
    "unknown state": (
        lambda _w: _delivery("pending-one").values(status="sending"),
        ["delivery is in no known state"],
    ),
    "device approved without a user": (
        lambda _w: sa.update(device_requests).values(user_id=None),
        ["device request is in no known state, or decided without a user"],
    ),
    "CIBA request in no known state": (
        lambda _w: sa.update(ciba_requests).values(status="approving"),
        ["CIBA request is in no known state"],
    ),
}


def _corrupt(database_url: str, corruption: Corruption) -> None:
    engine = create_database_engine(database_url)
    try:
        with engine.begin() as conn:
            statements = corruption(_written(conn))
            if isinstance(statements, sa.Executable):
                statements = [statements]
            for statement in statements:
                result = conn.execute(statement)
                # The DB-API defines rowcount for UPDATE and DELETE only (psycopg says -1 for
                # INSERT … SELECT); an insert shows in what the check then finds.
                assert isinstance(statement, sa.Insert) or result.rowcount >= 1, statement
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
        lambda _w: _delivery("pending-one").values(claimed_until=soon),
    )
    assert find_half_written_rows(harness.settings.database_url, harness.clock.now()) == []
