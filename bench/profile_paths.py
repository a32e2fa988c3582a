"""`make profile`: where one idplus worker spends its time on each hot path.

Two views per path, both on a fresh database of the kind asked for:

- **The event loop under load** — the server runs as in `make bench` (one worker pinned to
  core 0, wrk on core 1, 32 connections) while `py-spy record --gil` samples whichever thread
  holds the GIL: HTTP parsing, routing, middleware, JSON, the hand-off to the thread pool.
  (Sampling every thread instead shows the pool's threads idle even while they do the work:
  py-spy 0.4 misses frames of anyio's worker threads here, so their side is measured below.)
- **The protocol and the store, in-process** — the same request's blocking part (client
  authentication, token checks, SQL, signing: what runs on the worker thread) called in a loop
  under cProfile, as microseconds per request, function by function.

The report is printed and kept in var/bench/profile-<database>.md.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import (
    LOAD_CORE,
    REPORTS,
    ensure_tools,
    free_port,
    idplus,
    login_for_tokens,
    publish,
    run_wrk,
    server_env,
    serving,
)
from run import Scenario, fresh_database, scenarios_with

PY_SPY = Path(sys.executable).parent / "py-spy"
LABELS = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


@dataclass(frozen=True)
class Rows:
    """One table of a report: (share or microseconds, function) from the top."""

    title: str
    rows: list[tuple[float, str]]
    unit: str


def parse_raw(text: str) -> Counter[str]:
    """Self samples per function from py-spy's raw (collapsed) format: `frame;...;leaf count`.
    Line numbers are dropped: they would split one function into many rows."""
    leaves: Counter[str] = Counter()
    for line in text.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if stack and count_text.isdigit():
            leaves[_short(stack.rsplit(";", 1)[-1])] += int(count_text)
    return leaves


def _short(frame: str) -> str:
    """`name (…/site-packages/pkg/mod.py:12)` → `name (pkg/mod.py)`."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    for marker in ("site-packages/", "/src/", "lib/python3.11/", "lib/python3.12/"):
        if marker in where:
            where = where.split(marker, 1)[1]
            break
    return f"{name} ({where})" if where else name


def event_loop_profile(
    base_url: str, scenario: Scenario, pid: int, workdir: Path, args: argparse.Namespace
) -> Rows:
    script = workdir / f"{scenario.name}.lua"
    script.write_text(scenario.lua or "")
    url = base_url + scenario.path
    run_wrk(url, 2, args.connections, script=script)  # warm-up
    raw = REPORTS / f"profile-{args.database}-{scenario.name}.raw"
    command = [str(PY_SPY), "record", "--pid", str(pid), "--rate", str(args.rate), "--gil",
               "--duration", str(args.seconds), "--format", "raw",
               "--output", str(raw)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as spy:
        run = run_wrk(url, args.seconds, args.connections, script=script)
        _, errors = spy.communicate(timeout=args.seconds + 30)
    if spy.returncode != 0 or not raw.exists():
        sys.exit(f"profile: py-spy failed on {scenario.name}: {errors.decode()[-500:]}")
    if run.errors:
        sys.exit(f"profile: {scenario.name} answered errors under load:\n{run.output}")
    leaves = parse_raw(raw.read_text())
    total = max(sum(leaves.values()), 1)
    rows = [(100 * count / total, name) for name, count in leaves.most_common(args.top)]
    title = f"event loop under wrk ({run.requests_per_second:,.0f} req/s while sampled)"
    return Rows(title, rows, "% of samples")


def protocol_profile(name: str, call: Callable[[], Any], args: argparse.Namespace) -> list[Rows]:
    """The blocking part of one request, called `args.calls` times: the mean wall time
    unprofiled, then cProfile's own time per function (and the cumulative time of idplus's
    own functions), in microseconds per request."""
    call()
    started = time.perf_counter()
    for _ in range(args.calls):
        call()
    mean_us = 1e6 * (time.perf_counter() - started) / args.calls
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.calls):
        call()
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    own, cumulative = [], []
    for (filename, _, function), (_, _, tottime, cumtime, _) in stats.items():
        label = _short(f"{function} ({filename})")
        own.append((1e6 * tottime / args.calls, label))
        if "/idplus/" in filename:
            cumulative.append((1e6 * cumtime / args.calls, label))
    own.sort(reverse=True)
    cumulative.sort(reverse=True)
    title = f"blocking part in-process: {mean_us:,.0f} µs per request unprofiled"
    return [
        Rows(f"{title}; own time", own[: args.top], "µs/request (profiled)"),
        Rows("idplus functions, cumulative", cumulative[: args.top], "µs/request (profiled)"),
    ]


