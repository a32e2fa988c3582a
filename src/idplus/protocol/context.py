"""The application context: everything the core needs from its surroundings, built once by
`create_app` and passed in explicitly (nothing reaches it through a page module or a global)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from prometheus_client import CollectorRegistry

from idplus.auth.client_jwks import ClientJwksCache
from idplus.auth.providers import ProviderRegistry
from idplus.auth.sender import Sender
from idplus.auth.upstream_metadata import UpstreamMetadata
from idplus.clock import Clock
from idplus.config import Settings
from idplus.crypto.hashing import PasswordHashSlots
from idplus.crypto.keys import KeyRing
from idplus.metrics import IdentityMetrics
from idplus.models import ServerSecrets
from idplus.outbound.outbox import OutboxSignal
from idplus.protocol.client_directory import ClientDirectory
from idplus.randomness import Randomness
from idplus.store.base import Store


class KeySource(Protocol):
    def current(self) -> KeyRing: ...

    def fresh(self) -> KeyRing | None:
        """The cached ring when it needs no I/O (hot paths skip the thread hop), else None."""
        ...

    def all_keys_ring(self) -> KeyRing:
        """Verifies with every key ever stored, published or not (expired id_token_hints)."""
        ...

    def invalidate(self) -> None:
        """Reread the keys at the next use (they changed)."""
        ...


@dataclass(frozen=True, slots=True)
class AppContext:
    settings: Settings
    clock: Clock
    random: Randomness
    # Units of work: `with ctx.store.transaction() as uow: uow.codes.find(…)`.
    store: Store
    keys: KeySource
    secrets: ServerSecrets
    providers: ProviderRegistry
    sender: Sender
    clients: ClientDirectory
    hash_slots: PasswordHashSlots
    # Outbound deliveries (back-channel logout) share one connection pool.
    http: httpx.AsyncClient
    # Wakes this process's outbox worker after a commit that enqueued deliveries.
    outbox_signal: OutboxSignal
    metrics: CollectorRegistry
    # Logins, tokens, SMS … counted on `metrics` (idplus/metrics.py).
    identity_metrics: IdentityMetrics
    discovery: Mapping[str, Any]
    # Upstream OpenID providers' discovery and JWKS, and the blocking httpx client (with
    # timeouts) the login steps use to reach them from worker threads.
    upstream: UpstreamMetadata
    # The JWKS of private_key_jwt clients registered with a jwks_uri, fetched and cached.
    client_jwks: ClientJwksCache
