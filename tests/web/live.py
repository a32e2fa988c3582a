"""Real `idplus serve` processes with settings of the test's choosing, and raw HTTP/1.1 on a
socket for what an HTTP client will not send (a body it never finishes, a lie about its size)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from tests.live_server import LiveServer, run_live_server

# Guards against a server that never answers; no test asserts a duration.
GUARD_SECONDS = 15
T = TypeVar("T")


@contextmanager
def serving(tmp_path: Path, **settings: str) -> Iterator[LiveServer]:
    """`idplus serve` over a fresh database, with IDPLUS_<NAME> set from `settings`."""
    yield from run_live_server(tmp_path, **settings)


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(base_url: str, data: bytes) -> RawResponse:
    """Send `data` as is, then read until the server closes the connection."""
    with _connect(base_url) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return RawResponse(int(status_line.split()[1]), headers, body)


def send_and_vanish(base_url: str, data: bytes) -> None:
    """Send `data` (a request cut short) and close the connection without reading."""
    with _connect(base_url) as sock:
        sock.sendall(data)


def _connect(base_url: str) -> socket.socket:
    url = urlsplit(base_url)
    return socket.create_connection((url.hostname, url.port), timeout=GUARD_SECONDS)


def request_head(path: str, *headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *headers, "", ""]
    return "\r\n".join(lines).encode()


def eventually(probe: Callable[[], T | None]) -> T:
    """Poll until `probe` returns something: the server logs and counts after it answers."""
    deadline = time.monotonic() + GUARD_SECONDS
    while time.monotonic() < deadline:
        found = probe()
        if found is not None:
            return found
        time.sleep(0.05)
    raise AssertionError("the server never got there")


def log_events(server: LiveServer) -> list[dict[str, Any]]:
    events = []
    for line in server.log_path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return events
