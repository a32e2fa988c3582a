"""Every answer carries a request id; unexpected errors become a bare server_error; a client
that goes away is a 499, not an error; the access log names the (proxy-resolved) client."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Message

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from tests.live_server import LiveServer
from tests.web.asgi import FORM, Exchange, call
from tests.web.live import eventually, log_events, request_head, send_and_vanish, serving

FORM_HEADER = "Content-Type: application/x-www-form-urlencoded"


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


def _logged(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


@pytest.mark.parametrize("path", ["/connect/token", "/oauth/v2/token"])
def test_client_that_vanishes_mid_body_is_a_499_without_traceback(
    client: TestClient, capsys: pytest.CaptureFixture[str], path: str
) -> None:
    async def vanish(exchange: Exchange) -> Message:
        if exchange.receive_calls == 1:
            return {"type": "http.request", "body": b"grant_type=", "more_body": True}
        return {"type": "http.disconnect"}

    exchange = call(client, path, vanish, headers=[FORM, (b"content-length", b"1000")])

    assert exchange.status is None, "nobody is left to answer"
    logged = _logged(capsys)
    assert not [e for e in logged if "exception" in e or e["level"] == "error"]
    assert [e["status"] for e in logged if e.get("event") == "request"] == [499]
    counted = client.get("/metrics").text
    assert f'route="{path}",status="499"}} 1.0' in counted
    assert 'status="500"' not in counted


def test_access_log_names_the_client_address(
    settings: Settings, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(settings.model_copy(update={"access_log": "all"}), clock=clock)
    with TestClient(app) as client:
        client.get("/healthz")
    access = [e for e in _logged(capsys) if e.get("event") == "request"]
    assert [e["client"] for e in access] == ["testclient"]


def test_live_client_that_vanishes_mid_body_is_a_499(live_server: LiveServer) -> None:
    head = request_head("/connect/token", FORM_HEADER, "Content-Length: 1000")
    send_and_vanish(live_server.base_url, head + b"grant_type=cli")

    def counted() -> str | None:
        text = httpx.get(f"{live_server.base_url}/metrics").text
        return text if 'route="/connect/token",status="499"' in text else None

    assert 'route="/connect/token",status="500"' not in eventually(counted)
    log = live_server.log_path.read_text()
    assert "unhandled_error" not in log
    assert "Traceback" not in log


def _client_of_healthz(server: LiveServer, forwarded_for: str) -> str:
    request_id = uuid.uuid4().hex
    headers = {"X-Forwarded-For": forwarded_for, "X-Request-ID": request_id}
    assert httpx.get(f"{server.base_url}/healthz", headers=headers).status_code == 200

    def logged() -> str | None:
        lines = [e for e in log_events(server) if e.get("request_id") == request_id]
        return next((e["client"] for e in lines if e.get("event") == "request"), None)

    return eventually(logged)


def test_live_forwarded_for_from_a_loopback_proxy_is_believed(tmp_path: Path) -> None:
    with serving(tmp_path, access_log="all") as server:
        assert _client_of_healthz(server, "203.0.113.9") == "203.0.113.9"


def test_live_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    # The test talks from 127.0.0.1, which is not the one trusted proxy here: a spoofer.
    with serving(tmp_path, access_log="all", trusted_proxies="10.9.9.9") as server:
        assert _client_of_healthz(server, "203.0.113.9") == "127.0.0.1"
