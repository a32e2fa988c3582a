"""Migration 0025 (the admin surface) goes up over a trail with admin API changes in it and
down again on both backends: a change made through the admin API before the upgrade is found by
who made it afterwards, and the way down leaves the schema of 0024."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from idplus.store.migrations import alembic_config, current_revision, upgrade_to_head
from idplus.store.sql.engine import create_database_engine

BELOW = "0024"
NEW_TABLES = {
    "user_roles",
    "companies",
    "company_members",
    "company_invitations",
    "subscription_requests",
}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'admin.db'}"
    empty: str = request.getfixturevalue("empty_postgres_url")
    return empty


def _execute(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_database_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(sa.text(sql))
            return [tuple(row) for row in result] if result.returns_rows else []
    finally:
        engine.dispose()


def _inspect(url: str) -> tuple[set[str], set[str]]:
    engine = create_database_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("audit_events")}
        return set(inspector.get_table_names()), columns
    finally:
        engine.dispose()


def test_earlier_admin_api_changes_are_found_by_their_actor(url: str) -> None:
    config = alembic_config(url)
    command.upgrade(config, BELOW)
    _execute(
        url,
        "INSERT INTO audit_events (at, event, client_id, detail) VALUES "
        "('2026-01-01 00:00:00', 'client.removed', 'shop', '{\"actor\": \"client:ops\"}'), "
        "('2026-01-01 00:00:01', 'user.added', NULL, '{}')",
    )
    upgrade_to_head(url)
    rows = _execute(url, "SELECT event, actor FROM audit_events ORDER BY id")
    assert rows == [("client.removed", "client:ops"), ("user.added", None)]


def test_down_and_up_again(url: str) -> None:
    upgrade_to_head(url)
    command.downgrade(alembic_config(url), BELOW)
    assert current_revision(url) == BELOW
    tables, audit_columns = _inspect(url)
    assert not tables & NEW_TABLES
    assert not {"actor", "target"} & audit_columns
    upgrade_to_head(url)
    tables, audit_columns = _inspect(url)
    assert tables >= NEW_TABLES
    assert audit_columns >= {"actor", "target"}
