"""Migration 0022 (pushed authorization requests) goes down and up again on both backends,
and a client registered before it does not require PAR."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from idplus.store.migrations import alembic_config, current_revision, upgrade_to_head
from idplus.store.sql.engine import create_database_engine

REVISION = "0022"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'par.db'}"
    empty: str = request.getfixturevalue("empty_postgres_url")
    return empty


def _tables_and_client_columns(url: str) -> tuple[set[str], set[str]]:
    engine = create_database_engine(url)
    try:
        inspector = sa.inspect(engine)
        columns = {c["name"] for c in inspector.get_columns("clients")}
        return set(inspector.get_table_names()), columns
    finally:
        engine.dispose()


def test_down_and_up_again_keeping_clients_that_do_not_require_par(url: str) -> None:
    config = alembic_config(url)
    below = ScriptDirectory.from_config(config).get_revision(REVISION).down_revision
    assert isinstance(below, str)
    upgrade_to_head(url)
    head = current_revision(url)

    command.downgrade(config, below)

    tables, columns = _tables_and_client_columns(url)
    assert "pushed_requests" not in tables
    assert "require_pushed_authorization_requests" not in columns
    _insert_client(url)
    upgrade_to_head(url)
    assert current_revision(url) == head
    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            required = conn.execute(
                sa.text("SELECT require_pushed_authorization_requests FROM clients")
            ).scalar_one()
    finally:
        engine.dispose()
    assert required in (False, 0)


def _insert_client(url: str) -> None:
    """A client row as the schema below 0022 has it (every NOT NULL column given)."""
    engine = create_database_engine(url)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        with engine.begin() as conn:
            table = sa.Table("clients", sa.MetaData(), autoload_with=conn)
            values = {
                "client_id": "old", "name": "Old", "client_type": "Public",
                "redirect_uris": [], "post_logout_redirect_uris": [], "scopes": [],
                "grant_types": [], "response_types": ["code"], "api_access": False,
                "silent_sso": False, "one_telenor": False, "update_at_claims": False,
                "ciba_enabled": False, "environment": "test", "providers": [],
                "created_at": now, "updated_at": now,
            }  # fmt: skip
            conn.execute(sa.insert(table).values(**values))
    finally:
        engine.dispose()


def test_upgrading_sqlite_keeps_every_row_that_references_a_client(tmp_path: Path) -> None:
    """SQLite alters `clients` by copying and dropping it: with foreign keys on, the drop
    cascaded into every client's secrets (and refresh tokens, codes, …) on `idplus db upgrade`."""
    url = f"sqlite:///{tmp_path / 'upgrade.db'}"
    config = alembic_config(url)
    scripts = ScriptDirectory.from_config(config)
    first_after = scripts.get_revision("0021").down_revision
    assert isinstance(first_after, str)
    command.upgrade(config, first_after)
    _insert_client(url)
    engine = create_database_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO client_secrets (id, client_id, secret_hash, created_at) "
                    "VALUES ('s1', 'old', 'a-hash', '2026-01-01 00:00:00')"
                )
            )
    finally:
        engine.dispose()

    upgrade_to_head(url)

    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            secrets = conn.execute(sa.text("SELECT client_id FROM client_secrets")).all()
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()
    assert [row.client_id for row in secrets] == ["old"]
