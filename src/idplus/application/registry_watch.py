"""Each worker's watch on the registries: clients, signing keys, API products and upstream
providers are cached per process, and a change made anywhere (another worker, another host, the
CLI) must reach every cache within a second (INTERFACE "Running several instances").

Every change to those tables raises one generation number in the same transaction (database
triggers, migration 0025). The watch reads that number every `registry_poll_seconds` — one
indexed single-row read per worker, whatever the traffic — and when it moved, empties the
caches. The caches' own lifetimes stay as a floor should the store be unreachable.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from typing import Protocol

from idplus.logs import get_logger
from idplus.store.base import Store, StoreUnavailable

log = get_logger("idplus.registry_watch")


class Invalidates(Protocol):
    def invalidate(self) -> None: ...


class RegistryWatch:
    def __init__(self, store: Store, caches: Sequence[Invalidates], poll_seconds: float) -> None:
        self._store = store
        self._caches = caches
        self._poll_seconds = poll_seconds
        self._seen: int | None = None

    def check(self) -> bool:
        """Read the generation; empty the caches if it moved since the last check (blocking:
        run it off the event loop). True when it moved."""
        with self._store.reading() as uow:
            generation = uow.registry.generation()
        # The first check also empties them: they were filled at start-up, maybe before a
        # change this number already counts.
        moved = generation != self._seen
        self._seen = generation
        if moved:
            for cache in self._caches:
                cache.invalidate()
        return moved

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """The watch's task for the life of the block (the application's lifespan)."""
        stop = asyncio.Event()
        task = asyncio.create_task(self._run(stop), name="registry-watch")
        try:
            yield
        finally:
            # Stop between checks, not in one: a cancelled check would go on in its thread
            # with a connection of a store that is being disposed of.
            stop.set()
            await task

    async def _run(self, stop: asyncio.Event) -> None:
        failing = False
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.check)
            except StoreUnavailable as exc:  # the caches' lifetimes still bound staleness
                if not failing:  # once per outage, not twice a second; a known state, no trace
                    log.warning("registry_watch_store_unavailable", detail=str(exc))
                failing = True
            except Exception:
                if not failing:
                    log.exception("registry_watch_error")
                failing = True
            else:
                if failing:
                    log.info("registry_watch_recovered")
                failing = False
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._poll_seconds)
