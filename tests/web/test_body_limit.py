"""Request bodies are bounded in size (413) and in time (408) before any endpoint buffers them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from starlette.testclient import TestClient
from starlette.types import Message

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from tests.live_server import LiveServer
from tests.web.asgi import FORM, Exchange, call
from tests.web.live import raw_request, request_head, serving

PATHS = ["/connect/token", "/oauth/v2/token"]
FORM_HEADER = "Content-Type: application/x-www-form-urlencoded"


def _assert_refusal(path: str, status: int, headers: dict[str, str], body: Any) -> None:
    assert status in (408, 413)
    assert headers["cache-control"] == "no-store"
    assert headers["connection"] == "close"
    assert body["error"]
    assert body["error_description"]
    if path.startswith("/oauth/v2/"):
        assert body["error_code"] == 2
    else:
        assert body["error"] == "invalid_request"


async def _never_read(_exchange: Exchange) -> Message:
    raise AssertionError("the body was read")


@pytest.mark.parametrize("path", PATHS)
def test_declared_oversized_body_is_refused_unread(client: TestClient, path: str) -> None:
    length = str(300 * 1024 * 1024).encode()
    exchange = call(client, path, _never_read, headers=[FORM, (b"content-length", length)])

    assert exchange.status == 413
    assert exchange.receive_calls == 0
    _assert_refusal(path, 413, exchange.headers, exchange.json())


@pytest.mark.parametrize("path", PATHS)
def test_oversized_form_is_refused_with_413(
    client: TestClient, settings: Settings, path: str
) -> None:
    form = b"grant_type=client_credentials&pad=" + b"x" * settings.max_body_bytes
    response = client.post(path, content=form, headers={"Content-Type": FORM[1].decode()})

    assert response.status_code == 413
    _assert_refusal(path, 413, dict(response.headers), response.json())


@pytest.mark.parametrize("path", PATHS)
def test_chunked_body_over_the_cap_is_refused(
    client: TestClient, settings: Settings, path: str
) -> None:
    def chunks() -> Iterator[bytes]:
        yield b"grant_type=client_credentials&pad="
        yield b"x" * settings.max_body_bytes

    response = client.post(path, content=chunks(), headers={"Content-Type": FORM[1].decode()})

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert response.status_code == 413
    _assert_refusal(path, 413, dict(response.headers), response.json())


def test_endless_body_is_not_read_past_the_cap(client: TestClient, settings: Settings) -> None:
    chunk = b"x" * 4096

    async def endless(exchange: Exchange) -> Message:
        if exchange.receive_calls > 10 * settings.max_body_bytes // len(chunk):
            raise AssertionError("read far past the cap")
        return {"type": "http.request", "body": chunk, "more_body": True}

    headers = [FORM, (b"transfer-encoding", b"chunked")]
    exchange = call(client, "/connect/token", endless, headers=headers)

    assert exchange.status == 413
    assert exchange.receive_calls == settings.max_body_bytes // len(chunk) + 1


def test_body_at_the_cap_reaches_the_endpoint(client: TestClient, settings: Settings) -> None:
    form = b"grant_type=nonsense&pad="
    form += b"x" * (settings.max_body_bytes - len(form))
    response = client.post(
        "/connect/token", content=form, headers={"Content-Type": FORM[1].decode()}
    )
    assert response.status_code == 400
    assert response.json()["error"] != "invalid_request" or "large" not in response.text


@pytest.mark.parametrize("path", PATHS)
def test_slowloris_body_is_cut_off_with_408(
    settings: Settings, clock: FrozenClock, path: str
) -> None:
    async def stall(exchange: Exchange) -> Message:
        if exchange.receive_calls == 1:
            return {"type": "http.request", "body": b"grant_type=", "more_body": True}
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    app = create_app(settings.model_copy(update={"body_timeout_seconds": 0.05}), clock=clock)
    with TestClient(app) as client:
        headers = [FORM, (b"content-length", b"1000")]
        exchange = call(client, path, stall, headers=headers)

    assert exchange.status == 408
    _assert_refusal(path, 408, exchange.headers, exchange.json())


def test_live_300mb_declared_body_is_refused_unread(live_server: LiveServer) -> None:
    # Headers only: the answer can only come from a server that did not wait for the body.
    head = request_head("/connect/token", FORM_HEADER, f"Content-Length: {300 * 1024 * 1024}")
    response = raw_request(live_server.base_url, head)

    assert response.status == 413
    _assert_refusal("/connect/token", 413, response.headers, response.json())


def test_live_chunked_body_over_the_cap_is_refused(live_server: LiveServer) -> None:
    # One byte over the cap, and the chunk left unfinished: a server that reads on waits forever.
    chunk = b"x" * (64 * 1024 + 1)
    head = request_head("/oauth/v2/token", FORM_HEADER, "Transfer-Encoding: chunked")
    response = raw_request(live_server.base_url, head + b"%x\r\n" % len(chunk) + chunk)

    assert response.status == 413
    _assert_refusal("/oauth/v2/token", 413, response.headers, response.json())


def test_live_slowloris_body_is_cut_off_with_408(tmp_path: Path) -> None:
    # 1000 bytes promised, 11 sent, then silence: a server without a deadline waits forever.
    head = request_head("/connect/token", FORM_HEADER, "Content-Length: 1000")
    with serving(tmp_path, body_timeout_seconds="0.5") as server:
        response = raw_request(server.base_url, head + b"grant_type=")

    assert response.status == 408
    _assert_refusal("/connect/token", 408, response.headers, response.json())
