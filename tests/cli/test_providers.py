"""`idplus provider …`: upstream identity providers (federation)."""

from __future__ import annotations

import pytest

from tests.cli.conftest import Cli


def test_provider_add_list_show_remove(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "https://id.example.no")
    monkeypatch.setenv("IDPLUS_KEY_ENCRYPTION_KEY", "correct horse battery staple")
    added = cli.ok(
        "provider", "add", "--id", "telenorid", "--issuer", "https://signin.example",
        "--client-id", "idplus", "--client-secret", "upstream-secret-0123456789",
        "--scope", "email", "--scope", "phone", "--display-name", "Telenor ID",
        "--acr", "urn:telenor.identity.aal.2", "--amr", "pwd", "--amr", "otp",
        "--link-by", "email", "--token-auth-method", "client_secret_post",
    )  # fmt: skip
    assert added == {
        "id": "telenorid",
        "redirect_uri": "https://id.example.no/federation/telenorid/callback",
        "post_logout_redirect_uri": "https://id.example.no/federation/telenorid/logged-out",
    }
    cli.ok(
        "provider", "add", "--id", "dev", "--issuer", "http://127.0.0.1:9000", "--client-id", "c"
    )
    shown = cli.ok("provider", "show", "telenorid")
    assert shown["scopes"] == ["openid", "email", "phone"]
    assert shown["amr"] == ["pwd", "otp"]
    assert shown["acr"] == "urn:telenor.identity.aal.2"
    assert (shown["link_by"], shown["token_auth_method"]) == ("email", "client_secret_post")
    assert shown["client_secret"] == "encrypted"
    listed = cli.ok("provider", "list")
    assert [p["id"] for p in listed] == ["dev", "telenorid"]
    assert listed[0]["link_by"] == "none"
    assert listed[0]["token_auth_method"] == "client_secret_basic"
    _, out, _ = cli.run("provider", "list")
    assert "upstream-secret" not in out and "fernet:" not in out

    cli.ok(
        "client", "add", "--client-id", "web", "--type", "Public",
        "--redirect-uri", "https://rp.example/cb", "--provider", "local", "--provider", "dev",
    )  # fmt: skip
    assert "still allowed by client(s) web" in cli.fails("provider", "remove", "dev")
    cli.ok("client", "remove", "web")
    assert cli.ok("provider", "remove", "dev") == {"id": "dev", "removed": True}
    assert "unknown provider" in cli.fails("provider", "show", "dev")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--id", "local", "--issuer", "https://idp.example"], "built-in"),
        (["--id", "Bad", "--issuer", "https://idp.example"], "lower-case"),
        (["--id", "x", "--issuer", "http://idp.example"], "https"),
        (["--id", "x", "--issuer", "https://i.example", "--acr", "aal2"], "telenor.identity.aal"),
        (["--id", "x", "--issuer", "https://i.example", "--link-by", "name"], "link-by"),
        (["--id", "x", "--issuer", "https://i.example", "--token-auth-method", "x"], "auth method"),
    ],
)
def test_provider_add_refuses_bad_input(cli: Cli, argv: list[str], message: str) -> None:
    assert message in cli.fails("provider", "add", "--client-id", "idplus", *argv)


def test_duplicate_and_unknown_providers(cli: Cli) -> None:
    argv = ["provider", "add", "--id", "x", "--issuer", "https://i.example", "--client-id", "c"]
    cli.ok(*argv)
    assert "already exists" in cli.fails(*argv)
    assert "unknown provider" in cli.fails("provider", "remove", "ghost")
    assert "unknown provider 'ghost'" in cli.fails(
        "client", "add", "--client-id", "web", "--type", "Public",
        "--redirect-uri", "https://rp.example/cb", "--provider", "ghost",
    )  # fmt: skip


def test_provider_choices_take_any_case(cli: Cli) -> None:
    cli.ok(
        "provider", "add", "--id", "x", "--issuer", "https://i.example", "--client-id", "c",
        "--link-by", "Phone_Number", "--token-auth-method", "CLIENT_SECRET_POST",
        "--acr", "URN:telenor.identity.aal.3",
    )  # fmt: skip
    shown = cli.ok("provider", "show", "x")
    assert (shown["link_by"], shown["token_auth_method"]) == ("phone_number", "client_secret_post")
    assert shown["acr"] == "urn:telenor.identity.aal.3"


def test_provider_list_as_a_table_holds_no_secret(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDPLUS_KEY_ENCRYPTION_KEY", "correct horse battery staple")
    cli.ok("provider", "add", "--id", "azure", "--issuer", "https://login.example",
           "--client-id", "idplus", "--client-secret", "upstream-secret-0123456789",
           "--display-name", "Telenor Azure")  # fmt: skip
    header, row = cli.text("provider", "list", "--format", "table").splitlines()
    assert header.split() == ["ID", "DISPLAY_NAME", "ISSUER", "CLIENT_ID", "LINK_BY", "ACR"]
    assert row.split("  ")[0] == "azure"
    assert "Telenor Azure" in row
    assert "upstream-secret" not in row
