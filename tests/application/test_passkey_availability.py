"""The server says once, at start, why passkeys are off for its issuer (issue 18 item 1)."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.config import Settings


def _start_lines(settings: Settings, capsys: pytest.CaptureFixture[str]) -> list[dict[str, str]]:
    with TestClient(create_app(settings), base_url=settings.issuer):
        pass
    out = capsys.readouterr().out
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_an_ip_address_issuer_starts_with_one_warning_saying_why(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = _start_lines(settings, capsys)

    (warning,) = [line for line in lines if "passkeys" in line["event"]]
    assert (warning["event"], warning["level"]) == ("passkeys_unavailable", "warning")
    assert "IP address" in warning["reason"]


def test_a_localhost_issuer_says_what_passkeys_are_bound_to(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    localhost = settings.model_copy(update={"issuer": "http://localhost:8000"})

    lines = _start_lines(localhost, capsys)

    (line,) = [line for line in lines if "passkeys" in line["event"]]
    assert (line["event"], line["rp_id"], line["origin"]) == (
        "passkeys_available",
        "localhost",
        "http://localhost:8000",
    )
