"""A command against a database that is down says so in one line and exits with the
environment's exit code (1): no traceback, and no hang on a server that never answers."""

from __future__ import annotations

import time

import pytest

from idplus.cli.help import EXIT_ENVIRONMENT
from tests.cli.conftest import Cli
from tests.unreachable import closed_port, silent_server

NO_HANG_SECONDS = 20.0


@pytest.mark.parametrize(
    "argv", [("client", "list"), ("user", "show", "+4790000001"), ("db", "upgrade")]
)
def test_a_command_against_a_server_that_is_down_fails_in_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]
) -> None:
    monkeypatch.setenv("IDPLUS_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{closed_port()}/x")
    err = Cli(capsys).fails(*argv, code=EXIT_ENVIRONMENT)
    assert err.startswith("idplus: database error: ")
    assert "Connection refused" in err


def test_a_command_against_a_server_that_never_answers_gives_up(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with silent_server() as port:
        monkeypatch.setenv("IDPLUS_DATABASE_URL", f"postgresql://postgres@127.0.0.1:{port}/x")
        started = time.monotonic()
        err = Cli(capsys).fails("client", "list", code=EXIT_ENVIRONMENT)
    assert time.monotonic() - started < NO_HANG_SECONDS
    assert "timeout" in err
