"""A relying party's back-channel logout endpoint, and bounded waits for what the outbox
worker does in the background."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import parse_qs

import sqlalchemy as sa

T = TypeVar("T")


class Receiver:
    """Records every `logout_token` posted to it and answers with `status`."""

    def __init__(self, status: int = 200, port: int = 0) -> None:
        self.tokens: list[str] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                receiver.tokens.extend(form.get("logout_token", []))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/bcl"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port() -> int:
    """A loopback port nobody listens on (yet): connections to it are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until(condition: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """Poll until `condition()` is truthy. The bound is generous (a loaded 2-core machine):
    it only stops a test that would otherwise hang, it never asserts speed."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"still waiting after {timeout} s for {what}")
        time.sleep(0.05)


def outbox_rows(database_url: str) -> list[dict[str, Any]]:
    """Every delivery's state, oldest first, read the way an operator would (no payload)."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT kind, subject, status, attempts, last_error FROM deliveries"
                    " ORDER BY created_at, id"
                )
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def pending(database_url: str) -> int:
    """How many deliveries are still to be sent."""
    return sum(row["status"] == "pending" for row in outbox_rows(database_url))
