"""INTERFACE "Running several instances": client, key and API-product changes reach every
worker within a second. Two workers of `idplus serve` cache clients for a minute here; a
client removed with the CLI is refused by both within a second, and a new one is served."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.live_server import _free_port, _wait_until_ready

SECRET = "a-service-secret-0123456789"
# New connections, so that the kernel spreads them over both workers.
REQUESTS = 40


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'idplus.db'}"
    url: str = request.getfixturevalue("empty_postgres_url")
    return url


@contextmanager
def _two_workers(tmp_path: Path, database_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IDPLUS_ISSUER": base_url,
        "IDPLUS_DATABASE_URL": database_url,
        "IDPLUS_OUTBOX": str(tmp_path / "outbox.jsonl"),
        # Far longer than the second asked for: only the registry watch can make it.
        "IDPLUS_CLIENT_CACHE_SECONDS": "60",
    }
    _idplus(env, "db", "upgrade")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "idplus", "serve", "--port", str(port), "--workers", "2"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _wait_until_ready(base_url, process, log)
        yield base_url, env
    finally:
        process.terminate()
        process.wait(timeout=30)
    assert "Traceback" not in log.read_text()


def _idplus(env: dict[str, str], *argv: str) -> None:
    subprocess.run([sys.executable, "-m", "idplus", *argv], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip


def _token_statuses(base_url: str, client_id: str) -> set[int]:
    statuses = set()
    for _ in range(REQUESTS):
        response = httpx.post(
            f"{base_url}/connect/token",
            data={"grant_type": "client_credentials"},
            auth=(client_id, SECRET),
            headers={"Connection": "close"},
        )
        statuses.add(response.status_code)
    return statuses


def _add(env: dict[str, str], client_id: str) -> None:
    _idplus(env, "client", "add", "--client-id", client_id, "--type", "Confidential",
            "--grant-type", "client_credentials", "--secret", SECRET)  # fmt: skip


def test_every_worker_honours_a_removal_and_a_registration_within_a_second(
    tmp_path: Path, database_url: str
) -> None:
    with _two_workers(tmp_path, database_url) as (base_url, env):
        _add(env, "svc")
        time.sleep(1)
        assert _token_statuses(base_url, "svc") == {200}  # both workers now hold it

        _idplus(env, "client", "remove", "svc")
        time.sleep(1)
        assert _token_statuses(base_url, "svc") == {401}

        _add(env, "svc")  # the same id again: a new client
        time.sleep(1)
        assert _token_statuses(base_url, "svc") == {200}
