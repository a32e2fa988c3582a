"""Serving Prometheus metrics: one process or many, on the public port or a private one.

Under `idplus serve --workers N` every worker counts into its own memory-mapped files in one
directory (prometheus_client's multiprocess mode) and any of them, or the metrics port, sums all
of them; otherwise a scrape would see only the worker that happened to answer. The directory
must be named before prometheus_client is first imported in a worker: `idplus serve` names it
before uvicorn starts or spawns anything.
"""

from __future__ import annotations

import hmac
import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_directory() -> Path | None:
    """The directory every worker of this server counts into, when there are several."""
    named = os.environ.get(MULTIPROCESS_DIRECTORY)
    return Path(named) if named else None


@contextmanager
def shared_across_workers() -> Iterator[Path]:
    """Names a directory for the workers' counters while the block runs.

    An operator's own PROMETHEUS_MULTIPROC_DIR is used (and emptied, as a new server's counters
    start at zero); otherwise a private temporary directory, removed afterwards.
    """
    named = multiprocess_directory()
    directory = named or Path(tempfile.mkdtemp(prefix="idplus-metrics-"))
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROCESS_DIRECTORY] = str(directory)
    _count_into_files_from_now_on()
    # uvicorn hands a SIGTERM back to the handler it found once it has shut down gracefully:
    # with the default one the process would die here without cleaning up.
    previous = signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        yield directory
    finally:
        signal.signal(signal.SIGTERM, previous)
        if named is None:
            os.environ.pop(MULTIPROCESS_DIRECTORY, None)
            shutil.rmtree(directory, ignore_errors=True)


def _exit_quietly(_signal: int, _frame: object) -> None:
    raise SystemExit(0)


def _count_into_files_from_now_on() -> None:
    """prometheus_client picks where values live when first imported; a one-worker server runs
    in this process, so a copy imported earlier must pick again before any metric exists."""
    import sys

    if "prometheus_client.values" in sys.modules:
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def scrape(registry: CollectorRegistry) -> bytes:
    """The text exposition of `registry`, or of every worker's counters in multiprocess mode."""
    from prometheus_client import CollectorRegistry, generate_latest, multiprocess

    directory = multiprocess_directory()
    if directory is None:
        return generate_latest(registry)
    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined, path=str(directory))  # type: ignore[no-untyped-call]
    return generate_latest(combined)


def bearer_matches(authorization: str | None, expected: str) -> bool:
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        presented.strip().encode(), expected.encode()
    )


class MetricsPort:
    """GET /metrics on a port of its own (IDPLUS_METRICS_PORT), for a scraper inside the
    network: nothing else is served there, and the token, when one is set, is still required."""

    def __init__(self, host: str, port: int, token: str | None) -> None:
        self._server = ThreadingHTTPServer((host, port), _handler(token))
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="idplus-metrics-port", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def __enter__(self) -> MetricsPort:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(token: str | None) -> type[BaseHTTPRequestHandler]:
    from prometheus_client import CollectorRegistry

    # Only this server's workers: multiprocess mode names their directory before the port opens.
    nothing_else = CollectorRegistry()

    class MetricsRequest(BaseHTTPRequestHandler):
        server_version = "idplus"
        sys_version = ""

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found\n")
            elif token and not bearer_matches(self.headers.get("Authorization"), token):
                self._answer(401, b"", {"WWW-Authenticate": 'Bearer realm="idplus"'})
            else:
                self._answer(200, scrape(nothing_else), {"Content-Type": CONTENT_TYPE})

        def do_POST(self) -> None:
            self._answer(405, b"", {"Allow": "GET"})

        do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

        def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in {"Cache-Control": "no-store", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Scrapes every few seconds would drown the JSON log."""

    return MetricsRequest
