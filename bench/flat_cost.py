"""`make bench-cluster`, part 1: does a request cost the same with 10^3 or 10^6 rows stored?

For each size a PostgreSQL database of its own is migrated, seeded with the demo clients and
bulk-loaded in SQL (bulk_rows.py, never HTTP) with that many users, sessions, refresh tokens,
revoked access tokens, codes and audit events, then VACUUM ANALYZE. One `idplus serve`
(1 worker, core 0) answers wrk (core 1) on refresh_token, introspection and userinfo; the
requests rotate over probe tokens spread through the tables, so lookups land all over the
indexes. Reported: the median req/s of the rounds and its ratio to the smallest size (the
target: within 20 %), the EXPLAIN (ANALYZE, BUFFERS) plan of every statement those requests
run (captured inside a server process, see `serve_capturing`), with any sequential scan of a
large table flagged; and, on the largest size, `idplus db prune` of about 10^6 expired rows
while wrk keeps serving.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bulk_rows
import httpx
import psycopg
from common import (
    LOAD_CORE,
    ROTATING_REQUESTS,
    SERVER_CORE,
    Request,
    WrkRun,
    ensure_tools,
    form_post,
    free_port,
    idplus,
    machine_line,
    median,
    parse_wrk,
    postgres_reason,
    publish,
    rs256_sign_rate,
    run_requests,
    scratch_postgres_database,
    server_env,
    serving,
    wait_ready,
)

from idplus.manage.maintenance import AUDIT_BATCH, EXPIRED_BATCH

PATHS = ("refresh_token", "introspection", "userinfo")
# A table with more rows than this is "large": a sequential scan of it on a hot path is a bug.
LARGE_TABLE_ROWS = 10_000
CAPTURE_MODE = "--serve-capturing-plans-into"
PRUNE_APPLICATION_NAME = "idplus-bench-prune"
EXPLAINABLE = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


@dataclass(frozen=True)
class PathResult:
    requests_per_second: float
    p99_ms: float
    errors: int


@dataclass(frozen=True)
class CapturedStatement:
    path: str
    statement: str
    plan: str

    def seq_scans(self) -> list[str]:
        return re.findall(r"Seq Scan on (\w+)", self.plan)

    def execution_ms(self) -> float:
        match = re.search(r"Execution Time: ([\d.]+) ms", self.plan)
        return float(match.group(1)) if match else float("nan")


@dataclass
class SizeResult:
    size: int
    load_seconds: float
    vacuum_seconds: float
    probes: int
    rows: dict[str, int]
    paths: dict[str, PathResult] = field(default_factory=dict)
    statements: list[CapturedStatement] = field(default_factory=list)
    prune: PruneResult | None = None


@dataclass(frozen=True)
class PruneResult:
    expired_rows: dict[str, int]
    load_seconds: float
    seconds: float
    deleted: dict[str, int]
    longest_transaction_seconds: float
    most_waiting_on_locks: int
    before: WrkRun
    during: WrkRun


def main() -> None:
    args = parse_args()
    reason = postgres_reason()
    if reason:
        sys.exit(f"bench: {reason}")
    ensure_tools()
    sign_before = rs256_sign_rate(args.openssl_seconds)
    results = []
    with tempfile.TemporaryDirectory(prefix="idplus-flat-cost-") as tmp:
        for size in args.sizes:
            prune = args.prune_rows if size == max(args.sizes) else 0
            results.append(measure_size(size, prune, args, Path(tmp)))
    sign_rate = (sign_before + rs256_sign_rate(args.openssl_seconds)) / 2
    publish("flat_cost", render(results, args, sign_rate))
    publish("flat_cost_plans", render_plans(results[-1]))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=lambda text: sorted(int(s) for s in text.split(",")),
        default=[1_000, 100_000, 1_000_000],
        help="rows per table, comma separated (default 1000,100000,1000000)",
    )
    parser.add_argument("--seconds", type=int, default=5, help="per path and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--probes", type=int, default=100, help="tokens the requests rotate over")
    parser.add_argument(
        "--prune-rows", type=int, default=1_000_000, help="expired rows for the prune (0: none)"
    )
    parser.add_argument("--openssl-seconds", type=int, default=3)
    args = parser.parse_args()
    if args.probes * 10 > min(args.sizes):
        parser.error("--probes may be at most a tenth of the smallest size")
    return args


def measure_size(size: int, prune_rows: int, args: argparse.Namespace, tmp: Path) -> SizeResult:
    print(f"\n== {size:,} rows per table", flush=True)
    workdir = tmp / str(size)
    workdir.mkdir()
    with scratch_postgres_database("idplus_bench_flat") as database_url:
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        env = server_env(base_url, database_url, workdir)
        idplus(env, "db", "upgrade")
        seed = idplus(env, "demo", "seed")
        probes = bulk_rows.probes(size, args.probes)
        result = load(database_url, size, probes)
        web = next(c for c in seed["clients"] if c["client_id"] == "demo-web")
        with serving(env, port, workdir / "server.log"):
            requests = probe_requests(base_url, web["client_secret"], probes)
        result.statements = capture_plans(env, requests, workdir)
        with serving(env, port, workdir / "server.log"):
            result.paths = measure_paths(base_url, requests, args, workdir)
            if prune_rows:
                result.prune = prune_under_load(
                    env, database_url, size, prune_rows, base_url, requests, args, workdir
                )
    return result


def load(database_url: str, size: int, probes: list[bulk_rows.Probe]) -> SizeResult:
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        bulk_rows.prepare_for_load(conn)
        handle_key = bulk_rows.new_handle_key(conn)
        bulk_rows.load_current_rows(conn, size, handle_key, probes)
        load_seconds = time.monotonic() - started
        vacuum_seconds = bulk_rows.vacuum_analyze(conn)
        rows = bulk_rows.row_counts(conn, list(bulk_rows.CURRENT_ROWS))
    print(f"loaded in {load_seconds:.1f} s, VACUUM ANALYZE {vacuum_seconds:.1f} s: {rows}")
    return SizeResult(size, load_seconds, vacuum_seconds, len(probes), rows)


def probe_requests(
    base_url: str, secret: str, probes: list[bulk_rows.Probe]
) -> dict[str, list[Request]]:
    """Each path's requests, one per probe. A refresh of each probe token gives the access
    token (bound to the probe's session and user) that introspection and userinfo present."""
    basic = {"Authorization": "Basic " + base64.b64encode(f"demo-web:{secret}".encode()).decode()}
    requests: dict[str, list[Request]] = {path: [] for path in PATHS}
    with httpx.Client(base_url=base_url, timeout=30) as http:
        for probe in probes:
            refresh = {"grant_type": "refresh_token", "refresh_token": probe.refresh_token}
            answer = http.post("/connect/token", data=refresh, headers=basic)
            if answer.status_code != 200:
                sys.exit(f"bench: probe {probe.index} refused: {answer.text}")
            access = answer.json()["access_token"]
            requests["refresh_token"].append(form_post("/connect/token", refresh, basic))
            requests["introspection"].append(
                form_post("/connect/introspect", {"token": access}, basic)
            )
            bearer = (("Authorization", f"Bearer {access}"),)
            requests["userinfo"].append(Request("GET", "/connect/userinfo", headers=bearer))
    return requests


def measure_paths(
    base_url: str, requests: dict[str, list[Request]], args: argparse.Namespace, workdir: Path
) -> dict[str, PathResult]:
    for path in PATHS:  # warm-up: the server's caches and pool, PostgreSQL's buffers
        run_requests(base_url, requests[path], workdir, 2, args.connections)
    runs: dict[str, list[WrkRun]] = {path: [] for path in PATHS}
    for _ in range(args.rounds):
        for path in PATHS:
            runs[path].append(
                run_requests(base_url, requests[path], workdir, args.seconds, args.connections)
            )
    results = {}
    for path, measured in runs.items():
        results[path] = PathResult(
            median([r.requests_per_second for r in measured]),
            median([r.p99_ms for r in measured]),
            sum(r.errors for r in measured),
        )
        print(f"{path:<15}{results[path].requests_per_second:>9,.0f} req/s", flush=True)
    return results


# -- Plans -------------------------------------------------------------------------------


def capture_plans(
    env: dict[str, str], requests: dict[str, list[Request]], workdir: Path
) -> list[CapturedStatement]:
    """Run one request of each path (after one to warm the caches) on a server that explains
    every statement it executes, and keep the plans of that request's statements."""
    plans_file = workdir / "plans.jsonl"
    plans_file.touch()
    port = free_port()
    command = [sys.executable, __file__, CAPTURE_MODE, str(plans_file)]
    command += ["serve", "--port", str(port), "--workers", "1"]
    captured: list[CapturedStatement] = []
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30)
    with _process(command, env, workdir / "capture.log", port), client as http:
        for path in PATHS:
            _send(http, requests[path][0])
            offset = plans_file.stat().st_size
            _send(http, requests[path][1])
            time.sleep(0.2)
            captured += _read_plans(plans_file, offset, path)
    return captured


