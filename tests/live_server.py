"""A real `idplus serve` process on a free loopback port, over its own fresh database,
and a tiny relying-party callback server that records what arrives at its redirect URI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx


@dataclass
class LiveServer:
    base_url: str
    env: dict[str, str]
    log_path: Path
    seed: dict[str, Any]

    def idplus(self, *argv: str) -> Any:
        done = subprocess.run(
            [sys.executable, "-m", "idplus", *argv],
            env=self.env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        return json.loads(done.stdout)

    def outbox(self) -> list[dict[str, str]]:
        path = Path(self.env["IDPLUS_OUTBOX"])
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(
    base_url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 30
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"idplus serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"idplus serve did not become ready: {log.read_text()[-2000:]}")


class PortTaken(RuntimeError):
    """Another process bound the port between our probe and the server's bind."""


def _start(
    tmp_path: Path, settings: dict[str, str], host: str = "127.0.0.1"
) -> tuple[LiveServer, subprocess.Popen[bytes]]:
    port = _free_port(host)
    base_url = f"http://{host}:{port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IDPLUS_ISSUER": base_url,
        "IDPLUS_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'idplus.db'}",
        "IDPLUS_OUTBOX": str(tmp_path / "var" / "outbox.jsonl"),
        "IDPLUS_KEY_CACHE_SECONDS": "1",
        **{f"IDPLUS_{name.upper()}": value for name, value in settings.items()},
    }
    tmp_path.mkdir(parents=True, exist_ok=True)
    server = LiveServer(base_url, env, tmp_path / "server.log", seed={})
    server.idplus("db", "upgrade")
    server.seed = server.idplus("demo", "seed")
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "idplus", "serve", "--host", host, "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_ready(base_url, process, server.log_path)
    except RuntimeError:
        process.kill()
        process.wait(timeout=15)
        if "address already in use" in server.log_path.read_text():
            raise PortTaken(base_url) from None
        raise
    return server, process


def start_live_server(
    tmp_path: Path, settings: dict[str, str], host: str = "127.0.0.1"
) -> tuple[LiveServer, subprocess.Popen[bytes]]:
    """A served, seeded server and its process (the caller stops it); a port another process
    took between our probe and the server's bind is tried again elsewhere."""
    for attempt in range(3):
        try:
            return _start(tmp_path / f"server-{attempt}", settings, host)
        except PortTaken:
            continue
    raise RuntimeError("no free port for idplus serve after 3 attempts")


def run_live_server(
    tmp_path: Path, *, host: str = "127.0.0.1", **settings: str
) -> Iterator[LiveServer]:
    """A served, seeded server; `settings` become IDPLUS_<NAME> variables. Another loopback
    `host` (127.0.0.2) gives a second server its own cookies: browsers do not separate
    cookies by port."""
    server, process = start_live_server(tmp_path, settings, host)
    try:
        yield server
    finally:
        process.terminate()
        process.wait(timeout=15)


@dataclass
class RelyingParty:
    """Answers at /cb with a small page and keeps every query it received."""

    base_url: str
    received: list[dict[str, str]] = field(default_factory=list)

    @property
    def callback(self) -> str:
        return f"{self.base_url}/cb"


def run_relying_party() -> Iterator[RelyingParty]:
    party = RelyingParty("")

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/cb":
                self.send_error(404)
                return
            party.received.append({k: v[0] for k, v in parse_qs(url.query).items()})
            body = b"<!doctype html><title>RP</title><p id=done>back at the client</p>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    party.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield party
    finally:
        server.shutdown()
        server.server_close()
