"""An AppContext over a migrated database on each backend, for tests of the protocol core."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry

from idplus.auth.client_jwks import ClientJwksCache
from idplus.auth.providers import LOCAL_PROVIDER, ProviderRegistry
from idplus.auth.sender import OutboxSender
from idplus.auth.upstream_metadata import UpstreamMetadata
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.crypto.hashing import PasswordHashSlots
from idplus.manage.keys import KeyRingCache, ensure_signing_key
from idplus.manage.server_secrets import load_server_secrets
from idplus.metrics import IdentityMetrics
from idplus.outbound.outbox import OutboxSignal
from idplus.protocol.client_directory import ClientDirectory
from idplus.protocol.context import AppContext
from idplus.randomness import SystemRandomness
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore


@pytest.fixture
def context(db: Database, tmp_path: Path) -> Iterator[AppContext]:
    clock = FrozenClock()
    settings = Settings(database_url=db.url, outbox=tmp_path / "outbox.jsonl")
    store = SqlStore(db)
    ensure_signing_key(store, settings, clock)
    http = httpx.AsyncClient()
    blocking = httpx.Client(timeout=2)
    registry = CollectorRegistry()
    yield AppContext(
        settings=settings,
        clock=clock,
        random=SystemRandomness(),
        store=store,
        keys=KeyRingCache(store, settings, clock),
        secrets=load_server_secrets(store, settings, clock),
        providers=ProviderRegistry([LOCAL_PROVIDER]),
        sender=OutboxSender(tmp_path / "outbox.jsonl"),
        clients=ClientDirectory(store, clock, timedelta(seconds=5)),
        hash_slots=PasswordHashSlots(os.cpu_count() or 1),
        http=http,
        outbox_signal=OutboxSignal(),
        metrics=registry,
        identity_metrics=IdentityMetrics(registry),
        discovery={},
        upstream=UpstreamMetadata(blocking),
        client_jwks=ClientJwksCache(blocking),
    )
    asyncio.run(http.aclose())
    blocking.close()