@contextlib.contextmanager
def _process(command: list[str], env: dict[str, str], log_path: Path, port: int) -> Iterator[None]:
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["taskset", "-c", SERVER_CORE, *command], env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        wait_ready(f"http://127.0.0.1:{port}", process)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


def _send(http: httpx.Client, request: Request) -> None:
    headers = dict(request.headers)
    answer = http.request(request.method, request.path, content=request.body, headers=headers)
    if answer.status_code != 200:
        sys.exit(f"bench: {request.path} answered {answer.status_code}: {answer.text}")


def _read_plans(plans_file: Path, offset: int, path: str) -> list[CapturedStatement]:
    with plans_file.open() as lines:
        lines.seek(offset)
        entries = [json.loads(line) for line in lines if line.strip()]
    seen: set[str] = set()
    captured = []
    for entry in entries:
        if entry["statement"] not in seen:
            seen.add(entry["statement"])
            captured.append(CapturedStatement(path, entry["statement"], entry["plan"]))
    return captured


def serve_capturing(plans_file: Path, argv: list[str]) -> None:
    """`idplus <argv>` in this process, with every statement it executes explained first:
    EXPLAIN (ANALYZE, BUFFERS) with the same parameters, inside a savepoint rolled back (so
    an UPDATE or INSERT is planned and run, then undone, before it runs for real)."""
    import runpy

    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

    out = plans_file.open("a")

    @sa.event.listens_for(Engine, "before_cursor_execute")
    def explain(
        _conn: Any, cursor: Any, statement: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        if many or not statement.lstrip().upper().startswith(EXPLAINABLE):
            return
        if cursor.connection.autocommit:
            begin, end = "BEGIN", "ROLLBACK"
        else:
            begin, end = "SAVEPOINT bench_plan", "ROLLBACK TO SAVEPOINT bench_plan"
        cursor.execute(begin)
        try:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            plan = "\n".join(str(row[0]) for row in cursor.fetchall())
        except Exception as error:  # a plan not got is reported as such
            plan = f"(not explained: {error})"
        finally:
            cursor.execute(end)
        out.write(json.dumps({"statement": statement, "plan": plan}) + "\n")
        out.flush()

    sys.argv = ["idplus", *argv]
    runpy.run_module("idplus", run_name="__main__", alter_sys=True)


# -- Prune ------------------------------------------------------------------------------


def prune_under_load(
    env: dict[str, str],
    database_url: str,
    size: int,
    rows: int,
    base_url: str,
    requests: dict[str, list[Request]],
    args: argparse.Namespace,
    workdir: Path,
) -> PruneResult:
    """Load `rows` expired rows, measure refresh_token with wrk, then again while
    `idplus db prune` deletes them."""
    print(f"\n== idplus db prune of {rows:,} expired rows under load", flush=True)
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        bulk_rows.prepare_for_load(conn)
        expired = bulk_rows.load_expired_rows(conn, size, rows)
        bulk_rows.vacuum_analyze(conn)
    load_seconds = time.monotonic() - started
    print(f"loaded {expired} in {load_seconds:.1f} s", flush=True)
    load = requests["refresh_token"]
    before = run_requests(base_url, load, workdir, args.seconds, args.connections)
    with _wrk_until_stopped(base_url, load, workdir, args.connections) as during_run:
        watcher = _TransactionWatcher(database_url)
        watcher.start()
        pruned_at = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "idplus", "db", "prune"],
            env={**env, "PGAPPNAME": PRUNE_APPLICATION_NAME},
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        seconds = time.monotonic() - pruned_at
        watcher.stop()
    deleted = json.loads(done.stdout)["deleted"]
    print(f"pruned in {seconds:.1f} s: {deleted}", flush=True)
    return PruneResult(
        expired, load_seconds, seconds, deleted,
        watcher.longest_seconds, watcher.most_waiting, before, during_run(),
    )  # fmt: skip


