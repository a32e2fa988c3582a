"""`idplus user passkeys U` lists a user's passkeys (JSON, or a table); `--remove ID` removes
one (issue 18 item 4)."""

from __future__ import annotations

from idplus.clock import FrozenClock
from idplus.store.sql.uow import SqlStore
from tests.cli.conftest import Cli
from tests.store.sql.test_passkeys import _passkey


def _add_passkeys(cli: Cli, url: str) -> str:
    user_id: str = cli.ok("user", "add", "--username", "90000001", "--password", "hunter22")["id"]
    store = SqlStore.from_url(url)
    try:
        with store.transaction() as uow:
            uow.passkeys.insert(_passkey("pk1", user_id=user_id, created_at=FrozenClock().now()))
            uow.passkeys.insert(_passkey("pk2", user_id=user_id, name="YubiKey 5"))
    finally:
        store.dispose()
    return user_id


def test_an_operator_lists_and_removes_a_users_passkeys(
    cli_on_each_database: Cli, database_url: str
) -> None:
    cli = cli_on_each_database
    _add_passkeys(cli, database_url)

    listed = cli.ok("user", "passkeys", "+4790000001")
    table = cli.text("user", "passkeys", "90000001", "--format", "table")
    removed = cli.ok("user", "passkeys", "90000001", "--remove", "pk1")

    assert [(p["id"], p["name"]) for p in listed] == [("pk1", "Kari's phone"), ("pk2", "YubiKey 5")]
    assert listed[0]["backup_eligible"] is True
    assert "public_key" not in listed[0]
    assert table.splitlines()[0].split() == [
        "ID",
        "NAME",
        "CREATED_AT",
        "LAST_USED_AT",
        "BACKUP_ELIGIBLE",
        "HARDWARE_ATTESTED",
    ]
    assert "YubiKey 5" in table
    assert removed == {"username": "90000001", "removed": "pk1", "sessions_ended": 0}
    assert [p["id"] for p in cli.ok("user", "passkeys", "90000001")] == ["pk2"]


def test_unknown_users_and_passkeys_are_one_line_errors(cli: Cli, sqlite_url: str) -> None:
    _add_passkeys(cli, sqlite_url)

    assert "unknown user" in cli.fails("user", "passkeys", "91111111")
    assert "no passkey 'pk9'" in cli.fails("user", "passkeys", "90000001", "--remove", "pk9")


def test_a_user_without_passkeys_has_an_empty_list(cli: Cli) -> None:
    cli.ok("user", "add", "--username", "90000001", "--password", "hunter22")

    assert cli.ok("user", "passkeys", "90000001") == []
