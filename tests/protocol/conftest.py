"""A ServerContext over a migrated database on each backend, for tests of the protocol core."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from idplus.auth.providers import LOCAL_PROVIDER, ProviderRegistry
from idplus.auth.sender import OutboxSender
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage.keys import KeyRingCache, ensure_signing_key
from idplus.manage.server_secrets import load_server_secrets
from idplus.protocol.client_directory import ClientDirectory
from idplus.protocol.context import ServerContext
from idplus.store.sql.engine import Database


@pytest.fixture
def context(db: Database, tmp_path: Path) -> ServerContext:
    clock = FrozenClock()
    settings = Settings(database_url=db.url, outbox=tmp_path / "outbox.jsonl")
    ensure_signing_key(db, settings, clock)
    return ServerContext(
        settings=settings,
        clock=clock,
        db=db,
        keys=KeyRingCache(db, settings, clock),
        secrets=load_server_secrets(db, settings, clock),
        providers=ProviderRegistry([LOCAL_PROVIDER]),
        sender=OutboxSender(tmp_path / "outbox.jsonl"),
        clients=ClientDirectory(db, clock, timedelta(seconds=5)),
    )
