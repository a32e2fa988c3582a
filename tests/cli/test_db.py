"""`idplus db upgrade` and `idplus db prune`."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.script import ScriptDirectory

from idplus.store.migrations import alembic_config
from tests.cli.conftest import Cli


def _head_revision(database_url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


def test_db_upgrade_on_a_migrated_database_changes_nothing(cli: Cli, sqlite_url: str) -> None:
    assert cli.ok("db", "upgrade") == {"revision": _head_revision(sqlite_url), "changed": False}


def test_db_prune_reports_what_it_deleted(cli: Cli) -> None:
    deleted = cli.ok("db", "prune")["deleted"]
    assert set(deleted) >= {"interactions", "authorization_codes", "refresh_tokens"}
    assert all(count == 0 for count in deleted.values())


def test_db_upgrade_creates_the_schema(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDPLUS_DATABASE_URL", f"sqlite:///{tmp_path / 'new' / 'db.sqlite'}")
    assert cli.ok("db", "upgrade")["changed"] is True
    assert cli.ok("db", "upgrade")["changed"] is False


def test_commands_on_an_unmigrated_database_say_what_to_do(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDPLUS_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert "idplus db upgrade" in cli.fails("client", "list", code=1)
