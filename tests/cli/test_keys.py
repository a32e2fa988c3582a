"""`idplus keys …`: rotate and list the signing keys."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_keys_rotate_and_list(cli: Cli) -> None:
    first = cli.ok("keys", "rotate")
    second = cli.ok("keys", "rotate")
    states = {k["kid"]: k["state"] for k in cli.ok("keys", "list")}
    assert states == {first["kid"]: "signing", second["kid"]: "next"}


def test_keys_list_as_a_table(cli: Cli) -> None:
    first = cli.ok("keys", "rotate")
    second = cli.ok("keys", "rotate")

    header, *rows = cli.text("keys", "list", "--format", "table").splitlines()

    assert header.split() == ["KID", "ALG", "STATE", "ACTIVATE_AT", "PUBLISH_UNTIL", "ENCRYPTED"]
    states = {row.split()[0]: row.split()[2] for row in rows}
    assert states == {first["kid"]: "signing", second["kid"]: "next"}
    assert all(row.split()[-1] in ("yes", "no") for row in rows)
