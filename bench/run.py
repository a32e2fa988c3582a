"""`make bench`: load a real idplus process with wrk and report ratios to the RS256 sign rate.

The server runs as one worker pinned to core 0 (taskset) over a fresh SQLite database; wrk
runs pinned to core 1 on loopback. The yardstick is `openssl speed rsa2048` on core 0 in the
same run, so numbers from different machines compare as ratios.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import common
from common import (
    LOAD_CORE,
    SERVER_CORE,
    ensure_tools,
    free_port,
    idplus,
    login_for_tokens,
    post_lua,
    rs256_sign_rate,
    tree_cpu_seconds,
    wait_ready,
)


@dataclass(frozen=True)
class Scenario:
    name: str
    path: str
    # wrk Lua script (POST bodies, headers); None for a plain GET.
    lua: str | None = None
    # Ratio of the sign rate this path should reach (None: no target set yet).
    target: float | None = None


@dataclass(frozen=True)
class Result:
    scenario: Scenario
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_ms_per_request: float


def scenarios(base_url: str, seed: dict[str, Any]) -> list[Scenario]:
    web = next(c for c in seed["clients"] if c["client_id"] == "demo-web")
    basic = "Basic " + base64.b64encode(f"demo-web:{web['client_secret']}".encode()).decode()
    tokens = login_for_tokens(base_url, seed, web)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    get_with_bearer = "\n".join(
        f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in bearer.items()
    )
    refresh_body = urlencode(
        {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    )
    introspect_body = urlencode({"token": tokens["access_token"]})
    return [
        Scenario(
            "client_credentials",
            "/connect/token",
            post_lua("grant_type=client_credentials", {"Authorization": basic}),
            target=0.60,
        ),
        Scenario(
            "refresh_token",
            "/connect/token",
            post_lua(refresh_body, {"Authorization": basic}),
            0.25,
        ),
        Scenario(
            "introspection",
            "/connect/introspect",
            post_lua(introspect_body, {"Authorization": basic}),
            target=1.0,
        ),
        Scenario("userinfo", "/connect/userinfo", get_with_bearer + "\n", target=0.8),
        Scenario("jwks", "/.well-known/jwks.json"),
    ]


def run_wrk(
    base_url: str, scenario: Scenario, workdir: Path, seconds: int, connections: int
) -> tuple[int, float, float, float]:
    script = None
    if scenario.lua:
        script = workdir / f"{scenario.name}.lua"
        script.write_text(scenario.lua)
    run = common.run_wrk(base_url + scenario.path, seconds, connections, script=script)
    if run.errors:
        sys.exit(f"bench: {scenario.name} answered errors:\n{run.output}")
    return run.requests, run.requests_per_second, run.p50_ms, run.p99_ms


def measure(
    args: argparse.Namespace, workdir: Path, make_scenarios: Callable[..., list[Scenario]]
) -> tuple[float, list[Result]]:
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    env = dict(os.environ)
    env.update(
        {
            "IDPLUS_ISSUER": base_url,
            "IDPLUS_DATABASE_URL": args.database_url or f"sqlite:///{workdir / 'bench.db'}",
            "IDPLUS_OUTBOX": str(workdir / "outbox.jsonl"),
        }
    )
    idplus(env, "db", "upgrade")
    seed = idplus(env, "demo", "seed")
    # Shared machines drift: the yardstick is the mean of a measurement before and after.
    sign_before = rs256_sign_rate(args.openssl_seconds)
    with (workdir / "server.log").open("wb") as log:
        server = subprocess.Popen(
            ["taskset", "-c", args.server_cores, sys.executable, "-m", "idplus", "serve",
             "--port", str(port), "--workers", str(args.workers)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_ready(base_url, server)
            results = [
                _measure_one(base_url, scenario, workdir, args, server.pid)
                for scenario in make_scenarios(base_url, seed)
                if not args.only or scenario.name in args.only
            ]
        finally:
            server.terminate()
            server.wait(timeout=15)
    sign_after = rs256_sign_rate(args.openssl_seconds)
    print(f"RS256 sign rate before / after the load: {sign_before:,.0f}/s / {sign_after:,.0f}/s")
    return (sign_before + sign_after) / 2, results


def _measure_one(
    base_url: str, scenario: Scenario, workdir: Path, args: argparse.Namespace, pid: int
) -> Result:
    run_wrk(base_url, scenario, workdir, 2, args.connections)  # warm-up
    before = tree_cpu_seconds(pid)
    requests, rps, p50, p99 = run_wrk(base_url, scenario, workdir, args.seconds, args.connections)
    cpu = tree_cpu_seconds(pid) - before
    return Result(scenario, rps, p50, p99, 1000 * cpu / max(requests, 1))


def print_table(sign_rate: float, results: list[Result], args: argparse.Namespace) -> None:
    print(f"\nRS256 sign rate, one core (openssl speed rsa2048, mean): {sign_rate:,.0f}/s")
    load = f"wrk on core {LOAD_CORE}, {args.connections} connections, {args.seconds} s"
    print(f"idplus: {args.workers} worker(s) on core(s) {args.server_cores}; {load}\n")
    header = f"{'path':<20}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU ms/req':>12}"
    print(header + f"{'ratio':>8}{'target':>8}")
    for r in results:
        ratio = r.requests_per_second / sign_rate
        target = f"{r.scenario.target:.2f}" if r.scenario.target is not None else "-"
        mark = "" if r.scenario.target is None or ratio >= r.scenario.target else "  below"
        print(
            f"{r.scenario.name:<20}{r.requests_per_second:>10,.0f}{r.p50_ms:>9.2f}"
            f"{r.p99_ms:>9.2f}{r.cpu_ms_per_request:>12.3f}{ratio:>8.2f}{target:>8}{mark}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--server-cores",
        default=SERVER_CORE,
        help="taskset core list for the server (e.g. 0,1 with --workers 2; wrk stays on core 1)",
    )
    parser.add_argument("--openssl-seconds", type=int, default=3)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--only", nargs="*", help="scenario names to run")
    args = parser.parse_args()
    ensure_tools()
    with tempfile.TemporaryDirectory(prefix="idplus-bench-") as tmp:
        sign_rate, results = measure(args, Path(tmp), scenarios)
    print_table(sign_rate, results, args)


if __name__ == "__main__":
    main()
