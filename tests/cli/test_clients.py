"""`idplus client …`: register, show, list, rotate and remove clients."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Cli


def test_client_add_show_list_rotate_remove(cli: Cli) -> None:
    cli.ok("api-product", "add", "--scope", "api:tv")
    added = cli.ok(
        "client", "add", "--client-id", "web", "--type", "Confidential",
        "--redirect-uri", "https://rp.example/cb",
        "--post-logout-redirect-uri", "https://rp.example/bye",
        "--scope", "openid", "--scope", "offline_access", "--scope", "api:tv",
        "--grant-type", "authorization_code", "--grant-type", "refresh_token",
        "--api-access", "--silent-sso", "--one-telenor",
        "--backchannel-logout-uri", "https://rp.example/bcl", "--name", "Web shop",
    )  # fmt: skip
    assert added["client_id"] == "web"
    assert len(added["client_secret"]) >= 32

    shown = cli.ok("client", "show", "web")
    assert shown["name"] == "Web shop"
    assert shown["type"] == "Confidential"
    assert shown["scopes"] == ["openid", "offline_access"]
    assert shown["api_products"] == ["api:tv"]
    assert shown["api_access"] and shown["silent_sso"] and shown["one_telenor"]
    assert shown["backchannel_logout_uri"] == "https://rp.example/bcl"
    assert added["client_secret"] not in json.dumps(shown)

    rotated = cli.ok("client", "rotate-secret", "web")
    assert rotated["client_secret"] != added["client_secret"]
    assert len(cli.ok("client", "show", "web")["secrets"]) == 2
    assert [c["client_id"] for c in cli.ok("client", "list")] == ["web"]
    assert cli.ok("client", "remove", "web") == {"client_id": "web", "removed": True}
    assert cli.ok("client", "list") == []


def test_public_client_gets_no_secret(cli: Cli) -> None:
    added = cli.ok("client", "add", "--client-id", "spa", "--type", "Public",
                   "--redirect-uri", "http://127.0.0.1:8000/cb")  # fmt: skip
    assert added == {"client_id": "spa", "client_secret": None}


def test_confidential_client_keeps_a_given_secret(cli: Cli) -> None:
    added = cli.ok("client", "add", "--client-id", "bff", "--type", "Confidential",
                   "--secret", "a-secret-of-decent-length")  # fmt: skip
    assert added["client_secret"] == "a-secret-of-decent-length"


def test_closed_sets_take_any_case_and_are_stored_in_their_own_spelling(cli: Cli) -> None:
    cli.ok(
        "client", "add", "--client-id", "partner", "--type", "CONFIDENTIAL",
        "--environment", "Prod", "--grant-type", "Client_Credentials",
        "--grant-type", "URN:openid:params:grant-type:CIBA", "--ciba-enabled",
    )  # fmt: skip
    cli.ok("client", "add", "--client-id", "spa", "--type", "publicwithrefresh")
    partner = cli.ok("client", "show", "partner")
    assert (partner["type"], partner["environment"]) == ("Confidential", "prod")
    assert partner["grant_types"] == ["client_credentials", "urn:openid:params:grant-type:ciba"]
    assert cli.ok("client", "show", "spa")["type"] == "PublicWithRefresh"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--type", "Spa"], "unknown client type 'Spa' (choose Public, PublicWithRefresh, "
                            "Confidential, MobileApp)"),
        # Reserved, so not even offered.
        (["--type", "Undefined"], "unknown client type 'Undefined'"),
        (["--type", "Public", "--environment", "staging"], "unknown environment 'staging' "
                                                           "(choose test, prod)"),
        (["--type", "Public", "--grant-type", "implicit"], "unknown grant type 'implicit'"),
        (["--type", "Public", "--redirect-uri", "http://rp.example/cb"], "must use https"),
        (["--type", "Public", "--redirect-uri", "https://rp.example/cb#x"], "fragment"),
        (["--type", "Public", "--secret", "a-secret-of-decent-length"], "only Confidential"),
        (["--type", "Public", "--grant-type", "client_credentials"], "only for Confidential"),
        (["--type", "Public", "--scope", "bogus"], "unknown scope"),
        (["--type", "Confidential", "--api-access", "--scope", "api:nope"], "unknown API product"),
    ],
)  # fmt: skip
def test_client_add_refuses_bad_input(cli: Cli, argv: list[str], message: str) -> None:
    assert message in cli.fails("client", "add", "--client-id", "x", *argv)


def test_a_missing_type_names_the_choices(cli: Cli) -> None:
    error = cli.fails("client", "add", "--client-id", "x")
    assert "'--type'" in error
    assert "Public, PublicWithRefresh, Confidential, MobileApp" in error


def test_duplicate_client_and_unknown_client(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "spa", "--type", "Public")
    assert "already exists" in cli.fails("client", "add", "--client-id", "spa", "--type", "Public")
    for argv in (["show", "nobody"], ["remove", "nobody"], ["rotate-secret", "nobody"]):
        assert "unknown client 'nobody'" in cli.fails("client", *argv)


def test_missing_required_option_is_one_line(cli: Cli) -> None:
    assert "--client-id" in cli.fails("client", "add", "--type", "Public")


def test_client_list_as_a_table_for_people(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "shop", "--type", "Confidential",
           "--name", "Telenor  Shop  Norge", "--environment", "prod")  # fmt: skip
    cli.ok("client", "add", "--client-id", "spa", "--type", "Public", "--redirect-uri",
           "https://a.example/cb", "--redirect-uri", "https://b.example/cb")  # fmt: skip

    header, *rows = cli.text("client", "list", "--format", "TABLE").splitlines()

    assert header.split() == [
        "CLIENT_ID", "TYPE", "NAME", "ENVIRONMENT", "GRANT_TYPES", "REDIRECT_URIS"
    ]  # fmt: skip
    assert [row.split("  ")[0].strip() for row in rows] == ["shop", "spa"]
    # Aligned: each column starts where its heading does, on every row.
    for column in ("TYPE", "NAME", "ENVIRONMENT", "REDIRECT_URIS"):
        start = header.index(column)
        assert all(row[start - 2 : start] == "  " and row[start] != " " for row in rows)
    assert "Telenor Shop Norge" in rows[0], "a name stays on its row, spaces squeezed"
    assert rows[0].rstrip().endswith("-"), "no redirect URIs"
    assert "https://a.example/cb,https://b.example/cb" in rows[1]


def test_a_name_of_more_than_one_line_is_refused(cli: Cli) -> None:
    """Users read it on login, consent and CIBA pages and in SMS (issue 20 item 4)."""
    err = cli.fails("client", "add", "--client-id", "shop", "--type", "Confidential",
                    "--name", "Telenor Shop\nNorge")  # fmt: skip
    assert "one line" in err


def test_client_list_is_json_by_default(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "spa", "--type", "Public")
    assert cli.ok("client", "list") == cli.ok("client", "list", "--format", "json")
    assert "unknown format 'xml'" in cli.fails("client", "list", "--format", "xml")
