"""An in-process app with its lifespan run, over a migrated SQLite database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.web.app import create_app


@pytest.fixture
def client(settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock), base_url=settings.issuer) as test_client:
        yield test_client
