"""Clients as the token endpoints see them: read through a short per-process cache.

The token, introspection and revocation endpoints look a client up on every request; a
few seconds of caching keeps that off the store. Registry changes (a rotated secret, a
removed client) empty the cache as soon as the worker's registry watch sees them (within a
second), and at the latest after `client_cache_seconds`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta

from idplus.clock import Clock
from idplus.models import Client
from idplus.store.base import Store

# Far above any real registry; past it the least recently used client is dropped.
_MAX_ENTRIES = 10_000


class ClientDirectory:
    def __init__(self, store: Store, clock: Clock, ttl: timedelta) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        # Only clients that exist: unknown ids are whatever a caller sends, and caching them
        # would let a spray of made-up ids push every real client out.
        self._entries: OrderedDict[str, tuple[datetime, Client]] = OrderedDict()
        # Raised by every invalidation: a lookup that read the store before it does not keep
        # what it read (that may be from before the change).
        self._epoch = 0

    def cached(self, client_id: str) -> tuple[bool, Client | None]:
        """(True, client) when the cache can answer without I/O."""
        entry = self._entries.get(client_id)
        if entry is None or self._clock.now() - entry[0] >= self._ttl:
            return False, None
        return True, entry[1]

    def find(self, client_id: str) -> Client | None:
        """Blocking lookup (the store on a miss): call it off the event loop."""
        hit, client = self.cached(client_id)
        if hit:
            return client
        epoch = self._epoch
        with self._store.reading() as uow:
            client = uow.clients.find(client_id)
        if client is not None:
            with self._lock:
                if epoch != self._epoch:
                    return client
                self._entries[client_id] = (self._clock.now(), client)
                self._entries.move_to_end(client_id)
                if len(self._entries) > _MAX_ENTRIES:
                    self._entries.popitem(last=False)
        return client

    def invalidate(self) -> None:
        """Forget every cached client (the registry changed)."""
        with self._lock:
            self._epoch += 1
            self._entries.clear()
