"""The engines on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from idplus.store.sql.engine import create_database_engine
from idplus.store.sql.tables import webauthn_challenges


def test_a_failed_statement_does_not_quote_its_parameters(database_url: str) -> None:
    """Its message reaches logs: what a request put in it (a credential, a handle) must not."""
    engine = create_database_engine(database_url)
    now = datetime.now(UTC)
    row = {"id_hash": "h", "purpose": "login", "expires_at": now}
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(webauthn_challenges).values(**row, binding_hash="first"))
        with pytest.raises(sa.exc.IntegrityError) as failed, engine.begin() as conn:
            statement = sa.insert(webauthn_challenges).values(**row, binding_hash="secret-value")
            conn.execute(statement)
    finally:
        engine.dispose()

    assert "secret-value" not in str(failed.value)
