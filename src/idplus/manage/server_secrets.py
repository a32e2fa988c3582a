"""Secrets the server generates once and keeps in its database."""

from __future__ import annotations

import secrets

from idplus.clock import Clock
from idplus.config import Settings
from idplus.models import ServerSecrets
from idplus.store.sql.engine import Database
from idplus.store.sql.server_secrets import find_or_create_secret


def load_server_secrets(db: Database, settings: Settings, clock: Clock) -> ServerSecrets:
    def new() -> str:
        return secrets.token_urlsafe(32)

    now = clock.now()
    with db.transaction() as conn:
        cookie = (
            settings.secret_key.get_secret_value()
            if settings.secret_key
            else find_or_create_secret(conn, "secret_key", new, now)
        )
        salt = find_or_create_secret(conn, "pairwise_salt", new, now)
        handle = find_or_create_secret(conn, "handle_key", new, now)
    return ServerSecrets(cookie.encode(), salt.encode(), handle.encode())
