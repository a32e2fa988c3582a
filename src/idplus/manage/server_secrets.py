"""Secrets the server generates once and keeps in its database."""

from __future__ import annotations

import secrets

from idplus.clock import Clock
from idplus.config import Settings
from idplus.models import ServerSecrets
from idplus.store.base import Store


def load_server_secrets(store: Store, settings: Settings, clock: Clock) -> ServerSecrets:
    def new() -> str:
        return secrets.token_urlsafe(32)

    now = clock.now()
    with store.transaction() as uow:
        cookie = (
            settings.secret_key.get_secret_value()
            if settings.secret_key
            else uow.server_secrets.find_or_create("secret_key", new, now)
        )
        salt = uow.server_secrets.find_or_create("pairwise_salt", new, now)
        handle = uow.server_secrets.find_or_create("handle_key", new, now)
    return ServerSecrets(cookie.encode(), salt.encode(), handle.encode())
