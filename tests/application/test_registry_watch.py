"""A worker's registry watch: a change made elsewhere (another worker, another host, the CLI)
empties this worker's cached clients, keys and providers at its next check, and a lookup that
read the store before the change does not put the old client back."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from idplus.application.registry_watch import RegistryWatch
from idplus.clock import FrozenClock
from idplus.manage.clients import ClientRegistration, add_client, remove_client
from idplus.protocol.client_directory import ClientDirectory
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore


class Counting:
    def __init__(self) -> None:
        self.invalidated = 0

    def invalidate(self) -> None:
        self.invalidated += 1


def _register(store: SqlStore, clock: FrozenClock, client_id: str = "svc") -> None:
    registration = ClientRegistration(
        client_id=client_id, client_type="Confidential", grant_types=["client_credentials"]
    )
    add_client(store, clock, registration)


def test_a_client_removed_elsewhere_is_gone_from_this_workers_cache_at_the_next_check(
    db: Database, clock: FrozenClock
) -> None:
    here, elsewhere = SqlStore(db), SqlStore(Database(db.url))
    try:
        _register(elsewhere, clock)
        directory = ClientDirectory(here, clock, timedelta(hours=1))
        watch = RegistryWatch(here, [directory], poll_seconds=0.5)
        watch.check()
        assert directory.find("svc") is not None

        remove_client(elsewhere, clock, "svc")
        assert directory.find("svc") is not None  # cached: nothing has told this worker yet
        assert watch.check()
        assert directory.find("svc") is None
        assert not watch.check()  # nothing changed since
    finally:
        elsewhere.dispose()


def test_the_first_check_empties_what_was_cached_at_start_up(
    db: Database, clock: FrozenClock
) -> None:
    cache = Counting()
    watch = RegistryWatch(SqlStore(db), [cache], poll_seconds=0.5)
    assert watch.check()
    assert cache.invalidated == 1


def test_a_lookup_that_read_before_an_invalidation_does_not_keep_what_it_read(
    db: Database, clock: FrozenClock
) -> None:
    store = SqlStore(db)
    _register(store, clock)
    directory = ClientDirectory(store, clock, timedelta(hours=1))
    real_reading = store.reading

    def reading_then_invalidated():  # type: ignore[no-untyped-def]
        context = real_reading()
        directory.invalidate()  # the change arrives while this lookup reads
        return context

    store.reading = reading_then_invalidated  # type: ignore[method-assign]
    assert directory.find("svc") is not None
    store.reading = real_reading  # type: ignore[method-assign]
    assert directory.cached("svc") == (False, None)


def test_the_running_watch_checks_every_poll_and_stops_cleanly(
    db: Database, clock: FrozenClock
) -> None:
    store = SqlStore(db)
    cache = Counting()
    watch = RegistryWatch(store, [cache], poll_seconds=0.05)

    async def run() -> None:
        async with watch.running():
            await asyncio.sleep(0.2)
            _register(store, clock, "late")
            for _ in range(100):  # polls every 0.05 s: the change is seen well within a second
                if cache.invalidated >= 2:
                    break
                await asyncio.sleep(0.05)

    asyncio.run(run())
    assert cache.invalidated == 2  # at start, and after the registration


class Unreachable:
    """A store whose database is down."""

    def reading(self) -> object:
        raise ConnectionError("the database is down")


def test_an_unreachable_store_is_logged_once_per_outage_not_every_poll() -> None:
    from structlog.testing import capture_logs

    cache = Counting()
    watch = RegistryWatch(Unreachable(), [cache], poll_seconds=0.01)  # type: ignore[arg-type]

    async def run() -> None:
        async with watch.running():
            await asyncio.sleep(0.2)

    with capture_logs() as logs:
        asyncio.run(run())
    assert [entry["event"] for entry in logs] == ["registry_watch_error"]
    assert cache.invalidated == 0
