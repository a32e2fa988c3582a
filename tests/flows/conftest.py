"""A real `idplus serve` process on a free loopback port, over its own fresh database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
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


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[LiveServer]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IDPLUS_ISSUER": base_url,
        "IDPLUS_DATABASE_URL": f"sqlite:///{tmp_path / 'var' / 'idplus.db'}",
        "IDPLUS_OUTBOX": str(tmp_path / "var" / "outbox.jsonl"),
        "IDPLUS_KEY_CACHE_SECONDS": "1",
    }
    server = LiveServer(base_url, env, tmp_path / "server.log", seed={})
    server.idplus("db", "upgrade")
    server.seed = server.idplus("demo", "seed")
    with server.log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "idplus", "serve", "--port", str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            _wait_until_ready(base_url, process, server.log_path)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=15)
