"""`make run`: the issuer follows HOST and PORT (unless IDPLUS_ISSUER is set), and the first
install says what it is doing. Read from `make -n`, which prints the commands it would run."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from idplus.config import development_issuer

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _dry_run(*argv: str, **env: str) -> list[str]:
    done = subprocess.run(
        ["make", "--no-print-directory", "-n", *argv],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
    )  # fmt: skip
    return done.stdout.splitlines()


def _issuer_of_serve(lines: list[str]) -> str:
    (serve,) = [line for line in lines if "idplus serve" in line]
    return serve.split("IDPLUS_ISSUER='")[1].split("'")[0]


@pytest.mark.parametrize(
    ("host", "port"),
    [
        ("127.0.0.1", "8000"),
        ("127.0.0.1", "8300"),
        ("0.0.0.0", "8300"),  # noqa: S104
        ("::1", "8300"),
        ("localhost", "9000"),
        ("192.168.1.20", "8300"),
    ],
)
def test_make_run_serves_the_issuer_its_host_and_port_imply(host: str, port: str) -> None:
    lines = _dry_run("run", f"HOST={host}", f"PORT={port}")
    issuer = development_issuer(host, int(port))
    assert _issuer_of_serve(lines) == issuer
    for command in ("db upgrade", "demo seed", "demo next-steps", "serve"):
        (line,) = [line for line in lines if f"idplus {command}" in line]
        assert f"IDPLUS_ISSUER='{issuer}'" in line, line
    assert any(f"--host {host} --port {port}" in line for line in lines)


def test_make_run_keeps_an_issuer_set_in_the_environment() -> None:
    lines = _dry_run("run", "PORT=8300", IDPLUS_ISSUER="https://id.example.no")
    assert _issuer_of_serve(lines) == "https://id.example.no"


def test_make_run_prints_the_next_steps_before_serving() -> None:
    lines = [line for line in _dry_run("run") if "idplus " in line]
    assert [line.split("idplus ")[1].split()[0:2] for line in lines][-2:] == [
        ["demo", "next-steps"],
        ["serve", "--host"],
    ]


def test_the_install_says_what_it_is_doing_before_the_quiet_pip() -> None:
    lines = _dry_run("-B", "install")
    first_pip = next(i for i, line in enumerate(lines) if "pip install" in line)
    said = [i for i, line in enumerate(lines) if line.startswith("echo") and "Installing" in line]
    assert said
    assert said[0] < first_pip
