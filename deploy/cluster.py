"""A local cluster: N `idplus serve` instances on one PostgreSQL database behind HAProxy.

`make cluster` runs it in the foreground (Ctrl-C stops everything); the multi-instance tests
and `make bench-cluster` start one through `running_cluster()`. The instances are ordinary
`idplus serve` processes: everything that matters between requests lives in the database,
so HAProxy balances them round robin with no sticky sessions, and takes an instance out of
rotation when its /readyz stops answering 200.

    python deploy/cluster.py --instances 3 --port 8000 \\
        --database-url postgresql://postgres@127.0.0.1:5432/idplus_cluster
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
HAPROXY_TEMPLATE = HERE / "haproxy.cfg.template"
DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/idplus_cluster"
# Connections kept back from the instances for the CLI, migrations and an operator's psql.
RESERVED_CONNECTIONS = 10
STARTUP_SECONDS = 60.0


class ClusterError(RuntimeError):
    """The cluster could not be started (a missing binary, a database that is not there …)."""


@dataclass
class Instance:
    """One `idplus serve` process (with its own workers) behind the balancer."""

    name: str
    port: int
    command: list[str]
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip

    def wait_ready(self, seconds: float = STARTUP_SECONDS) -> None:
        _wait_for(f"{self.url}/readyz", seconds, self.process, self.log_path)

    def signal(self, signum: int) -> None:
        """Sends `signum` to the instance and all its worker processes."""
        # The whole process group, even when its leader is gone: workers it left behind too.
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (uvicorn finishes the requests in flight), then SIGKILL after `timeout`."""
        if self.process is None:
            return None
        if self.process.returncode is not None:
            return self.process.returncode  # reaped already: its group id may be reused
        self.signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            return self.process.wait(timeout=10)

    def kill(self) -> None:
        """SIGKILL to the instance and its workers at once: a crash, no goodbye."""
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=10)


