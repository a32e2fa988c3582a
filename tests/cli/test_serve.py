"""`idplus serve`: what it refuses, and what it hands uvicorn (never started here)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.cli.conftest import Cli


@pytest.mark.parametrize(
    ("outside_secrets", "missing"),
    [
        ({}, "IDPLUS_SECRET_KEY and IDPLUS_KEY_ENCRYPTION_KEY"),
        ({"IDPLUS_SECRET_KEY": "cookie-key-from-the-vault"}, "IDPLUS_KEY_ENCRYPTION_KEY"),
    ],
)
def test_serve_refuses_an_https_issuer_whose_secrets_live_in_the_database(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    uvicorn_runs: list[dict[str, Any]],
    outside_secrets: dict[str, str],
    missing: str,
) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "https://id.example.no")
    for name, value in outside_secrets.items():
        monkeypatch.setenv(name, value)
    assert missing in cli.fails("serve")
    assert uvicorn_runs == []


def test_serve_leaves_forwarded_headers_to_the_application(
    cli: Cli, uvicorn_runs: list[dict[str, Any]]
) -> None:
    """uvicorn would trust loopback's X-Forwarded-For whatever IDPLUS_TRUSTED_PROXIES says."""
    assert cli.run("serve")[0] == 0
    assert [r["proxy_headers"] for r in uvicorn_runs] == [False]


def test_serve_warns_when_a_loopback_issuer_names_another_port(
    cli: Cli, uvicorn_runs: list[dict[str, Any]]
) -> None:
    """`idplus serve --port 8300` under the default issuer sends every browser to 8000."""
    code, out, _ = cli.run("serve", "--port", "8300")
    assert code == 0
    (warning,) = [json.loads(line) for line in out.splitlines() if "issuer_port" in line]
    assert warning["level"] == "warning"
    assert "IDPLUS_ISSUER=http://localhost:8300" in warning["problem"]
    assert [r["port"] for r in uvicorn_runs] == [8300]


def test_serve_is_quiet_when_the_issuer_names_the_served_port(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_runs: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "http://localhost:8300")
    code, out, _ = cli.run("serve", "--host", "0.0.0.0", "--port", "8300")  # noqa: S104
    assert code == 0
    assert "issuer_port" not in out


def test_serve_refuses_a_metrics_port_equal_to_the_served_port(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_runs: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("IDPLUS_METRICS_PORT", "8000")
    assert "IDPLUS_METRICS_PORT must differ from --port (8000)" in cli.fails("serve")
    assert uvicorn_runs == []
