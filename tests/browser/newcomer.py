"""`make run` as a newcomer types it, on a port that is not the default, in its own files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.live_server import _free_port, _wait_until_ready

REPOSITORY = Path(__file__).parents[2]


@dataclass
class MadeRun:
    base_url: str
    outbox_path: Path
    output_path: Path

    def output(self) -> str:
        return self.output_path.read_text()

    def last_code(self) -> str:
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
        # A stale install stamp makes `make run` install first (about a minute).
        _wait_until_ready(made.base_url, process, output, seconds=240)
        yield made
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
