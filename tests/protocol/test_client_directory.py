"""The per-process client cache: real clients stay cached whatever ids callers make up."""

from __future__ import annotations

from datetime import timedelta

from idplus.clock import FrozenClock
from idplus.manage.clients import ClientRegistration, add_client
from idplus.protocol.client_directory import ClientDirectory
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore


def test_a_spray_of_unknown_client_ids_does_not_empty_the_cache(sqlite_db: Database) -> None:
    """On main unknown ids were cached too, and the cache cleared itself at 10,000 entries."""
    clock, store = FrozenClock(), SqlStore(sqlite_db)
    add_client(store, clock, ClientRegistration("real", "Public"))
    directory = ClientDirectory(store, clock, timedelta(seconds=60))
    assert directory.find("real") is not None
    for i in range(10_001):
        assert directory.find(f"made-up-{i}") is None
    hit, client = directory.cached("real")
    assert hit
    assert client is not None
    assert client.client_id == "real"


def test_an_unknown_client_registered_later_is_found_at_once(sqlite_db: Database) -> None:
    clock, store = FrozenClock(), SqlStore(sqlite_db)
    directory = ClientDirectory(store, clock, timedelta(seconds=60))
    assert directory.find("late") is None
    add_client(store, clock, ClientRegistration("late", "Public"))
    assert directory.find("late") is not None
