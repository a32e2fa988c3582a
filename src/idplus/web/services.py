"""Everything an endpoint needs, built once by `create_app` and kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.requests import Request

from idplus.clock import Clock
from idplus.config import Settings
from idplus.manage.keys import KeyRingCache
from idplus.manage.server_secrets import ServerSecrets
from idplus.store.sql.engine import Database


@dataclass(slots=True)
class Services:
    settings: Settings
    clock: Clock
    db: Database
    keys: KeyRingCache
    metrics: CollectorRegistry
    discovery: dict[str, Any]
    # Loaded at start-up (lifespan), when the database is known to be migrated.
    secrets: ServerSecrets | None = None


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