def blocking_calls(
    env: dict[str, str], seed: dict[str, Any], tokens: dict[str, str]
) -> Iterator[tuple[str, Callable[[], Any]]]:
    """What each path's endpoint hands to the thread pool, on an app of the same database."""
    os.environ.update(env)
    from starlette.testclient import TestClient

    from idplus.application.app import create_app
    from idplus.config import Settings
    from idplus.protocol.bearer import read_access_token
    from idplus.protocol.dpop.request import DpopEvidence
    from idplus.protocol.oidc.userinfo import userinfo
    from idplus.protocol.params import parse_params
    from idplus.protocol.token_endpoint import TokenRequest, handle_token_request
    from idplus.web.endpoints.introspection import _introspect

    web = next(c for c in seed["clients"] if c["client_id"] == "demo-web")
    basic = "Basic " + base64.b64encode(f"demo-web:{web['client_secret']}".encode()).decode()
    app = create_app(Settings())
    with TestClient(app):
        ctx = app.state.context
        ring = ctx.keys.current()
        post = DpopEvidence.of([], "POST", "/connect/token")

        def token(*form: tuple[str, str]) -> Callable[[], Any]:
            return lambda: handle_token_request(
                ctx, ring, TokenRequest(basic, parse_params(list(form)), post)
            )

        bearer = read_access_token("Bearer " + tokens["access_token"], None)
        get = DpopEvidence.of([], "GET", "/connect/userinfo")
        yield "client_credentials", token(("grant_type", "client_credentials"))
        refresh = ("refresh_token", tokens["refresh_token"])
        yield "refresh_token", token(("grant_type", "refresh_token"), refresh)
        introspect = parse_params([("token", tokens["access_token"])])
        yield "introspection", lambda: _introspect(ctx, ring, basic, introspect)
        yield "userinfo", lambda: userinfo(ctx, ring, bearer, get)


def markdown(sections: dict[str, list[Rows]], database: str) -> str:
    lines = [f"# Profiles of one idplus worker ({database})", ""]
    for path, tables in sections.items():
        lines += [f"## {path}", ""]
        for table in tables:
            lines += [f"{table.title}:", "", f"| {table.unit} | function |", "|---:|---|"]
            lines += [f"| {value:.1f} | `{name.replace('|', '/')}` |" for value, name in table.rows]
            lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--calls", type=int, default=2000, help="in-process calls per path")
    parser.add_argument("--top", type=int, default=12)
    args = parser.parse_args()
    ensure_tools()
    if not PY_SPY.exists():
        sys.exit(f"profile: {PY_SPY} is missing (make install installs the dev tools)")
    REPORTS.mkdir(parents=True, exist_ok=True)
    sections: dict[str, list[Rows]] = {}
    with tempfile.TemporaryDirectory(prefix="idplus-profile-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        with fresh_database(args.database, workdir) as url:
            env = server_env(base_url, url, workdir)
            idplus(env, "db", "upgrade")
            seed = idplus(env, "demo", "seed")
            with serving(env, port, workdir / "server.log") as server:
                web = next(c for c in seed["clients"] if c["client_id"] == "demo-web")
                tokens = login_for_tokens(base_url, seed, web)
                for scenario in scenarios_with(seed, tokens)[:4]:
                    loop = event_loop_profile(base_url, scenario, server.pid, workdir, args)
                    sections[scenario.name] = [loop]
            for name, call in blocking_calls(env, seed, tokens):
                sections[name] += protocol_profile(name, call, args)
    where = f"{LABELS[args.database]}; server on one core, wrk on core {LOAD_CORE}"
    publish(f"profile-{args.database}", markdown(sections, where))


if __name__ == "__main__":
    main()
