"""Graceful shutdown (issue 21 §3): SIGTERM stops `idplus serve` taking connections at once,
lets the requests already in flight finish, and exits 0 by itself. Behind HAProxy, an
instance stopped this way under load costs no request: HAProxy sends new ones to the other."""

from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
from deploy.cluster import Cluster
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.flows.cluster import cluster_on
from tests.live_server import LiveServer, start_live_server
from tests.outbound.receiver import wait_until

# Far more than the pause between the two halves of the body below: only the shutdown is
# tested, not the slow-body limit (408).
SETTINGS = {"body_timeout_seconds": "30"}
# How long a stopped process may take to exit by itself: generous for a loaded machine.
EXIT_SECONDS = 20


@contextmanager
def _serving(tmp_path: Path) -> Iterator[tuple[LiveServer, subprocess.Popen[bytes]]]:
    """A seeded `idplus serve` and its process, which the test stops itself."""
    server, process = start_live_server(tmp_path, SETTINGS)
    try:
        yield server, process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=15)


def _demo_web(seed: dict[str, object]) -> tuple[str, str]:
    clients = seed["clients"]
    assert isinstance(clients, list)
    (web,) = [client for client in clients if client["client_id"] == "demo-web"]
    return web["client_id"], web["client_secret"]


def _send_headers(
    address: tuple[str, int], credentials: tuple[str, str], length: int
) -> socket.socket:
    """A token request's head. `Expect: 100-continue` makes the server say when the endpoint
    starts reading the body: from then on the request is in flight inside the application."""
    basic = base64.b64encode(":".join(credentials).encode()).decode()
    head = (
        "POST /connect/token HTTP/1.1\r\n"
        f"Host: {address[0]}:{address[1]}\r\n"
        f"Authorization: Basic {basic}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n"
        "Expect: 100-continue\r\n\r\n"
    )
    sock = socket.create_connection(address, timeout=30)
    sock.sendall(head.encode())
    interim = _read_until(sock, b"\r\n\r\n")
    assert interim.startswith(b"HTTP/1.1 100"), interim
    return sock


def _read_until(sock: socket.socket, end: bytes | None) -> bytes:
    """What arrives until `end` has, or (None) until the server closes the connection."""
    data = b""
    while end is None or end not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def _refuses_connections(address: tuple[str, int]) -> bool:
    try:
        socket.create_connection(address, timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_finishes_a_request_in_flight_refuses_new_ones_and_exits_0(
    tmp_path: Path,
) -> None:
    with _serving(tmp_path) as (server, process):
        url = urlsplit(server.base_url)
        address = (url.hostname or "127.0.0.1", url.port or 80)
        jwks = KeySet.import_key_set(httpx.get(f"{server.base_url}/.well-known/jwks.json").json())
        body = urlencode({"grant_type": "client_credentials"}).encode()
        sock = _send_headers(address, _demo_web(server.seed), len(body))
        with sock:
            sock.sendall(body[:10])
            process.send_signal(signal.SIGTERM)
            wait_until(lambda: _refuses_connections(address), "new connections refused", 10)
            assert process.poll() is None  # still finishing the request in flight
            sock.sendall(body[10:])
            answer = _read_until(sock, None)  # the whole answer: the server closes after it
        assert process.wait(timeout=EXIT_SECONDS) == 0
    head, _, payload = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), answer[:500]
    access_token = json.loads(payload)["access_token"]
    claims = jwt.decode(access_token, jwks).claims
    assert (claims["iss"], claims["client_id"]) == (server.base_url, "demo-web")
    log = server.log_path.read_text()
    assert "Application shutdown complete." in log and "Traceback" not in log, log[-3000:]


class TokenLoop:
    """Threads asking HAProxy for client_credentials tokens one after another, each on its
    own connection, until stopped; what each request ended in (a status or an error)."""

    def __init__(self, cluster: Cluster, threads: int = 2) -> None:
        self.outcomes: list[str] = []
        self._url = f"{cluster.url}/connect/token"
        self._credentials = _demo_web(cluster.seed)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                response = httpx.post(
                    self._url, data={"grant_type": "client_credentials"},
                    auth=self._credentials, timeout=30,
                )  # fmt: skip
                self.outcomes.append(str(response.status_code))
            except httpx.HTTPError as error:
                self.outcomes.append(type(error).__name__)

    def stop(self) -> list[str]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        return self.outcomes


@pytest.mark.postgres
def test_an_instance_stopped_with_sigterm_under_load_fails_no_request(
    tmp_path: Path, empty_postgres_url: str
) -> None:
    with cluster_on(tmp_path, empty_postgres_url, instances=2) as cluster:
        stopped = cluster.instances[0]
        loop = TokenLoop(cluster)
        try:
            wait_until(lambda: len(loop.outcomes) >= 20, "requests before the stop")
            stopped.signal(signal.SIGTERM)
            assert stopped.process is not None
            assert stopped.process.wait(timeout=EXIT_SECONDS) == 0
            cluster.balancer.wait_for_states({stopped.name: "DOWN"})
            after = len(loop.outcomes)
            wait_until(lambda: len(loop.outcomes) >= after + 20, "requests after the stop")
        finally:
            outcomes = loop.stop()
        log = stopped.log_path.read_text()
    assert set(outcomes) == {"200"}, outcomes
    assert "Application shutdown complete." in log, log[-3000:]
    assert "Finished server process" in log, log[-3000:]
