"""`idplus user …`: add, show, set a password, remove."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli


def test_user_add_and_show(cli: Cli) -> None:
    added = cli.ok(
        "user", "add", "--username", "900 12 345", "--password", "hunter22",
        "--phone-number", "90012345", "--email", "Kari@Example.no", "--given-name", "Kari",
        "--family-name", "Nordmann", "--birthdate", "1990-05-17", "--ial", "2",
        "--kurtid", "4242", "--tnuid", "t-1", "--tnuid", "t-2", "--otp",
    )  # fmt: skip
    assert added["kurtid"] == "4242"
    assert added["tnuid"] == ["t-1", "t-2"]
    assert added["id"]
    shown = cli.ok("user", "show", "+4790012345")
    assert shown["email"] == "kari@example.no"
    assert shown["otp"] is True
    assert shown["ial"] == 2
    assert "hunter22" not in json.dumps(shown)
    assert "argon2" not in json.dumps(shown)


def test_user_errors(cli: Cli) -> None:
    cli.ok("user", "add", "--username", "90012345", "--password", "hunter22")
    assert "already exists" in cli.fails("user", "add", "--username", "+4790012345",
                                         "--password", "hunter22")  # fmt: skip
    assert "unknown user" in cli.fails("user", "show", "91111111")
    assert "mobile number or an e-mail" in cli.fails("user", "add", "--username", "kari",
                                                     "--password", "hunter22")  # fmt: skip
    assert "--ial" in cli.fails("user", "add", "--username", "91111111", "--password",
                                "hunter22", "--ial", "7")  # fmt: skip


def test_a_duplicate_user_is_reported_as_such_even_with_a_weak_password(cli: Cli) -> None:
    """Telling the operator the password is too short would send them to fix the wrong thing."""
    cli.ok("user", "add", "--username", "kari@example.no", "--password", "hunter22")
    error = cli.fails("user", "add", "--username", "Kari@Example.no", "--password", "x")
    assert error == "idplus: user 'kari@example.no' already exists\n"
    assert "at least 8 characters" in cli.fails(
        "user", "add", "--username", "ola@example.no", "--password", "x"
    )


def test_user_set_password_and_remove(cli: Cli) -> None:
    cli.ok("user", "add", "--username", "90012345", "--password", "hunter22")
    assert cli.ok("user", "set-password", "90012345", "--password", "hunter33")
    assert cli.ok("user", "remove", "90012345")["removed"] is True
    assert "unknown user" in cli.fails("user", "remove", "90012345")
