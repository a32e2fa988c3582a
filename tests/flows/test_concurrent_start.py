"""Several `idplus serve` processes, one of them with four workers, start together on an empty
PostgreSQL database: every worker comes up, none logs an error (the first-start inserts race)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.live_server import _free_port, _wait_until_ready

pytestmark = pytest.mark.postgres


def _serve(env: dict[str, str], port: int, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "idplus", "serve", "--port", str(port), *extra],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip


def _started(logs: list[Path]) -> int:
    return sum(log.read_text().count('"event": "started"') for log in logs)


@pytest.mark.parametrize("round_", range(3))
def test_instances_starting_together_on_an_empty_database_all_come_up(
    empty_postgres_url: str, tmp_path: Path, round_: int
) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IDPLUS_DATABASE_URL": empty_postgres_url,
        "IDPLUS_OUTBOX": str(tmp_path / "outbox.jsonl"),
    }
    subprocess.run([sys.executable, "-m", "idplus", "db", "upgrade"], env=env, check=True,
                   capture_output=True, timeout=120)  # fmt: skip
    ports = [_free_port() for _ in range(3)]
    logs = [tmp_path / f"serve-{i}.log" for i in range(3)]
    processes = [
        _serve({**env, "IDPLUS_ISSUER": f"http://127.0.0.1:{ports[0]}"}, ports[0], logs[0],
               "--workers", "4"),
        _serve({**env, "IDPLUS_ISSUER": f"http://127.0.0.1:{ports[1]}"}, ports[1], logs[1]),
        _serve({**env, "IDPLUS_ISSUER": f"http://127.0.0.1:{ports[2]}"}, ports[2], logs[2]),
    ]  # fmt: skip
    try:
        for port, process, log in zip(ports, processes, logs, strict=True):
            _wait_until_ready(f"http://127.0.0.1:{port}", process, log)
        # Ready means one worker answers; the other three may still be starting.
        deadline = time.monotonic() + 30
        while _started(logs) < 6 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _started(logs) == 6, [log.read_text()[-2000:] for log in logs]
        for log in logs:
            text = log.read_text()
            assert "Traceback" not in text, text[-3000:]
            assert '"level": "error"' not in text, text[-3000:]
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
