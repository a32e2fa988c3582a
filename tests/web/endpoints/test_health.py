"""/healthz says the process is up; /readyz says whether the database answers."""

from __future__ import annotations

import dataclasses

from starlette.testclient import TestClient

from idplus.store.sql.uow import SqlStore


def test_healthz_and_readyz_when_all_is_well(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ok", "database": "ok"}


def test_readyz_is_503_while_healthz_stays_200_when_the_database_is_down(
    client: TestClient,
) -> None:
    # The server started with its database; then the database goes away.
    state = client.app.state  # type: ignore[attr-defined]
    gone = SqlStore.from_url("postgresql://postgres@127.0.0.1:1/idplus")
    state.context = dataclasses.replace(state.context, store=gone)

    assert client.get("/healthz").status_code == 200
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}
