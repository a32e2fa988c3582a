"""`idplus demo …`: the demo data and the first steps `make run` prints."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_demo_seed_prints_credentials_once(cli: Cli) -> None:
    created = cli.ok("demo", "seed")
    assert {c["client_id"] for c in created["clients"]} == {"demo-web", "demo-spa"}
    assert created["user"]["password"]
    assert cli.ok("demo", "seed") == {"seeded": False}


def test_demo_next_steps_tell_a_person_how_to_log_in(cli: Cli, sqlite_url: str) -> None:
    cli.ok("demo", "seed")
    code, out, err = cli.run("demo", "next-steps")
    assert (code, err) == (0, "")
    assert "http://127.0.0.1:8000/debugger" in out
    assert "+4799999999  password demo-password\n" in out
    assert "+4799999998  password demo-password, then the SMS code" in out
    assert "(or demo-web, secret demo-web-development-secret)" in out
    assert max(len(line) for line in out.splitlines() if "rm -f" not in line) <= 80
    database = sqlite_url.removeprefix("sqlite:///")
    assert f"rm -f {database} {database}-wal {database}-shm\n" in out
    assert "var/outbox.jsonl" in out
    assert "http://127.0.0.1:8000/account" in out


def test_demo_next_steps_say_how_to_set_a_password_that_is_not_known(cli: Cli) -> None:
    cli.ok("demo", "seed")
    cli.ok("user", "set-password", "+4799999999", "--password", "changed-by-the-user")
    out = cli.run("demo", "next-steps")[1]
    assert "idplus user set-password +4799999999 --password P" in out
    assert "+4799999998  password demo-password" in out


def test_demo_seed_adds_a_user_with_a_second_factor(cli: Cli) -> None:
    created = cli.ok("demo", "seed")
    assert [u["second_factor"] for u in created["users"]] == [None, "sms"]
    assert cli.ok("user", "show", "+4799999998")["otp"] is True
