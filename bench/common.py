"""What the benchmarks share: the yardstick, wrk, an idplus server process, a scratch database.

`make bench` (run.py), `make bench-cluster` (flat_cost.py, cluster_scale.py) import it; each
script runs from bench/, which Python puts first on sys.path.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import psycopg

SERVER_CORE = "0"
LOAD_CORE = "1"
REPO = Path(__file__).resolve().parent.parent
REPORTS = REPO / "var" / "bench"
# wrk Lua script that sends the requests of a file, one per line, in turn.
ROTATING_REQUESTS = Path(__file__).resolve().parent / "rotating_requests.lua"
POSTGRES_ADMIN_URL = os.environ.get(
    "IDPLUS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@dataclass(frozen=True)
class WrkRun:
    """What one wrk run measured."""

    requests: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    # Answers outside 2xx/3xx, plus connect/read/write/timeout errors.
    errors: int
    output: str


@dataclass(frozen=True)
class Request:
    """One HTTP request of a rotating wrk load."""

    method: str
    path: str
    body: str = ""
    headers: tuple[tuple[str, str], ...] = ()

    def line(self) -> str:
        fields = [self.method, self.path, self.body, *(f"{k}: {v}" for k, v in self.headers)]
        if any("\t" in f or "\n" in f for f in fields):
            raise ValueError(f"a request field holds a tab or newline: {fields}")
        return "\t".join(fields)


def post_lua(body: str, headers: dict[str, str]) -> str:
    """A wrk Lua script POSTing one form body with these headers."""
    lines = ['wrk.method = "POST"', f"wrk.body = {json.dumps(body)}"]
    lines.append('wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"')
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    return "\n".join(lines) + "\n"


def form_post(path: str, form: dict[str, str], headers: dict[str, str]) -> Request:
    content_type = ("Content-Type", "application/x-www-form-urlencoded")
    return Request("POST", path, urlencode(form), (content_type, *headers.items()))


def ensure_tools(*tools: str) -> None:
    if shutil.which("wrk") is None and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=False)
    for tool in ("wrk", "taskset", "openssl", *tools):
        if shutil.which(tool) is None:
            sys.exit(f"bench: {tool} is missing (apt-get install -y wrk util-linux openssl)")


def rs256_sign_rate(seconds: int, core: str = SERVER_CORE) -> float:
    """RSA-2048 signatures per second on one core: the yardstick numbers are divided by."""
    done = subprocess.run(
        ["taskset", "-c", core, "openssl", "speed", "-seconds", str(seconds), "rsa2048"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    match = re.search(r"^rsa\s+2048 bits\s+\S+\s+\S+\s+([\d.]+)", done.stdout, re.MULTILINE)
    if match is None:
        sys.exit(f"bench: cannot read openssl speed output:\n{done.stdout}")
    return float(match.group(1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def idplus(env: dict[str, str], *argv: str) -> dict[str, Any]:
    """An `idplus` command; its JSON answer."""
    done = subprocess.run(
        [sys.executable, "-m", "idplus", *argv], env=env, capture_output=True, text=True, check=True
    )
    parsed: dict[str, Any] = json.loads(done.stdout)
    return parsed


def wait_ready(base_url: str, process: subprocess.Popen[bytes], path: str = "/readyz") -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit("bench: the server exited during start-up")
        try:
            with urllib.request.urlopen(f"{base_url}{path}", timeout=1):  # noqa: S310
                return
        except OSError:
            time.sleep(0.1)
    sys.exit("bench: the server did not become ready")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(pid: int) -> float:
    """CPU of the server and its worker processes (uvicorn forks workers for --workers > 1)."""
    total = cpu_seconds(pid)
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        for child in children.read_text().split():
            total += tree_cpu_seconds(int(child))
    return total


@contextlib.contextmanager
def serving(
    env: dict[str, str], port: int, log_path: Path, *, cores: str = SERVER_CORE, workers: int = 1
) -> Iterator[subprocess.Popen[bytes]]:
    """One `idplus serve` pinned to `cores`, ready when entered, stopped when left."""
    with log_path.open("ab") as log:
        server = subprocess.Popen(
            ["taskset", "-c", cores, sys.executable, "-m", "idplus", "serve",
             "--port", str(port), "--workers", str(workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}", server)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=15)


def login_for_tokens(base_url: str, seed: dict[str, Any], web: dict[str, str]) -> dict[str, str]:
    """Log the demo user in to demo-web through the real pages; return its token response."""
    user = seed["user"]
    callback = web["redirect_uri"]
    with httpx.Client(base_url=base_url) as http:
        query = urlencode(
            {"client_id": "demo-web", "redirect_uri": callback, "response_type": "code",
             "scope": "openid profile offline_access", "state": "bench"}
        )  # fmt: skip
        login_page = http.get(http.get(f"/connect/authorize?{query}").headers["location"])
        form = dict(
            re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', login_page.text)
        )
        form.update({"username": user["username"], "password": user["password"], "action": "login",
                     "remember_me": "on"})  # fmt: skip
        location = http.post("/login", data=form).headers["location"]
        code = parse_qs(urlsplit(location).query)["code"][0]
        answer = http.post(
            "/connect/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": callback},
            auth=("demo-web", web["client_secret"]),
        )
        answer.raise_for_status()
        tokens: dict[str, str] = answer.json()
        return tokens


def run_wrk(
    url: str,
    seconds: float,
    connections: int,
    *,
    script: Path | None = None,
    script_args: Sequence[str] = (),
    core: str = LOAD_CORE,
) -> WrkRun:
    """One wrk run (one thread, pinned to `core`); errors are counted, not fatal."""
    command = ["taskset", "-c", core, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    command += ["--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    command.append(url)
    if script_args:
        command += ["--", *script_args]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return parse_wrk(output)


def parse_wrk(output: str) -> WrkRun:
    return WrkRun(
        requests=int(_number(output, r"(\d+) requests in")),
        requests_per_second=_number(output, r"Requests/sec:\s+([\d.]+)"),
        p50_ms=latency_ms(output, "50%"),
        p99_ms=latency_ms(output, "99%"),
        max_ms=_max_latency_ms(output),
        errors=_errors(output),
        output=output,
    )


def run_requests(
    base_url: str, requests: Sequence[Request], workdir: Path, seconds: float, connections: int
) -> WrkRun:
    """wrk sending `requests` in turn (rotating_requests.lua), so that a load spreads over
    many tokens and rows rather than one."""
    listing = workdir / f"requests-{uuid.uuid4().hex[:8]}.tsv"
    listing.write_text("".join(r.line() + "\n" for r in requests))
    try:
        return run_wrk(
            base_url, seconds, connections, script=ROTATING_REQUESTS, script_args=[str(listing)]
        )
    finally:
        listing.unlink()


def _number(output: str, pattern: str) -> float:
    match = re.search(pattern, output)
    if match is None:
        sys.exit(f"bench: cannot read wrk output ({pattern}):\n{output}")
    return float(match.group(1))


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def latency_ms(output: str, percentile: str) -> float:
    match = re.search(rf"^\s+{percentile}\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
    if match is None:
        return float("nan")
    return float(match.group(1)) * _UNITS_MS[match.group(2)]


def _max_latency_ms(output: str) -> float:
    # "    Latency     1.23ms    0.45ms   12.34ms   89.00%": average, stdev, max, +/- stdev.
    match = re.search(r"^\s+Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s|m)\s", output, re.MULTILINE)
    return float(match.group(1)) * _UNITS_MS[match.group(2)] if match else float("nan")


def _errors(output: str) -> int:
    total = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non_2xx:
        total += int(non_2xx.group(1))
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sockets:
        total += sum(int(n) for n in sockets.groups())
    return total


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


@contextlib.contextmanager
def scratch_postgres_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL database of the bench's own, dropped afterwards (like tests/conftest.py)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    _admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_ADMIN_URL.rpartition('/')[0]}/{name}"
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_reason() -> str | None:
    """Why PostgreSQL cannot be used, or None."""
    try:
        with psycopg.connect(POSTGRES_ADMIN_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}".splitlines()[0]


def _admin(statement: str) -> None:
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as conn:
        conn.execute(statement.encode())


def server_env(base_url: str, database_url: str, workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "IDPLUS_ISSUER": base_url,
            "IDPLUS_DATABASE_URL": database_url,
            "IDPLUS_OUTBOX": str(workdir / "outbox.jsonl"),
        }
    )
    return env


def publish(name: str, markdown: str) -> Path:
    """Print a report and keep it in var/bench/<name>.md."""
    print(markdown)
    REPORTS.mkdir(parents=True, exist_ok=True)
    path = REPORTS / f"{name}.md"
    path.write_text(markdown)
    print(f"(written to {path.relative_to(REPO)})")
    return path


def machine_line(sign_rate: float) -> str:
    cores = os.cpu_count()
    return f"{cores} cores; RS256 sign rate of one core (openssl speed rsa2048): {sign_rate:,.0f}/s"
