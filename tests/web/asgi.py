"""Drive the whole app at the ASGI level, for what an HTTP client library cannot do: stall a
body, send one without end, or vanish in the middle of it."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
from starlette.testclient import TestClient
from starlette.types import Message

Receive = Callable[[], Awaitable[Message]]
# Only a guard against a hang on a broken server; the tests assert no durations.
HANG_GUARD_SECONDS = 10


@dataclass
class Exchange:
    sent: list[Message] = field(default_factory=list)
    receive_calls: int = 0

    @property
    def status(self) -> int | None:
        starts = [m for m in self.sent if m["type"] == "http.response.start"]
        return int(starts[0]["status"]) if starts else None

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.sent if m["type"] == "http.response.start")
        return {k.decode(): v.decode() for k, v in start["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    client: TestClient,
    path: str,
    messages: Callable[[Exchange], Awaitable[Message]],
    headers: Iterable[tuple[bytes, bytes]] = (),
    method: str = "POST",
) -> Exchange:
    """One request through `client`'s app (its lifespan already run); `messages` is `receive`."""
    exchange = Exchange()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }

    async def receive() -> Message:
        exchange.receive_calls += 1
        return await messages(exchange)

    async def send(message: Message) -> None:
        exchange.sent.append(message)

    async def run() -> None:
        with anyio.fail_after(HANG_GUARD_SECONDS):
            await client.app(scope, receive, send)

    assert client.portal is not None, "use the client inside its `with` block"
    client.portal.call(run)
    return exchange


FORM = (b"content-type", b"application/x-www-form-urlencoded")
