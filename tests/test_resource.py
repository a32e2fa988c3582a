"""The resource-server middleware, run through the example API against a real idplus."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from examples.tv_api import create_api
from starlette.testclient import TestClient

from idplus.resource import TokenValidator
from tests.live_server import LiveServer


@pytest.fixture
def tv_api(live_server: LiveServer) -> Iterator[tuple[TestClient, LiveServer, dict[str, str]]]:
    live_server.idplus("api-product", "add", "--scope", "api:tv")
    secrets = {}
    for client_id, scope in (("tv-partner", "api:tv"), ("tv-api", None)):
        extra = ["--scope", scope] if scope else []
        added = live_server.idplus("client", "add", "--client-id", client_id, "--type",
                                   "Confidential", "--api-access", "--grant-type",
                                   "client_credentials", *extra)  # fmt: skip
        secrets[client_id] = added["client_secret"]
    validator = TokenValidator(
        live_server.base_url, client_id="tv-api", client_secret=secrets["tv-api"]
    )
    with TestClient(create_api(validator)) as client:
        yield client, live_server, secrets


def _jwt(server: LiveServer, client_id: str, secret: str) -> str:
    response = httpx.post(f"{server.base_url}/connect/token", auth=(client_id, secret),
                          data={"grant_type": "client_credentials"})  # fmt: skip
    return str(response.json()["access_token"])


def _opaque(server: LiveServer, client_id: str, secret: str) -> str:
    response = httpx.post(f"{server.base_url}/oauth/v2/token", auth=(client_id, secret),
                          data={"grant_type": "client_credentials"})  # fmt: skip
    return str(response.json()["access_token"])


def test_jwt_and_opaque_tokens_with_the_scope_get_in(
    tv_api: tuple[TestClient, LiveServer, dict[str, str]],
) -> None:
    client, server, secrets = tv_api
    for token in (_jwt(server, "tv-partner", secrets["tv-partner"]),
                  _opaque(server, "tv-partner", secrets["tv-partner"])):  # fmt: skip
        response = client.get("/channels", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        assert response.json()["client_id"] == "tv-partner"


def test_missing_invalid_and_logged_out_tokens_are_401(
    tv_api: tuple[TestClient, LiveServer, dict[str, str]],
) -> None:
    client, server, secrets = tv_api
    assert client.get("/channels").status_code == 401
    bad = client.get("/channels", headers={"Authorization": "Bearer a.b.c"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["www-authenticate"]
    opaque = _opaque(server, "tv-partner", secrets["tv-partner"])
    httpx.get(f"{server.base_url}/oauth/v2/logout", headers={"Authorization": f"Bearer {opaque}"})
    gone = client.get("/channels", headers={"Authorization": f"Bearer {opaque}"})
    assert gone.status_code == 401


def test_a_token_without_the_scope_is_403(
    tv_api: tuple[TestClient, LiveServer, dict[str, str]],
) -> None:
    client, server, secrets = tv_api
    token = _jwt(server, "tv-api", secrets["tv-api"])
    response = client.get("/channels", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
