"""A PostgreSQL server of the test's own (initdb + pg_ctl in a temporary directory), for tests
that stop and start the database: the machine's shared server serves other tests meanwhile.

PostgreSQL refuses to run as root, so under root the server runs as the `postgres` OS user
(`runuser -u postgres`), in a directory that user owns. Trust authentication, loopback only, a
free port, the Unix socket in the same directory; durability off (fsync), as it is a test's.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from deploy.cluster import free_port

SERVER_USER = "postgres"
START_SECONDS = 30


def _binary(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))), None
    )


def private_postgres_reason() -> str | None:
    """Why a private server cannot be started here, or None."""
    for name in ("initdb", "pg_ctl"):
        if _binary(name) is None:
            return f"{name} is not installed (apt-get install -y postgresql)"
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            return "running as root without runuser to start PostgreSQL as another user"
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and there is no {SERVER_USER!r} OS user to run PostgreSQL"
    return None


@dataclass
class PrivatePostgres:
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._run(_binary("initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "-E", "UTF8", "--no-sync")  # fmt: skip

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg_ctl("start", "-w", "-t", str(START_SECONDS), "-o", options, "-l",
                     str(self.log_path))  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`fast`: connections are cut, in-flight transactions roll back (a restart's first
        half); `immediate`: no shutdown checkpoint at all (a crash)."""
        self._pg_ctl("stop", "-w", "-m", mode)

    @property
    def running(self) -> bool:
        status = subprocess.run(
            self._as_server_user(_binary("pg_ctl"), "status", "-D", str(self.data)),
            capture_output=True, check=False, timeout=30,
        )  # fmt: skip
        return status.returncode == 0

    def _pg_ctl(self, *argv: str) -> None:
        self._run(_binary("pg_ctl"), *argv[:1], "-D", str(self.data), *argv[1:])

    def _run(self, binary: str | None, *argv: str) -> None:
        assert binary is not None
        done = subprocess.run(
            self._as_server_user(binary, *argv), capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        if done.returncode != 0:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise RuntimeError(f"{Path(binary).name} {argv[0]} failed: {done.stderr}{log[-2000:]}")

    @staticmethod
    def _as_server_user(*argv: str | None) -> list[str]:
        command = [str(a) for a in argv]
        return ["runuser", "-u", SERVER_USER, "--", *command] if os.geteuid() == 0 else command


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started server; stopped (immediately) and deleted on the way out."""
    # Not under pytest's tmp_path: its parents are root's alone, and the server user must
    # reach the directory.
    directory = Path(tempfile.mkdtemp(prefix="idplus-pg-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam(SERVER_USER)
        os.chown(directory, user.pw_uid, user.pw_gid)
    server = PrivatePostgres(directory, free_port())
    try:
        server.init()
        server.start()
        yield server
    finally:
        with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
            if server.running:
                server.stop("immediate")
        shutil.rmtree(directory, ignore_errors=True)
