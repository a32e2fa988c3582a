"""The migrations build the schema from empty on both backends, and repeat as a no-op."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from idplus.store.migrations import alembic_config, current_revision, upgrade_to_head
from idplus.store.sql.engine import create_database_engine
from idplus.store.sql.tables import REGISTRY_TABLES, metadata


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fresh.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


def _head() -> str:
    head = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head is not None
    return head


def _schema_differences(url: str) -> list[object]:
    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def _table_snapshot(url: str) -> dict[str, list[str]]:
    engine = create_database_engine(url)
    try:
        inspector = sa.inspect(engine)
        return {
            t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()
        }
    finally:
        engine.dispose()


def test_upgrade_builds_the_schema_from_empty(empty_database_url: str) -> None:
    assert current_revision(empty_database_url) is None

    upgrade_to_head(empty_database_url)

    assert current_revision(empty_database_url) == _head()
    assert _schema_differences(empty_database_url) == []


def test_second_upgrade_is_a_no_op(empty_database_url: str) -> None:
    upgrade_to_head(empty_database_url)
    before = _table_snapshot(empty_database_url)

    upgrade_to_head(empty_database_url)

    assert current_revision(empty_database_url) == _head()
    assert _table_snapshot(empty_database_url) == before


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'wal.db'}"
    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def _trigger_tables(url: str) -> dict[str, int]:
    """Table → how many triggers raise the registries' generation on it."""
    engine = create_database_engine(url)
    query = (
        "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' AND sql LIKE "
        "'%registry_generation%'"
        if engine.dialect.name == "sqlite"
        else "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
        "JOIN pg_proc p ON p.oid = t.tgfoid WHERE p.proname = 'idplus_registry_changed'"
    )
    try:
        with engine.connect() as conn:
            found: dict[str, int] = {}
            for (table,) in conn.execute(sa.text(query)):
                found[table] = found.get(table, 0) + 1
            return found
    finally:
        engine.dispose()


def test_every_registry_table_raises_the_generation_at_head(empty_database_url: str) -> None:
    """Workers drop their caches when the generation moves (application/registry_watch.py);
    SQLite's batch mode loses a table's triggers when it rebuilds the table, so a migration
    that rebuilds one must create them again."""
    upgrade_to_head(empty_database_url)
    expected = 3 if empty_database_url.startswith("sqlite") else 1  # insert, update, delete
    assert _trigger_tables(empty_database_url) == dict.fromkeys(REGISTRY_TABLES, expected)