@contextlib.contextmanager
def _wrk_until_stopped(
    base_url: str, requests: Sequence[Request], workdir: Path, connections: int
) -> Iterator[Any]:
    """wrk running until the block ends (SIGINT: wrk stops and prints what it measured)."""
    listing = workdir / "prune-load.tsv"
    listing.write_text("".join(r.line() + "\n" for r in requests))
    command = ["taskset", "-c", LOAD_CORE, "wrk", "-t1", f"-c{connections}", "-d3600s"]
    command += ["--latency", "--timeout", "10s", "-s", str(ROTATING_REQUESTS), base_url]
    command += ["--", str(listing)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    output: list[str] = []
    try:
        time.sleep(1)  # connections open and busy before the prune starts
        yield lambda: parse_wrk(output[0])
    finally:
        process.send_signal(signal.SIGINT)
        output.append(process.communicate(timeout=30)[0])


class _TransactionWatcher:
    """Polls pg_stat_activity while the prune runs: the longest of its transactions, and how
    many server connections wait on a lock at worst."""

    def __init__(self, database_url: str) -> None:
        self._database_url = database_url
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self.longest_seconds = 0.0
        self.most_waiting = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=10)

    def _watch(self) -> None:
        with psycopg.connect(self._database_url, autocommit=True) as conn:
            while not self._stopping.is_set():
                self._sample(conn)
                time.sleep(0.02)

    def _sample(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        rows = conn.execute(
            """SELECT application_name = %s, xact_start,
                   extract(epoch FROM clock_timestamp() - xact_start), wait_event_type
               FROM pg_stat_activity WHERE datname = current_database()
                   AND pid <> pg_backend_pid()""",
            (PRUNE_APPLICATION_NAME,),
        ).fetchall()
        waiting = 0
        for is_prune, xact_start, age, wait_type in rows:
            if is_prune and xact_start is not None:
                self.longest_seconds = max(self.longest_seconds, float(age))
            elif wait_type == "Lock":
                waiting += 1
        self.most_waiting = max(self.most_waiting, waiting)


# -- Report -----------------------------------------------------------------------------


def render(results: list[SizeResult], args: argparse.Namespace, sign_rate: float) -> str:
    base = results[0]
    lines = [
        "### Cost per request at 10^3 … 10^6 stored rows (PostgreSQL)",
        "",
        f"{machine_line(sign_rate)}. idplus: 1 worker on core {SERVER_CORE}; wrk on core "
        f"{LOAD_CORE}, {args.connections} connections, {args.seconds} s × {args.rounds} rounds "
        f"(median); PostgreSQL 15 on the same machine, unpinned. Requests rotate over "
        f"{base.probes} probe tokens spread through the tables. Rows per table: users, "
        "profiles, sessions, session clients, refresh tokens, codes, revoked access tokens, "
        "audit events (bulk-loaded in SQL).",
        "",
        "| rows per table | load s | "
        + " | ".join(f"{p} req/s | ratio | p99 ms" for p in PATHS)
        + " |",
        "|---:|---:|" + "---:|---:|---:|" * len(PATHS),
    ]
    for result in results:
        cells = [f"{result.size:,}", f"{result.load_seconds:.1f}"]
        for path in PATHS:
            measured = result.paths[path]
            ratio = measured.requests_per_second / base.paths[path].requests_per_second
            cells += [
                f"{measured.requests_per_second:,.0f}",
                f"{ratio:.2f}",
                f"{measured.p99_ms:.1f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    worst = min(
        r.paths[p].requests_per_second / base.paths[p].requests_per_second
        for r in results
        for p in PATHS
    )
    verdict = "met" if worst >= 0.8 else "NOT met"
    lines += ["", f"Lowest ratio {worst:.2f}: the target (≥ 0.80) is {verdict}."]
    lines += ["", *render_scans(results)]
    prune = results[-1].prune
    if prune is not None:
        lines += ["", *render_prune(prune, results[-1].size)]
    return "\n".join(lines) + "\n"


def render_scans(results: list[SizeResult]) -> list[str]:
    largest = results[-1]
    lines = [
        f"Statements of one request per path at {largest.size:,} rows (EXPLAIN ANALYZE; the "
        "full plans are in var/bench/flat_cost_plans.md):",
        "",
        "| path | statement | scans | ms |",
        "|---|---|---|---:|",
    ]
    for captured in largest.statements:
        scans = "; ".join(_scan_nodes(captured.plan)) or "-"
        lines.append(
            f"| {captured.path} | `{_summary(captured.statement)}` | {scans} | "
            f"{captured.execution_ms():.3f} |"
        )
    flagged = [
        f"{r.size:,} rows, {c.path}: Seq Scan on {table}"
        for r in results
        for c in r.statements
        for table in c.seq_scans()
        if r.rows.get(table, 0) > LARGE_TABLE_ROWS
    ]
    lines.append("")
    if flagged:
        lines += ["**Sequential scans of large tables:**", *(f"- {f}" for f in flagged)]
    else:
        lines.append("No sequential scan of a table over 10,000 rows at any size.")
    return lines


def render_prune(prune: PruneResult, size: int) -> list[str]:
    expired = sum(prune.expired_rows.values()) - prune.expired_rows.get("session_clients", 0)
    deleted = ", ".join(f"{t} {n:,}" for t, n in prune.deleted.items() if n)
    batches = sum(-(-n // EXPIRED_BATCH) for t, n in prune.deleted.items() if t != "audit_events")
    batches += -(-prune.deleted.get("audit_events", 0) // AUDIT_BATCH)
    lines = [
        f"`idplus db prune` of {expired:,} expired rows (beside {size:,} live rows per table) "
        f"while wrk keeps refreshing: {prune.seconds:.1f} s; deleted {deleted}; in about "
        f"{batches} transactions (batches of {EXPIRED_BATCH:,} rows per table, "
        f"{AUDIT_BATCH:,} audit events); the longest transaction seen (pg_stat_activity every "
        f"20 ms) took {prune.longest_transaction_seconds:.2f} s; at most "
        f"{prune.most_waiting_on_locks} server connections waiting on a lock at once.",
        "",
        "| refresh_token | req/s | p50 ms | p99 ms | max ms | errors |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, run in (("before the prune", prune.before), ("during the prune", prune.during)):
        lines.append(
            f"| {label} | {run.requests_per_second:,.0f} | {run.p50_ms:.1f} | "
            f"{run.p99_ms:.1f} | {run.max_ms:.0f} | {run.errors} |"
        )
    return lines


def render_plans(result: SizeResult) -> str:
    lines = [f"### Plans at {result.size:,} rows per table", ""]
    for captured in result.statements:
        lines += [f"#### {captured.path}", "", "```sql", _collapse(captured.statement), "```"]
        lines += ["", "```", captured.plan, "```", ""]
    return "\n".join(lines)


def _scan_nodes(plan: str) -> list[str]:
    nodes = re.findall(
        r"((?:Seq Scan|Index Only Scan|Index Scan|Bitmap Index Scan)(?: using \w+)? on \w+)",
        plan,
    )
    return list(dict.fromkeys(nodes))


def _summary(statement: str) -> str:
    text = _collapse(statement)
    text = re.sub(r"^SELECT .+? FROM", "SELECT … FROM", text)
    text = re.sub(r" RETURNING .*$", "", text)
    text = re.sub(r"\b\w+\.(\w+)", r"\1", text)  # table.column → column
    return text if len(text) <= 110 else text[:107] + "…"


def _collapse(statement: str) -> str:
    return " ".join(statement.split())


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == CAPTURE_MODE:
        serve_capturing(Path(sys.argv[2]), sys.argv[3:])
    else:
        main()
