"""The `idplus` command as a whole: help that stands on its own, shell completion, and errors
as one line on stderr with a meaningful exit code."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import click
import pytest

from idplus.cli.main import cli as root
from tests.cli.conftest import Cli


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    yield path
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name)


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = root
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


COMMANDS = list(_commands(root))


def test_every_command_of_interface_md_is_there() -> None:
    assert {" ".join(path) for path in COMMANDS} >= {
        "db upgrade", "db prune", "serve", "client add", "client show", "client list",
        "client rotate-secret", "client remove", "user add", "user show", "user set-password",
        "user remove", "keys rotate", "keys list", "api-product add", "api-product list",
        "provider add", "provider list", "provider show", "provider remove", "demo seed",
        "demo next-steps", "audit list",
    }  # fmt: skip


@pytest.mark.parametrize("path", COMMANDS, ids=lambda path: " ".join(path) or "idplus")
def test_every_help_says_what_the_command_does_with_an_example_and_the_exit_codes(
    cli: Cli, path: tuple[str, ...]
) -> None:
    command = _command(path)
    out = cli.text(*path, "--help")

    description = (command.help or "").strip()
    assert description, "a description"
    assert " ".join(description.split()[:4]) in " ".join(out.split())
    example = out.split("Example")[1]
    assert f"idplus {' '.join(path)}".strip() in example, "an example of this very command"
    assert "Exit codes: 0 success; 2 bad input" in " ".join(out.split())
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help, f"{param.opts[0]} has a description"
        if isinstance(param, click.Argument):
            assert param.human_readable_name in description, "the argument is explained"


def test_help_needs_neither_a_database_nor_a_valid_configuration(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "ftp://nope")
    monkeypatch.setenv("IDPLUS_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert "Register a client" in cli.text("client", "add", "--help")


def test_the_top_level_help_explains_output_exit_codes_and_completion(cli: Cli) -> None:
    out = " ".join(cli.text("--help").split())
    assert "one JSON document on stdout" in out
    assert "--format table" in out
    assert "`idplus audit list` prints JSON lines" in out
    assert "_IDPLUS_COMPLETE=bash_source idplus" in out


def test_choices_are_listed_in_their_own_spelling(cli: Cli) -> None:
    out = cli.text("client", "add", "--help")
    assert "--type [Public|PublicWithRefresh|Confidential|MobileApp]" in out
    assert "--environment [test|prod]" in out
    assert "urn:ietf:params:oauth:grant-type:token-exchange\n" in out, "a URN is never broken"


def _complete(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, line: str, shell: str = "bash"
) -> list[str]:
    """What the shell would offer after `line` (click's completion protocol, as in the script
    `_IDPLUS_COMPLETE=bash_source idplus` prints)."""
    words = line.split(" ")
    monkeypatch.setenv("_IDPLUS_COMPLETE", f"{shell}_complete")
    monkeypatch.setenv("COMP_WORDS", line)
    monkeypatch.setenv("COMP_CWORD", str(len(words) - 1))
    code, out, _ = cli.run()
    assert code == 0
    return [item.split(",", 1)[1] for item in out.splitlines()]


def test_shell_completion_offers_commands_options_and_choices(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _complete(cli, monkeypatch, "idplus cl") == ["client"]
    assert _complete(cli, monkeypatch, "idplus client add --type pub") == [
        "Public",
        "PublicWithRefresh",
    ]
    assert _complete(cli, monkeypatch, "idplus client add --environment ") == ["test", "prod"]
    assert "--since" in _complete(cli, monkeypatch, "idplus audit list --")


def test_the_completion_script_names_the_command(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_IDPLUS_COMPLETE", "bash_source")
    code, out, _ = cli.run()
    assert code == 0
    assert "complete -o nosort -F _idplus_completion idplus" in out


def test_bad_configuration_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "ftp://nope")
    assert "issuer" in cli.fails("client", "list")


def test_an_unknown_command_is_bad_input(cli: Cli) -> None:
    assert "No such command 'clients'" in cli.fails("clients", "list")


def test_console_script_runs_as_a_process(sqlite_url: str) -> None:
    env = {"IDPLUS_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "idplus", "client", "show", "ghost"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "idplus: unknown client 'ghost'\n"
