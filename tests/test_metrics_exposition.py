"""Metrics under `idplus serve`: summed over every worker (Prometheus multiprocess mode), and
on IDPLUS_METRICS_PORT alone when one is set. Real server processes; nothing is mocked."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from idplus.errors import ValidationError
from idplus.metrics_exposition import (
    MULTIPROCESS_DIRECTORY,
    MetricsPort,
    shared_across_workers,
)
from tests.live_server import _free_port, _wait_until_ready

SCRAPE_TOKEN = "scrape-token-of-decent-length"
REQUESTS = 60


@contextmanager
def _served(tmp_path: Path, *serve_args: str, **settings: str) -> Iterator[str]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IDPLUS_ISSUER": base_url,
        "IDPLUS_DATABASE_URL": f"sqlite:///{tmp_path / 'idplus.db'}",
        "IDPLUS_OUTBOX": str(tmp_path / "outbox.jsonl"),
        **{f"IDPLUS_{name.upper()}": value for name, value in settings.items()},
    }
    subprocess.run([sys.executable, "-m", "idplus", "db", "upgrade"], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "idplus", "serve", "--port", str(port), *serve_args],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_ready(base_url, process, log)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()


def _healthz_requests(metrics_text: str) -> float:
    for family in text_string_to_metric_families(metrics_text):
        if family.name == "idplus_http_requests":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name == "idplus_http_requests_total"
                and sample.labels["route"] == "/healthz"
            )
    return 0.0


def _ask_every_worker(base_url: str) -> None:
    """A new connection per request, so that the kernel spreads them over the workers."""
    for _ in range(REQUESTS):
        assert httpx.get(f"{base_url}/healthz", headers={"Connection": "close"}).status_code == 200


def test_metrics_of_several_workers_count_every_request_whichever_worker_answers(
    tmp_path: Path,
) -> None:
    with _served(tmp_path, "--workers", "2") as base_url:
        _ask_every_worker(base_url)
        scrapes = [httpx.get(f"{base_url}/metrics").text for _ in range(6)]

    # Each scrape is answered by one worker and still counts all of them.
    assert {_healthz_requests(text) for text in scrapes} == {REQUESTS}


def test_metrics_port_serves_metrics_and_the_public_port_does_not(tmp_path: Path) -> None:
    metrics_port = _free_port()
    with _served(tmp_path, "--workers", "2", metrics_port=str(metrics_port)) as base_url:
        _ask_every_worker(base_url)
        public = httpx.get(f"{base_url}/metrics")
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics")
        elsewhere = httpx.get(f"http://127.0.0.1:{metrics_port}/healthz")
        posted = httpx.post(f"http://127.0.0.1:{metrics_port}/metrics")

    assert public.status_code == 404
    assert "idplus_http_requests" not in public.text
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert _healthz_requests(scraped.text) == REQUESTS
    assert elsewhere.status_code == 404
    assert posted.status_code == 405


def test_metrics_port_of_one_worker_requires_the_token_when_one_is_set(tmp_path: Path) -> None:
    metrics_port = _free_port()
    with _served(tmp_path, metrics_port=str(metrics_port), metrics_token=SCRAPE_TOKEN) as base_url:
        httpx.get(f"{base_url}/healthz")
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        anonymous = httpx.get(url)
        wrong = httpx.get(url, headers={"Authorization": "Bearer not-the-token"})
        scraped = httpx.get(url, headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})

    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert wrong.status_code == 401
    assert "idplus_http_requests" not in anonymous.text + wrong.text
    assert scraped.status_code == 200
    assert _healthz_requests(scraped.text) >= 1


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_stopped_server_leaves_no_metrics_files_behind(tmp_path: Path, workers: str) -> None:
    temporary = Path(tempfile.gettempdir())
    before = set(temporary.glob("idplus-metrics-*"))
    with _served(tmp_path, "--workers", workers, metrics_port=str(_free_port())) as base_url:
        httpx.get(f"{base_url}/healthz")
        during = set(temporary.glob("idplus-metrics-*")) - before
    assert len(during) == 1
    assert not (set(temporary.glob("idplus-metrics-*")) - before)


def test_an_operators_metrics_directory_loses_only_prometheus_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PROMETHEUS_MULTIPROC_DIR pointed at the data directory must not cost the database."""
    (tmp_path / "idplus.db").write_bytes(b"the users")
    (tmp_path / "counter_123.db").write_bytes(b"old counts")
    (tmp_path / "histogram_123.db").write_bytes(b"old counts")
    monkeypatch.setenv(MULTIPROCESS_DIRECTORY, str(tmp_path))

    with shared_across_workers() as directory:
        assert directory == tmp_path

    assert sorted(p.name for p in tmp_path.iterdir()) == ["idplus.db"]
    assert os.environ[MULTIPROCESS_DIRECTORY] == str(tmp_path)


def test_a_missing_metrics_directory_is_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MULTIPROCESS_DIRECTORY, str(tmp_path / "metrics" / "idplus"))
    with shared_across_workers() as directory:
        assert directory.is_dir()


def test_a_metrics_directory_that_cannot_be_made_stops_the_start_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(MULTIPROCESS_DIRECTORY, str(tmp_path / "a-file" / "metrics"))
    with (
        pytest.raises(ValidationError, match="cannot hold the workers' metrics"),
        shared_across_workers(),
    ):
        pass


def test_a_killed_servers_private_directory_is_swept_at_the_next_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MULTIPROCESS_DIRECTORY, raising=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    left = Path(tempfile.mkdtemp(prefix=f"idplus-metrics-{dead}-"))
    (left / "counter_1.db").write_bytes(b"")

    with shared_across_workers() as directory:
        assert directory.name.startswith(f"idplus-metrics-{os.getpid()}-")
        assert not left.exists()
    assert not directory.exists()
    assert MULTIPROCESS_DIRECTORY not in os.environ


def test_metrics_created_after_the_block_live_in_memory_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from prometheus_client import CollectorRegistry, Counter, values

    monkeypatch.delenv(MULTIPROCESS_DIRECTORY, raising=False)
    before = values.ValueClass
    with shared_across_workers():
        assert values.ValueClass is not before
    assert values.ValueClass is before
    Counter("after_the_block", "made in memory", registry=CollectorRegistry()).inc()


def test_the_metrics_port_listens_on_ipv6_loopback() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    try:
        port = MetricsPort("::1", 0, None)
    except OSError as error:
        pytest.skip(f"no IPv6 loopback here: {error}")
    with port:
        response = httpx.get(f"http://[::1]:{port.port}/metrics")
    assert response.status_code == 200
