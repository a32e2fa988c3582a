"""Migrations 0023 (DPoP proofs seen) and 0024 (DPoP bindings, signing algorithm, profile) go
down and up again on both backends: a client from before keeps its row and gets RS256 and no
DPoP requirement, and the way down leaves only the keys the version before can sign with."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage.keys import ensure_signing_key
from idplus.store.migrations import alembic_config, current_revision, upgrade_to_head
from idplus.store.sql.engine import create_database_engine
from idplus.store.sql.uow import SqlStore

BELOW = "0022"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'dpop.db'}"
    empty: str = request.getfixturevalue("empty_postgres_url")
    return empty


def _columns(url: str, table: str) -> set[str]:
    engine = create_database_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_database_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _rows(url: str, sql: str) -> list[tuple[object, ...]]:
    engine = create_database_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql))]
    finally:
        engine.dispose()


def _insert_client(url: str) -> None:
    """A client row as the schema below 0023 has it (every NOT NULL column given)."""
    engine = create_database_engine(url)
    try:
        with engine.begin() as conn:
            table = sa.Table("clients", sa.MetaData(), autoload_with=conn)
            conn.execute(
                sa.insert(table).values(
                    client_id="old", name="Old", client_type="Confidential", redirect_uris=[],
                    post_logout_redirect_uris=[], scopes=[], grant_types=[],
                    response_types=["code"], api_access=False, silent_sso=False,
                    one_telenor=False, update_at_claims=False, ciba_enabled=False,
                    environment="test", providers=[], created_at=NOW, updated_at=NOW,
                )
            )  # fmt: skip
    finally:
        engine.dispose()


def test_down_keeps_only_rs256_keys_and_up_again_keeps_older_clients(url: str) -> None:
    upgrade_to_head(url)
    head = current_revision(url)
    store = SqlStore.from_url(url)
    try:
        ensure_signing_key(store, Settings(database_url=url), FrozenClock(NOW))
    finally:
        store.dispose()
    assert sorted(alg for (alg,) in _rows(url, "SELECT alg FROM signing_keys")) == [
        "ES256", "PS256", "RS256"
    ]  # fmt: skip

    command.downgrade(alembic_config(url), BELOW)

    assert _rows(url, "SELECT alg FROM signing_keys") == [("RS256",)]
    assert "dpop_proof_jtis" not in _tables(url)
    assert not {"require_dpop", "signing_alg", "profile"} & _columns(url, "clients")
    assert "dpop_jkt" not in _columns(url, "authorization_codes")
    assert "dpop_jkt" not in _columns(url, "refresh_tokens")
    _insert_client(url)

    upgrade_to_head(url)

    assert current_revision(url) == head
    (row,) = _rows(url, "SELECT require_dpop, signing_alg, profile FROM clients")
    assert (bool(row[0]), row[1], row[2]) == (False, "RS256", None)
