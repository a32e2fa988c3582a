"""`make run` as a newcomer types it, on a port that is not the default, in its own files."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.live_server import _free_port

REPOSITORY = Path(__file__).parents[2]


@dataclass
class MadeRun:
    base_url: str
    outbox_path: Path
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text()

    def last_code(self) -> str:
        import json

        lines = self.outbox_path.read_text().splitlines()
        return str(json.loads(lines[-1])["code"])


def run_make_run(tmp_path: Path) -> Iterator[MadeRun]:
    port = _free_port()
    output = tmp_path / "make-run.out"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDPLUS_")},
        "IDPLUS_DATABASE_URL": f"sqlite:///{tmp_path / 'idplus.db'}",
        "IDPLUS_OUTBOX": str(tmp_path / "outbox.jsonl"),
    }
    with output.open("wb") as out:
        process = subprocess.Popen(
            ["make", "--no-print-directory", "run", f"PORT={port}"],
            cwd=REPOSITORY, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    made = MadeRun(f"http://localhost:{port}", tmp_path / "outbox.jsonl", output)
    try:
        _wait_until_ready(made, process)
        yield made
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)


def _wait_until_ready(made: MadeRun, process: subprocess.Popen[bytes]) -> None:
    # A stale install stamp makes `make run` install first (about a minute).
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"make run exited: {made.output()[-3000:]}")
        try:
            if httpx.get(f"{made.base_url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"make run did not become ready: {made.output()[-3000:]}")
