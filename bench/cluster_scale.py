"""`make bench-cluster`, part 2: client_credentials and refresh_token at 1, 2 and 4 instances.

Each instance count gets a PostgreSQL database of its own and a cluster from deploy/cluster.py
(`idplus serve` instances, 1 worker each, behind HAProxy, round robin); wrk loads HAProxy.
Nothing is pinned: instances, HAProxy, PostgreSQL and wrk share the machine's cores, as they
would share a host. Reported: the median req/s of the rounds, its ratio to one instance and
to the RS256 sign rate of one core (as `make bench`), and where the CPU went per request
(the instances, PostgreSQL's backends of the database, HAProxy) with the database's
transactions and row writes per request: what the next bottleneck is.
"""

from __future__ import annotations

import argparse
import base64
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import psycopg
from common import (
    REPO,
    ensure_tools,
    login_for_tokens,
    machine_line,
    post_lua,
    postgres_reason,
    publish,
    rs256_sign_rate,
    run_wrk,
    scratch_postgres_database,
    tree_cpu_seconds,
)

sys.path.insert(0, str(REPO))
from deploy.cluster import Cluster, running_cluster

PATHS = ("client_credentials", "refresh_token")
# Sessions (logins) whose refresh tokens the refresh load rotates over.
LOGINS = 4


@dataclass(frozen=True)
class Usage:
    """CPU seconds by component and the database's counters, at one moment."""

    instances: float
    database: dict[int, float]
    balancer: float
    transactions: int
    row_writes: int


@dataclass(frozen=True)
class Measured:
    path: str
    instances: int
    requests_per_second: float
    p99_ms: float
    errors: int
    # Per request: CPU ms of the instances, of PostgreSQL, of HAProxy; commits; rows written.
    instance_cpu_ms: float
    database_cpu_ms: float
    balancer_cpu_ms: float
    transactions: float
    row_writes: float


def main() -> None:
    args = parse_args()
    reason = postgres_reason() or (
        None if shutil.which("haproxy") or Path("/usr/sbin/haproxy").exists() else "no haproxy"
    )
    if reason:
        sys.exit(f"bench: {reason}")
    ensure_tools()
    sign_before = rs256_sign_rate(args.openssl_seconds)
    results: list[Measured] = []
    with tempfile.TemporaryDirectory(prefix="idplus-cluster-scale-") as tmp:
        for count in args.instances:
            results += measure_cluster(count, args, Path(tmp) / str(count))
    sign_rate = (sign_before + rs256_sign_rate(args.openssl_seconds)) / 2
    publish("cluster_scale", render(results, args, sign_rate))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--instances",
        type=lambda text: sorted(int(n) for n in text.split(",")),
        default=[1, 2, 4],
        help="instance counts, comma separated (default 1,2,4)",
    )
    parser.add_argument("--seconds", type=int, default=5, help="per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--openssl-seconds", type=int, default=3)
    return parser.parse_args()


