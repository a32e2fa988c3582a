"""Every answer carries a request id; unexpected errors become a bare server_error."""

from __future__ import annotations

import json

import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.web.app import create_app


def test_request_id_is_generated_or_echoed(client: TestClient) -> None:
    generated = client.get("/healthz").headers["x-request-id"]
    assert len(generated) == 32
    echoed = client.get("/healthz", headers={"X-Request-ID": "rp-trace-42"})
    assert echoed.headers["x-request-id"] == "rp-trace-42"
    spoofed = client.get("/healthz", headers={"X-Request-ID": "bad id\twith junk"})
    assert spoofed.headers["x-request-id"] != "bad id\twith junk"


def test_security_headers_are_set(client: TestClient) -> None:
    headers = client.get("/healthz").headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"


def test_unexpected_error_is_a_json_500_without_traceback(
    settings: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken(_request: Request) -> Response:
        raise RuntimeError("secret internal detail")

    app = create_app(settings, clock=clock)
    app.router.routes.append(Route("/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")

    assert response.status_code == 500
    assert response.json() == {"error": "server_error", "error_description": "internal error"}
    assert "secret internal detail" not in response.text
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert any(e["event"] == "unhandled_error" and "RuntimeError" in e["exception"] for e in logged)


def test_failed_requests_are_logged_as_json_with_the_request_id(
    client: TestClient, capsys: pytest.CaptureFixture[str]
) -> None:
    client.get("/healthz", headers={"X-Request-ID": "ok-1"})
    client.get("/no-such-page", headers={"X-Request-ID": "trace-7"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    access = [e for e in lines if e.get("event") == "request"]
    assert [e["request_id"] for e in access] == ["trace-7"]
    assert access[-1]["status"] == 404


def test_every_request_is_logged_when_asked(
    settings: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"access_log": "all"}), clock=clock)
    with TestClient(app) as client:
        client.get("/healthz", headers={"X-Request-ID": "ok-1"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
    assert [e["request_id"] for e in lines if e.get("event") == "request"] == ["ok-1"]