@dataclass
class Balancer:
    """HAProxy in the foreground, with an admin socket to read what it thinks of each server."""

    port: int
    config_path: Path
    socket_path: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [haproxy_binary(), "-db", "-f", str(self.config_path)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip

    def server_stats(self) -> dict[str, dict[str, str]]:
        """HAProxy's "show stat" row of each instance (status, scur: requests it holds now …)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as admin:
            admin.settimeout(5)
            admin.connect(str(self.socket_path))
            admin.sendall(b"show stat\n")
            answer = b""
            while chunk := admin.recv(65536):
                answer += chunk
        header, *rows = answer.decode().lstrip("# ").splitlines()
        columns = header.split(",")
        stats = {}
        for row in rows:
            values = dict(zip(columns, row.split(","), strict=False))
            if values.get("pxname") == "instances" and values.get("svname") not in (
                "FRONTEND",
                "BACKEND",
            ):
                stats[values["svname"]] = values
        return stats

    def server_states(self) -> dict[str, str]:
        """Each instance's state as HAProxy's health checks see it: UP, DOWN, MAINT …"""
        return {name: row.get("status", "") for name, row in self.server_stats().items()}

    def wait_for_states(self, wanted: Mapping[str, str], seconds: float = 30.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            states = self.server_states()
            # Exactly: "UP 1/2" is a server between checks, not one that passed them.
            if all(states.get(name) == state for name, state in wanted.items()):
                return
            time.sleep(0.1)
        raise ClusterError(f"HAProxy did not see {dict(wanted)}: it sees {self.server_states()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


@dataclass
class Cluster:
    url: str
    database_url: str
    env: dict[str, str]
    instances: list[Instance]
    balancer: Balancer
    workdir: Path
    seed: dict[str, Any] = field(default_factory=dict)

    def idplus(self, *argv: str) -> Any:
        """An `idplus` command against the cluster's database; its JSON answer."""
        done = subprocess.run(
            [sys.executable, "-m", "idplus", *argv],
            env=self.env, capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        return json.loads(done.stdout) if done.stdout.strip() else None

    def instance_logs(self) -> str:
        return "\n".join(i.log_path.read_text(errors="replace") for i in self.instances)

    def stop(self) -> None:
        self.balancer.stop()
        for instance in self.instances:
            instance.stop()


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next(
        (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None
    )
    if found is None:
        raise ClusterError("HAProxy is not installed (apt-get install -y haproxy)")
    return found


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reserved_port() -> socket.socket:
    """A free port held until HAProxy has bound it too (both with SO_REUSEPORT, which HAProxy
    sets on Linux): between the choice and HAProxy's start (the migration, the seed, the
    instances) no other process can be handed it, as parallel test runs otherwise were."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


def pool_sizing(free_connections: int, processes: int) -> tuple[int, int]:
    """(pool size, overflow) per worker process so that every worker at its peak together
    stays within the connections the server has free, less what is kept back for operators.
    Half is kept open, half opened under a burst; never more than the single-process default
    (10+10), never fewer than 1+1."""
    share = (free_connections - RESERVED_CONNECTIONS) // max(processes, 1)
    if share < 2:
        raise ClusterError(
            f"{processes} worker processes need at least {2 * processes + RESERVED_CONNECTIONS} "
            f"free PostgreSQL connections; the server has {free_connections} "
            "(raise max_connections, or run fewer instances or workers)"
        )
    size = min(10, share // 2)
    return size, min(10, share - size)


def server_free_connections(database_url: str) -> int:
    """max_connections less the connections already open (other databases, other clusters)."""
    engine = _admin_engine(database_url)
    try:
        with engine.connect() as connection:
            most = int(connection.execute(sa.text("SHOW max_connections")).scalar_one())
            used = connection.execute(sa.text("SELECT count(*) FROM pg_stat_activity"))
            return most - int(used.scalar_one())
    finally:
        engine.dispose()


def _admin_engine(database_url: str, **options: Any) -> sa.Engine:
    return sa.create_engine(_psycopg(database_url), connect_args={"connect_timeout": 5}, **options)


def ensure_database(database_url: str) -> None:
    """Creates the cluster's PostgreSQL database if the server does not have it yet."""
    url = sa.make_url(_psycopg(database_url))
    admin = _admin_engine(
        url.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as connection:
            exists = connection.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"),
                {"name": url.database},
            ).first()
            if exists is None:
                quoted = connection.dialect.identifier_preparer.quote(url.database or "")
                connection.execute(sa.text(f"CREATE DATABASE {quoted}"))
    except sa.exc.OperationalError as error:
        reason = f"PostgreSQL is not reachable at {url.host}:{url.port}: {error.orig}"
        raise ClusterError(reason) from None
    finally:
        admin.dispose()


def write_haproxy_config(
    path: Path, *, port: int, socket_path: Path, instances: list[Instance]
) -> None:
    servers = "\n".join(f"    server {i.name} 127.0.0.1:{i.port}" for i in instances)
    text = HAPROXY_TEMPLATE.read_text()
    for name, value in {
        "PORT": str(port),
        "SOCKET": str(socket_path),
        "SERVERS": servers,
    }.items():
        text = text.replace(f"{{{{{name}}}}}", value)
    path.write_text(text)


def start_cluster(
    workdir: Path,
    database_url: str = DEFAULT_DATABASE_URL,
    *,
    instances: int = 2,
    workers: int = 1,
    port: int | None = None,
    issuer: str | None = None,
    settings: Mapping[str, str] | None = None,
    seed: bool = True,
) -> Cluster:
    """Migrates and (with `seed`) seeds the database, then starts the instances and HAProxy
    and waits until HAProxy routes to every instance. `settings` become IDPLUS_<NAME>."""
    # Absolute: HAProxy reads a relative socket path as host:port, and the instances' outbox
    # path must not depend on their working directory.
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    ensure_database(database_url)
    reservation = None
    if port is None:
        reservation = reserved_port()
        port = int(reservation.getsockname()[1])
    balancer_port = port
    url = f"http://127.0.0.1:{balancer_port}"
    size, overflow = pool_sizing(server_free_connections(database_url), instances * workers)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "IDPLUS_ISSUER": issuer or url,
        "IDPLUS_DATABASE_URL": database_url,
        "IDPLUS_OUTBOX": str(workdir / "outbox.jsonl"),
        # The balancer's X-Forwarded-For names the client: throttles count real addresses.
        "IDPLUS_TRUSTED_PROXIES": "127.0.0.1",
        "IDPLUS_DATABASE_POOL_SIZE": str(size),
        "IDPLUS_DATABASE_MAX_OVERFLOW": str(overflow),
        **{f"IDPLUS_{name.upper()}": value for name, value in (settings or {}).items()},
    }
    for name in ("LANG", "LC_ALL", "HOME"):
        if name in os.environ:
            env.setdefault(name, os.environ[name])
    _run_idplus(env, "db", "upgrade")
    seeded = json.loads(_run_idplus(env, "demo", "seed")) if seed else {}
    members = []
    for number in range(1, instances + 1):
        instance_port = free_port()
        members.append(
            Instance(
                name=f"idplus{number}",
                port=instance_port,
                command=serve_command(instance_port, workers),
                env=env,
                log_path=workdir / f"idplus{number}.log",
            )
        )
    balancer = Balancer(
        port=balancer_port,
        config_path=workdir / "haproxy.cfg",
        socket_path=workdir / "haproxy.sock",
        log_path=workdir / "haproxy.log",
    )
    write_haproxy_config(
        balancer.config_path, port=balancer_port, socket_path=balancer.socket_path,
        instances=members,
    )  # fmt: skip
    cluster = Cluster(url, database_url, env, members, balancer, workdir, seeded)
    try:
        for instance in members:
            instance.start()
        for instance in members:
            instance.wait_ready()
        balancer.start()
        _wait_for(f"{url}/readyz", STARTUP_SECONDS, balancer.process, balancer.log_path)
        balancer.wait_for_states({i.name: "UP" for i in members})
    except BaseException:
        cluster.stop()
        raise
    finally:
        if reservation is not None:
            reservation.close()
    return cluster


@contextlib.contextmanager
def running_cluster(workdir: Path, database_url: str, **options: Any) -> Iterator[Cluster]:
    cluster = start_cluster(workdir, database_url, **options)
    try:
        yield cluster
    finally:
        cluster.stop()


def serve_command(port: int, workers: int) -> list[str]:
    serve = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    return [sys.executable, "-m", "idplus", *serve]


def _run_idplus(env: Mapping[str, str], *argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "idplus", *argv],
        env=dict(env), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise ClusterError(f"idplus {' '.join(argv)} failed: {done.stderr.strip()}")
    return done.stdout


def _wait_for(
    url: str, seconds: float, process: subprocess.Popen[bytes] | None, log_path: Path
) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise ClusterError(f"{url} exited: {log_path.read_text(errors='replace')[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise ClusterError(
        f"{url} did not become ready: {log_path.read_text(errors='replace')[-2000:]}"
    )


def _psycopg(database_url: str) -> str:
    url = sa.make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() != "postgresql":
        raise ClusterError("a cluster shares one PostgreSQL database: give a postgresql:// URL")
    return url.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", type=int, default=2)
    parser.add_argument("--workers", type=int, default=1, help="worker processes per instance")
    parser.add_argument("--port", type=int, default=8000, help="where HAProxy listens")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("IDPLUS_DATABASE_URL", DEFAULT_DATABASE_URL),
        help="PostgreSQL database the instances share (created if absent)",
    )
    parser.add_argument("--workdir", type=Path, default=Path("var/cluster"))
    args = parser.parse_args()
    issuer = os.environ.get("IDPLUS_ISSUER", f"http://localhost:{args.port}")
    # From here on a SIGTERM stops what was started (the instances run in sessions of their
    # own and would outlive this script).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        cluster = start_cluster(
            args.workdir, args.database_url, instances=args.instances, workers=args.workers,
            port=args.port, issuer=issuer,
        )  # fmt: skip
    except ClusterError as error:
        sys.exit(f"cluster: {error}")
    except KeyboardInterrupt:
        sys.exit("cluster: stopped while starting")
    print(f"idplus on {issuer}: HAProxy on 127.0.0.1:{args.port}, round robin over", end=" ")
    print(", ".join(f"{i.name} ({i.url})" for i in cluster.instances))
    print(f"database {args.database_url}; logs in {args.workdir}/; Ctrl-C stops everything.")
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        while not stopping:
            time.sleep(0.5)
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