def measure_cluster(count: int, args: argparse.Namespace, workdir: Path) -> list[Measured]:
    print(f"\n== {count} instance(s)", flush=True)
    with (
        scratch_postgres_database("idplus_bench_scale") as database_url,
        running_cluster(workdir, database_url, instances=count, workers=1) as cluster,
    ):
        scripts = write_scripts(cluster, workdir)
        measured = []
        for path in PATHS:
            run_wrk(cluster.url + "/connect/token", 2, args.connections, script=scripts[path],
                    core=_all_cores())  # fmt: skip
        runs: dict[str, list[Measured]] = {path: [] for path in PATHS}
        for _ in range(args.rounds):
            for path in PATHS:
                runs[path].append(measure_path(cluster, path, count, scripts[path], args))
        for path, rounds in runs.items():
            middle = sorted(rounds, key=lambda m: m.requests_per_second)[len(rounds) // 2]
            measured.append(middle)
            print(f"{path:<20}{middle.requests_per_second:>9,.0f} req/s", flush=True)
    return measured


def write_scripts(cluster: Cluster, workdir: Path) -> dict[str, Path]:
    web = next(c for c in cluster.seed["clients"] if c["client_id"] == "demo-web")
    basic = "Basic " + base64.b64encode(f"demo-web:{web['client_secret']}".encode()).decode()
    tokens = [login_for_tokens(cluster.url, cluster.seed, web) for _ in range(LOGINS)]
    # Each login's token in turn: requests read sessions of their own, not one row.
    bodies = [
        urlencode({"grant_type": "refresh_token", "refresh_token": t["refresh_token"]})
        for t in tokens
    ]
    refresh = post_lua(bodies[0], {"Authorization": basic}) + _rotating_bodies(bodies)
    scripts = {
        "client_credentials": post_lua("grant_type=client_credentials", {"Authorization": basic}),
        "refresh_token": refresh,
    }
    paths = {}
    for name, lua in scripts.items():
        paths[name] = workdir / f"{name}.lua"
        paths[name].write_text(lua)
    return paths


def _rotating_bodies(bodies: list[str]) -> str:
    quoted = ", ".join(f'"{b}"' for b in bodies)
    return (
        f"local bodies = {{{quoted}}}\nlocal turn = 0\n"
        "request = function()\n  turn = turn % #bodies + 1\n"
        "  return wrk.format(nil, nil, nil, bodies[turn])\nend\n"
    )


def measure_path(
    cluster: Cluster, path: str, count: int, script: Path, args: argparse.Namespace
) -> Measured:
    before = usage(cluster)
    run = run_wrk(
        cluster.url + "/connect/token", args.seconds, args.connections, script=script,
        core=_all_cores(),
    )  # fmt: skip
    after = usage(cluster)
    requests = max(run.requests, 1)
    # A backend the pool opened during the run spent all its CPU in it.
    database_cpu = sum(cpu - before.database.get(pid, 0.0) for pid, cpu in after.database.items())
    return Measured(
        path=path,
        instances=count,
        requests_per_second=run.requests_per_second,
        p99_ms=run.p99_ms,
        errors=run.errors,
        instance_cpu_ms=1000 * (after.instances - before.instances) / requests,
        database_cpu_ms=1000 * database_cpu / requests,
        balancer_cpu_ms=1000 * (after.balancer - before.balancer) / requests,
        transactions=(after.transactions - before.transactions) / requests,
        row_writes=(after.row_writes - before.row_writes) / requests,
    )


def usage(cluster: Cluster) -> Usage:
    instances = sum(tree_cpu_seconds(i.process.pid) for i in cluster.instances if i.process)
    balancer = cluster.balancer.process
    with psycopg.connect(cluster.database_url, autocommit=True) as conn:
        backends = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
        # Counters are flushed by the backends at the end of their transactions.
        counters = conn.execute(
            "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted"
            " FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    database = {}
    for (pid,) in backends:
        try:
            database[int(pid)] = tree_cpu_seconds(int(pid))
        except FileNotFoundError:
            continue
    return Usage(
        instances=instances,
        database=database,
        balancer=tree_cpu_seconds(balancer.pid) if balancer else 0.0,
        transactions=int(counters[0]) if counters else 0,
        row_writes=int(counters[1]) if counters else 0,
    )


def _all_cores() -> str:
    return f"0-{(os.cpu_count() or 1) - 1}"


def render(results: list[Measured], args: argparse.Namespace, sign_rate: float) -> str:
    lines = [
        "### Throughput at 1, 2 and 4 instances (PostgreSQL, HAProxy)",
        "",
        f"{machine_line(sign_rate)}. Each instance: `idplus serve`, 1 worker; HAProxy round "
        f"robin; wrk (1 thread, {args.connections} connections, {args.seconds} s × "
        f"{args.rounds} rounds, median) on the same machine; nothing pinned. CPU and database "
        "columns are per request (PostgreSQL: the backends of the bench's database).",
        "",
        "| path | instances | req/s | vs 1 instance | / sign rate | p99 ms | errors "
        "| idplus CPU ms | PostgreSQL CPU ms | HAProxy CPU ms | commits | rows written |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for path in PATHS:
        rows = [r for r in results if r.path == path]
        base = rows[0].requests_per_second
        for r in rows:
            lines.append(
                f"| {path} | {r.instances} | {r.requests_per_second:,.0f} | "
                f"{r.requests_per_second / base:.2f} | {r.requests_per_second / sign_rate:.2f} | "
                f"{r.p99_ms:.1f} | {r.errors} | {r.instance_cpu_ms:.2f} | "
                f"{r.database_cpu_ms:.2f} | {r.balancer_cpu_ms:.2f} | {r.transactions:.2f} | "
                f"{r.row_writes:.2f} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
