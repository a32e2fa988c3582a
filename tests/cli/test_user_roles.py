"""`idplus user grant-role / revoke-role / lock / unlock USERNAME_OR_ID`: one JSON document on
stdout, or one line on stderr and exit code 2. The last operator keeps their role and cannot be
locked or removed, from the command line too."""

from __future__ import annotations

import json

from tests.cli.conftest import Cli


def _add(cli: Cli, username: str) -> str:
    user_id: str = cli.ok("user", "add", "--username", username, "--password", "hunter22")["id"]
    return user_id


def test_grant_and_revoke_the_operator_role(cli: Cli) -> None:
    kari = _add(cli, "kari@example.no")
    ola = _add(cli, "90000002")

    granted = cli.ok("user", "grant-role", "Kari@Example.no", "operator")
    cli.ok("user", "grant-role", ola, "Operator")  # by id; the role in any case

    assert granted["id"] == kari
    assert granted["roles"] == ["operator"]
    assert granted["locked_at"] is None
    assert "hunter22" not in json.dumps(granted) and "argon2" not in json.dumps(granted)
    revoked = cli.ok("user", "revoke-role", "kari@example.no", "operator")
    assert revoked["roles"] == []


def test_lock_and_unlock(cli: Cli) -> None:
    _add(cli, "90000001")

    locked = cli.ok("user", "lock", "90000001", "--reason", "reported stolen phone")
    unlocked = cli.ok("user", "unlock", "+4790000001")

    assert locked["locked_at"] is not None
    assert locked["live_sessions"] == 0
    assert unlocked["locked_at"] is None
    events = cli.lines("audit", "list", "--event", "user.locked")
    assert [e["detail"]["reason"] for e in events] == ["reported stolen phone"]
    assert "actor" not in events[0]["detail"]  # the CLI is the console of the server


def test_the_last_operator_stays_one(cli: Cli) -> None:
    _add(cli, "90000001")
    cli.ok("user", "grant-role", "90000001", "operator")

    assert "last operator" in cli.fails("user", "revoke-role", "90000001", "operator")
    assert "last operator" in cli.fails("user", "lock", "90000001")
    assert "last operator" in cli.fails("user", "remove", "90000001")
    assert cli.ok("user", "show", "90000001")["username"] == "+4790000001"


def test_errors_are_one_line(cli: Cli) -> None:
    _add(cli, "90000001")
    assert "unknown user" in cli.fails("user", "lock", "nobody")
    assert "unknown user" in cli.fails("user", "grant-role", "91111111", "operator")
    assert "role" in cli.fails("user", "grant-role", "90000001", "admin")
    assert "reason" in cli.fails("user", "lock", "90000001", "--reason", "x" * 501)
