"""What the operational endpoints need, built once by `create_app` and kept on `app.state`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.requests import Request

from idplus.clock import Clock
from idplus.config import Settings
from idplus.manage.keys import KeyRingCache
from idplus.store.sql.engine import Database


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    clock: Clock
    db: Database
    keys: KeyRingCache
    metrics: CollectorRegistry
    discovery: dict[str, Any]


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services
