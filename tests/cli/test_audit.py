"""`idplus audit list`: the audit trail as JSON lines, filtered in the database, on both
backends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from idplus.models import AuditEvent
from idplus.store.base import Store
from tests.cli.conftest import Cli

NOW = datetime.now(UTC)
OSLO = ZoneInfo("Europe/Oslo")


def _record(store: Store, *events: AuditEvent) -> None:
    with store.transaction() as uow:
        for event in events:
            uow.audit.record(event)


@pytest.fixture
def trail(store: Store) -> None:
    """Oldest first: three days, two hours and ten minutes ago, then now."""
    _record(
        store,
        AuditEvent("client.added", NOW - timedelta(days=3), client_id="shop"),
        AuditEvent("user.password_set", NOW - timedelta(hours=2), user_id="u-1"),
        AuditEvent(
            "user.app_revoked", NOW - timedelta(minutes=10), client_id="shop", user_id="u-2"
        ),
        AuditEvent("key.rotated", NOW, detail={"kid": "k-2", "replaced": ["k-1"]}),
    )


@pytest.mark.usefixtures("trail")
def test_audit_list_prints_one_json_object_per_line_newest_first(cli_on_each_database: Cli) -> None:
    events = cli_on_each_database.lines("audit", "list")
    assert [e["event"] for e in events] == [
        "key.rotated", "user.app_revoked", "user.password_set", "client.added"
    ]  # fmt: skip
    assert events[0] == {
        "at": NOW.isoformat(),
        "event": "key.rotated",
        "client_id": None,
        "user_id": None,
        "target": None,
        "detail": {"kid": "k-2", "replaced": ["k-1"]},
    }


@pytest.mark.usefixtures("trail")
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--actor", "shop"], ["user.app_revoked", "client.added"]),
        (["--actor", "u-1"], ["user.password_set"]),
        (["--actor", "nobody"], []),
        (["--since", "24h"], ["key.rotated", "user.app_revoked", "user.password_set"]),
        (["--since", "30m"], ["key.rotated", "user.app_revoked"]),
        (["--since", "1w"], ["key.rotated", "user.app_revoked", "user.password_set",
                             "client.added"]),
        (["--since", (NOW - timedelta(hours=3)).isoformat()],
         ["key.rotated", "user.app_revoked", "user.password_set"]),
        # No offset: UTC.
        (["--since", (NOW - timedelta(hours=1)).replace(tzinfo=None).isoformat()],
         ["key.rotated", "user.app_revoked"]),
        (["--since", (NOW - timedelta(hours=1)).astimezone(OSLO).isoformat()],
         ["key.rotated", "user.app_revoked"]),
        (["--event", "client.added"], ["client.added"]),
        (["--event", "user.*"], ["user.app_revoked", "user.password_set"]),
        (["--event", "client.added", "--event", "key.*"], ["key.rotated", "client.added"]),
        (["--event", "user"], []),
        (["--limit", "2"], ["key.rotated", "user.app_revoked"]),
        (["--actor", "shop", "--since", "1d", "--event", "user.*"], ["user.app_revoked"]),
        (["--actor", "shop", "--limit", "1"], ["user.app_revoked"]),
    ],
)  # fmt: skip
def test_audit_list_filters(
    cli_on_each_database: Cli, argv: list[str], expected: list[str]
) -> None:
    events = cli_on_each_database.lines("audit", "list", *argv)
    assert [e["event"] for e in events] == expected


def test_an_event_prefix_matches_its_characters_literally(
    cli_on_each_database: Cli, store: Store
) -> None:
    """`_` and `%` are SQL LIKE wildcards; in an event name they are just characters."""
    _record(
        store,
        AuditEvent("user.password_set", NOW),
        AuditEvent("user.passwordless", NOW),
        AuditEvent("user.100%_done", NOW),
        AuditEvent("user.100x_done", NOW),
    )
    listed = cli_on_each_database.lines("audit", "list", "--event", "user.password_*")
    assert [e["event"] for e in listed] == ["user.password_set"]
    listed = cli_on_each_database.lines("audit", "list", "--event", "user.100%*")
    assert [e["event"] for e in listed] == ["user.100%_done"]


def test_a_user_is_found_by_username_as_well_as_by_id(cli_on_each_database: Cli) -> None:
    cli = cli_on_each_database
    kari = cli.ok("user", "add", "--username", "90012345", "--password", "hunter22")
    cli.ok("user", "add", "--username", "91111111", "--password", "hunter22")
    cli.ok("user", "set-password", "+47 900 12 345", "--password", "hunter33")

    by_username = cli.lines("audit", "list", "--actor", "900 12 345")
    assert [e["event"] for e in by_username] == ["user.password_set", "user.added"]
    assert {e["user_id"] for e in by_username} == {kari["id"]}
    assert cli.lines("audit", "list", "--actor", kari["id"]) == by_username

    cli.ok("user", "remove", "90012345")
    assert cli.lines("audit", "list", "--actor", "90012345") == []
    removed = cli.lines("audit", "list", "--actor", kari["id"])
    assert [e["event"] for e in removed] == ["user.removed", "user.password_set", "user.added"]


def test_nothing_matching_prints_nothing(cli_on_each_database: Cli) -> None:
    assert cli_on_each_database.text("audit", "list", "--event", "login") == ""


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday' is neither an ISO-8601 time"),
        (["--since", "24 hours"], "a duration back from now (90s, 30m, 24h, 7d, 2w)"),
        (["--since", "999999999w"], "--since '999999999w'"),
        (["--limit", "0"], "--limit"),
        (["--format", "csv"], "unknown format 'csv'"),
    ],
)
def test_audit_list_refuses_bad_filters(cli: Cli, argv: list[str], message: str) -> None:
    assert message in cli.fails("audit", "list", *argv)


@pytest.mark.usefixtures("trail")
def test_audit_list_as_a_table(cli_on_each_database: Cli) -> None:
    out = cli_on_each_database.text("audit", "list", "--actor", "shop", "--format", "table")
    header, *rows = out.splitlines()
    assert header.split() == ["AT", "EVENT", "CLIENT_ID", "USER_ID", "DETAIL"]
    assert [row.split()[1:4] for row in rows] == [
        ["user.app_revoked", "shop", "u-2"],
        ["client.added", "shop", "-"],
    ]
    assert rows[0].startswith((NOW - timedelta(minutes=10)).isoformat())


@pytest.mark.usefixtures("trail")
def test_a_table_shows_the_detail(cli_on_each_database: Cli) -> None:
    out = cli_on_each_database.text("audit", "list", "--event", "key.*", "--format", "table")
    assert out.splitlines()[1].endswith("kid=k-2 replaced=k-1")


def test_no_secret_password_or_code_is_ever_printed(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDPLUS_KEY_ENCRYPTION_KEY", "correct horse battery staple")
    seeded = cli.ok("demo", "seed")
    printed = [
        cli.ok("client", "add", "--client-id", "shop", "--type", "Confidential",
               "--secret", "shop-secret-0123456789")["client_secret"],
        cli.ok("client", "rotate-secret", "shop")["client_secret"],
        cli.ok("client", "rotate-secret", "shop", "--secret", "given-secret-0123456789")[
            "client_secret"],
        "upstream-secret-0123456789",
        "first-password-1", "second-password-2",
    ]  # fmt: skip
    cli.ok("provider", "add", "--id", "azure", "--issuer", "https://login.example",
           "--client-id", "idplus", "--client-secret", "upstream-secret-0123456789")  # fmt: skip
    cli.ok("user", "add", "--username", "90012345", "--password", "first-password-1", "--otp")
    cli.ok("user", "set-password", "90012345", "--password", "second-password-2")
    printed += [c["client_secret"] for c in seeded["clients"] if c.get("client_secret")]
    printed += [u["password"] for u in seeded["users"]]
    cli.ok("keys", "rotate")

    for output_format in ("json", "table"):
        out = cli.text("audit", "list", "--limit", "1000", "--format", output_format)
        assert "client.secret_rotated" in out and "user.password_set" in out
        leaked = [secret for secret in printed if secret in out]
        assert leaked == []
        # No field is named so (a value may be: grant type authorization_code, response type code).
        fields = ("secret", "password", "code")
        assert [f for f in fields if f'{f}":' in out or f"{f}=" in out] == []
        for word in ("argon2", "fernet:", "BEGIN"):
            assert word not in out
