"""Running `idplus …` in-process: exit code, stdout and stderr of one command at a time."""

from __future__ import annotations

import json
from typing import Any

import pytest
import uvicorn

from idplus.cli.main import main


class Cli:
    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self.capsys = capsys

    def run(self, *argv: str) -> tuple[int, str, str]:
        code = 0
        try:
            main(list(argv))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out, err = self.capsys.readouterr()
        return code, out, err

    def text(self, *argv: str) -> str:
        """What a successful command printed."""
        code, out, err = self.run(*argv)
        assert (code, err) == (0, ""), err
        return out

    def ok(self, *argv: str) -> Any:
        return json.loads(self.text(*argv))

    def lines(self, *argv: str) -> list[Any]:
        """JSON lines: one document per line."""
        return [json.loads(line) for line in self.text(*argv).splitlines()]

    def fails(self, *argv: str, code: int = 2) -> str:
        exit_code, out, err = self.run(*argv)
        assert exit_code == code
        assert out == ""
        assert err.count("\n") == 1, "one line on stderr"
        assert "Traceback" not in err
        return err


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, sqlite_url: str
) -> Cli:
    monkeypatch.setenv("IDPLUS_DATABASE_URL", sqlite_url)
    return Cli(capsys)


@pytest.fixture
def cli_on_each_database(
    database_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """The CLI on SQLite and on PostgreSQL (the same database as the `store` fixture). The
    database comes first: the first test on a backend migrates its template, whose log lines
    must not land in the output `capsys` captures."""
    monkeypatch.setenv("IDPLUS_DATABASE_URL", database_url)
    return Cli(capsys)


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `idplus serve` would start, instead of starting it."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: runs.append(options))
    return runs
