"""Everything the protocol core needs from its surroundings, passed in explicitly."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Protocol

from idplus.auth.providers import ProviderRegistry
from idplus.auth.sender import Sender
from idplus.clock import Clock
from idplus.config import Settings
from idplus.crypto.hashing import PasswordHashSlots
from idplus.crypto.keys import KeyRing
from idplus.models import ServerSecrets
from idplus.protocol.client_directory import ClientDirectory
from idplus.store.sql.engine import Database


class KeySource(Protocol):
    def current(self) -> KeyRing: ...

    def all_keys_ring(self) -> KeyRing:
        """Verifies with every key ever stored, published or not (expired id_token_hints)."""
        ...


@dataclass(frozen=True, slots=True)
class ServerContext:
    settings: Settings
    clock: Clock
    db: Database
    keys: KeySource
    secrets: ServerSecrets
    providers: ProviderRegistry
    sender: Sender
    clients: ClientDirectory
    hash_slots: PasswordHashSlots = field(
        default_factory=lambda: PasswordHashSlots(os.cpu_count() or 1)
    )
