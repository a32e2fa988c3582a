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
import socket
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

from idplus.errors import ValidationError
from idplus.logs import get_logger

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = get_logger(__name__)
MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# prometheus_client's own files (`counter_<pid>.db`, …): nothing else in the directory is ours.
PROMETHEUS_FILES = ("counter_*.db", "histogram_*.db", "gauge_*.db", "summary_*.db")
# Our private directories carry the server's pid, so a later start can sweep a killed one's.
TEMPORARY_PREFIX = "idplus-metrics-"
# A scraper that opens a connection and sends nothing does not keep a thread for ever.
SCRAPE_TIMEOUT_SECONDS = 10


def multiprocess_directory() -> Path | None:
    """The directory every worker of this server counts into, when there are several."""
    named = os.environ.get(MULTIPROCESS_DIRECTORY)
    return Path(named) if named else None


@contextmanager
def shared_across_workers() -> Iterator[Path]:
    """Names a directory for the workers' counters while the block runs.

    An operator's own PROMETHEUS_MULTIPROC_DIR is used (created if missing; prometheus_client's
    files in it removed, as a new server's counters start at zero); otherwise a private
    temporary directory, removed afterwards. Raises ValidationError when it cannot be written.
    """
    named = multiprocess_directory()
    directory = _prepared(named) if named is not None else _private_directory()
    os.environ[MULTIPROCESS_DIRECTORY] = str(directory)
    previous_values = _count_into_files()
    # uvicorn hands a SIGTERM back to the handler it found once it has shut down gracefully:
    # with the default one the process would die here without cleaning up.
    previous_handler = signal.signal(signal.SIGTERM, _exit_quietly)
    try:
        yield directory
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        _restore_values(previous_values)
        if named is None:
            os.environ.pop(MULTIPROCESS_DIRECTORY, None)
            shutil.rmtree(directory, ignore_errors=True)


def _prepared(directory: Path) -> Path:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for pattern in PROMETHEUS_FILES:
            for stale in directory.glob(pattern):
                stale.unlink()
        probe = directory / f".idplus-write-check-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ValidationError(
            f"{MULTIPROCESS_DIRECTORY}={directory} cannot hold the workers' metrics: {error}"
        ) from None
    return directory


def _private_directory() -> Path:
    temporary = Path(tempfile.gettempdir())
    for left in temporary.glob(f"{TEMPORARY_PREFIX}*-*"):
        if not _process_alive(left.name.removeprefix(TEMPORARY_PREFIX).split("-", 1)[0]):
            shutil.rmtree(left, ignore_errors=True)
    try:
        return Path(tempfile.mkdtemp(prefix=f"{TEMPORARY_PREFIX}{os.getpid()}-"))
    except OSError as error:
        raise ValidationError(
            f"no directory for the workers' metrics in {temporary} ({error}); "
            f"set {MULTIPROCESS_DIRECTORY} to a writable one"
        ) from None


def _process_alive(pid: str) -> bool:
    if not pid.isdigit():
        return True  # Not one of ours: leave it.
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _exit_quietly(_signal: int, _frame: object) -> None:
    raise SystemExit(0)


def _count_into_files() -> Any:
    """prometheus_client picks where values live when first imported; a one-worker server runs
    in this process, so a copy imported earlier must pick again before any metric exists.
    Returns what to restore afterwards (None when nothing was changed)."""
    if "prometheus_client.values" not in sys.modules:
        return None
    from prometheus_client import values

    previous = values.ValueClass
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]
    return previous


def _restore_values(previous: Any) -> None:
    if previous is not None:
        from prometheus_client import values

        values.ValueClass = previous


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
        server_class = _Ipv6Server if ":" in host else ThreadingHTTPServer
        self._server = server_class((host, port), _handler(token))
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


class _Ipv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def _handler(token: str | None) -> type[BaseHTTPRequestHandler]:
    from prometheus_client import CollectorRegistry

    # Only this server's workers: multiprocess mode names their directory before the port opens.
    nothing_else = CollectorRegistry()

    class MetricsRequest(BaseHTTPRequestHandler):
        server_version = "idplus"
        sys_version = ""
        timeout = SCRAPE_TIMEOUT_SECONDS

        def do_GET(self) -> None:
            if self.path.split("?", 1)[0] != "/metrics":
                self._answer(404, b"not found\n")
            elif token and not bearer_matches(self.headers.get("Authorization"), token):
                self._answer(401, b"", {"WWW-Authenticate": 'Bearer realm="idplus"'})
            else:
                self._scrape()

        def do_POST(self) -> None:
            self._answer(405, b"", {"Allow": "GET"})

        do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

        def _scrape(self) -> None:
            try:
                body = scrape(nothing_else)
            except Exception:
                log.exception("metrics_scrape_failed")
                self._answer(500, b"metrics unavailable\n")
                return
            self._answer(200, body, {"Content-Type": CONTENT_TYPE})

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
