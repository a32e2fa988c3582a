"""/healthz says the process is up; /readyz says whether the database answers."""

from __future__ import annotations

from starlette.testclient import TestClient

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.web.app import create_app


def test_healthz_and_readyz_when_all_is_well(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_readyz_is_503_while_healthz_stays_200_when_the_database_is_down(
    settings: Settings, clock: FrozenClock
) -> None:
    unreachable = settings.model_copy(
        update={"database_url": "postgresql://postgres@127.0.0.1:1/idplus"}
    )
    # No lifespan: start-up would (rightly) refuse to run without its database.
    client = TestClient(create_app(unreachable, clock=clock))

    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
