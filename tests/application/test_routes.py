"""Which routes answer depends on the issuer: development conveniences (the /debugger relying
party) stay off a public issuer unless asked for, and discovery is the same either way."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings

PUBLIC_ISSUER = "http://id.example.no"
DEBUGGER_REQUESTS = [
    ("GET", "/debugger"),
    ("POST", "/debugger"),
    ("GET", "/debugger/callback?code=x&state=y"),
    ("POST", "/debugger/callback"),
]


def _client(settings: Settings, clock: FrozenClock, **update: Any) -> TestClient:
    app = create_app(settings.model_copy(update=update), clock=clock)
    return TestClient(app, base_url=update.get("issuer", settings.issuer))


@pytest.mark.parametrize(("method", "path"), DEBUGGER_REQUESTS)
def test_debugger_of_a_public_issuer_is_not_found(
    settings: Settings, clock: FrozenClock, method: str, path: str
) -> None:
    with _client(settings, clock, issuer=PUBLIC_ISSUER) as client:
        assert client.request(method, path).status_code == 404


def test_debugger_of_a_public_issuer_answers_when_asked_for(
    settings: Settings, clock: FrozenClock
) -> None:
    with _client(settings, clock, issuer=PUBLIC_ISSUER, debugger=True) as client:
        assert client.get("/debugger").status_code == 200


def test_debugger_of_a_loopback_issuer_answers_by_default(client: TestClient) -> None:
    assert client.get("/debugger").status_code == 200


def test_discovery_does_not_depend_on_what_is_exposed(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    development = client.get("/.well-known/openid-configuration").json()
    with _client(settings, clock, issuer=PUBLIC_ISSUER) as public:
        published = public.get("/.well-known/openid-configuration").json()
    rebased = {
        key: value.replace(PUBLIC_ISSUER, settings.issuer) if isinstance(value, str) else value
        for key, value in published.items()
    }
    assert rebased == development
    assert "debugger" not in str(published)
    assert "metrics" not in str(published)


@pytest.mark.parametrize(
    "path",
    [
        "/connect/nothing",
        "/connect",
        "/oauth/v2/nothing",
        "/admin/api/v1/nothing",
        "/webauthn/nothing",
        "/api/meta/v2/nothing",
        "/.well-known/oauth-authorization-server",
    ],
)
def test_unknown_paths_programs_call_answer_json(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("path", ["/nothing", "/connected", "/oauth/v2x", "/account/x"])
def test_unknown_paths_people_type_answer_a_page(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Page not found" in response.text


def test_the_front_page_answers(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
