"""Every CLI command of INTERFACE.md, its JSON output and its error paths."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
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

    def ok(self, *argv: str) -> Any:
        code, out, err = self.run(*argv)
        assert (code, err) == (0, ""), err
        return json.loads(out)

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


def test_db_upgrade_on_a_migrated_database_changes_nothing(cli: Cli) -> None:
    assert cli.ok("db", "upgrade") == {"revision": "0015", "changed": False}


def test_db_prune_reports_what_it_deleted(cli: Cli) -> None:
    deleted = cli.ok("db", "prune")["deleted"]
    assert set(deleted) >= {"interactions", "authorization_codes", "refresh_tokens"}
    assert all(count == 0 for count in deleted.values())


def test_db_upgrade_creates_the_schema(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDPLUS_DATABASE_URL", f"sqlite:///{tmp_path / 'new' / 'db.sqlite'}")
    assert cli.ok("db", "upgrade")["changed"] is True
    assert cli.ok("db", "upgrade")["changed"] is False


def test_commands_on_an_unmigrated_database_say_what_to_do(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("IDPLUS_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert "idplus db upgrade" in cli.fails("client", "list", code=1)


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


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--type", "Spa"], "unknown client type"),
        (["--type", "Undefined"], "Undefined is reserved"),
        (["--type", "Public", "--redirect-uri", "http://rp.example/cb"], "must use https"),
        (["--type", "Public", "--redirect-uri", "https://rp.example/cb#x"], "fragment"),
        (["--type", "Public", "--secret", "a-secret-of-decent-length"], "only Confidential"),
        (["--type", "Public", "--grant-type", "client_credentials"], "only for Confidential"),
        (["--type", "Public", "--scope", "bogus"], "unknown scope"),
        (["--type", "Confidential", "--api-access", "--scope", "api:nope"], "unknown API product"),
    ],
)
def test_client_add_refuses_bad_input(cli: Cli, argv: list[str], message: str) -> None:
    assert message in cli.fails("client", "add", "--client-id", "x", *argv)


def test_duplicate_client_and_unknown_client(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "spa", "--type", "Public")
    assert "already exists" in cli.fails("client", "add", "--client-id", "spa", "--type", "Public")
    for argv in (["show", "nobody"], ["remove", "nobody"], ["rotate-secret", "nobody"]):
        assert "unknown client 'nobody'" in cli.fails("client", *argv)


def test_missing_required_option_is_one_line(cli: Cli) -> None:
    assert "--client-id" in cli.fails("client", "add", "--type", "Public")


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


def test_user_set_password_and_remove(cli: Cli) -> None:
    cli.ok("user", "add", "--username", "90012345", "--password", "hunter22")
    assert cli.ok("user", "set-password", "90012345", "--password", "hunter33")
    assert cli.ok("user", "remove", "90012345")["removed"] is True
    assert "unknown user" in cli.fails("user", "remove", "90012345")


def test_keys_rotate_and_list(cli: Cli) -> None:
    first = cli.ok("keys", "rotate")
    second = cli.ok("keys", "rotate")
    states = {k["kid"]: k["state"] for k in cli.ok("keys", "list")}
    assert states == {first["kid"]: "signing", second["kid"]: "next"}


def test_api_product_add(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "partner", "--type", "Confidential",
           "--grant-type", "client_credentials", "--api-access")  # fmt: skip
    product = cli.ok("api-product", "add", "--scope", "api:tv", "--client-id", "partner")
    assert product == {"scope": "api:tv", "name": "tv", "client_ids": ["partner"]}
    assert cli.ok("api-product", "list") == [product]
    assert "unknown client" in cli.fails("api-product", "add", "--scope", "api:tv",
                                         "--client-id", "ghost")  # fmt: skip
    assert "api:NAME" in cli.fails("api-product", "add", "--scope", "tv")


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


def test_demo_seed_prints_credentials_once(cli: Cli) -> None:
    created = cli.ok("demo", "seed")
    assert {c["client_id"] for c in created["clients"]} == {"demo-web", "demo-spa"}
    assert created["user"]["password"]
    assert cli.ok("demo", "seed") == {"seeded": False}


def test_bad_configuration_is_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "ftp://nope")
    assert "issuer" in cli.fails("client", "list")


def test_console_script_runs_as_a_process(sqlite_url: str) -> None:
    env = {"IDPLUS_DATABASE_URL": sqlite_url, "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "idplus", "client", "show", "ghost"],
        capture_output=True, text=True, env=env, check=False, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr == "idplus: unknown client 'ghost'\n"


@pytest.fixture
def uvicorn_runs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """What `idplus serve` would start, instead of starting it."""
    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: runs.append(options))
    return runs


@pytest.mark.parametrize(
    ("outside_secrets", "missing"),
    [
        ({}, "IDPLUS_SECRET_KEY and IDPLUS_KEY_ENCRYPTION_KEY"),
        ({"IDPLUS_SECRET_KEY": "cookie-key-from-the-vault"}, "IDPLUS_KEY_ENCRYPTION_KEY"),
    ],
)
def test_serve_refuses_an_https_issuer_whose_secrets_live_in_the_database(
    cli: Cli,
    monkeypatch: pytest.MonkeyPatch,
    uvicorn_runs: list[dict[str, Any]],
    outside_secrets: dict[str, str],
    missing: str,
) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "https://id.example.no")
    for name, value in outside_secrets.items():
        monkeypatch.setenv(name, value)
    assert missing in cli.fails("serve")
    assert uvicorn_runs == []


def test_serve_leaves_forwarded_headers_to_the_application(
    cli: Cli, uvicorn_runs: list[dict[str, Any]]
) -> None:
    """uvicorn would trust loopback's X-Forwarded-For whatever IDPLUS_TRUSTED_PROXIES says."""
    assert cli.run("serve")[0] == 0
    assert [r["proxy_headers"] for r in uvicorn_runs] == [False]


def test_serve_warns_when_a_loopback_issuer_names_another_port(
    cli: Cli, uvicorn_runs: list[dict[str, Any]]
) -> None:
    """`idplus serve --port 8300` under the default issuer sends every browser to 8000."""
    code, out, _ = cli.run("serve", "--port", "8300")
    assert code == 0
    (warning,) = [json.loads(line) for line in out.splitlines() if "issuer_port" in line]
    assert warning["level"] == "warning"
    assert "IDPLUS_ISSUER=http://localhost:8300" in warning["problem"]
    assert [r["port"] for r in uvicorn_runs] == [8300]


def test_serve_is_quiet_when_the_issuer_names_the_served_port(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, uvicorn_runs: list[dict[str, Any]]
) -> None:
    monkeypatch.setenv("IDPLUS_ISSUER", "http://localhost:8300")
    code, out, _ = cli.run("serve", "--host", "0.0.0.0", "--port", "8300")  # noqa: S104
    assert code == 0
    assert "issuer_port" not in out


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
