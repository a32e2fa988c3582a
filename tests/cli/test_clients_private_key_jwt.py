"""`idplus client add … --auth-method private_key_jwt`: keys instead of a secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.client_assertions import ClientKey

CONFIDENTIAL = (
    "client",
    "add",
    "--type",
    "Confidential",
    "--redirect-uri",
    "https://pay.example/cb",
)
PKJWT = ("--auth-method", "private_key_jwt")


def test_a_client_registered_with_a_jwks_file_has_no_secret(cli: Cli, tmp_path: Path) -> None:
    key = ClientKey.rsa()
    jwks = tmp_path / "pay.jwks.json"
    jwks.write_text(json.dumps(key.public_jwks()))
    added = cli.ok(*CONFIDENTIAL, "--client-id", "pay", *PKJWT, "--jwks", str(jwks))
    assert added == {"client_id": "pay", "client_secret": None}
    shown = cli.ok("client", "show", "pay")
    assert shown["token_endpoint_auth_method"] == "private_key_jwt"
    assert shown["jwks"] == key.public_jwks()
    assert (shown["jwks_uri"], shown["secrets"]) == (None, [])
    assert "no secret" in cli.fails("client", "rotate-secret", "pay")


def test_a_client_registered_with_a_jwks_uri(cli: Cli) -> None:
    uri = "https://pay.example/jwks"
    cli.ok(*CONFIDENTIAL, "--client-id", "pay", *PKJWT, "--jwks-uri", uri)
    shown = cli.ok("client", "show", "pay")
    assert (shown["jwks_uri"], shown["jwks"]) == (uri, None)


def test_secret_clients_say_how_they_authenticate(cli: Cli) -> None:
    cli.ok(*CONFIDENTIAL, "--client-id", "shop")
    assert cli.ok("client", "show", "shop")["token_endpoint_auth_method"] == "client_secret_basic"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((*PKJWT,), "--jwks FILE or --jwks-uri URI"),
        ((*PKJWT, "--jwks-uri", "http://pay.example/jwks"), "https"),
        ((*PKJWT, "--jwks-uri", "https://a.example/j", "--secret", "s" * 20), "no secret"),
        (("--jwks-uri", "https://pay.example/jwks"), "need --auth-method private_key_jwt"),
    ],
)
def test_bad_key_registrations_are_refused(cli: Cli, argv: tuple[str, ...], message: str) -> None:
    assert message in cli.fails(*CONFIDENTIAL, "--client-id", "pay", *argv)


def test_a_jwks_with_a_private_key_is_refused(cli: Cli, tmp_path: Path) -> None:
    jwks = tmp_path / "oops.json"
    jwks.write_text(json.dumps({"keys": [ClientKey.rsa().key.as_dict(private=True)]}))
    error = cli.fails(*CONFIDENTIAL, "--client-id", "pay", *PKJWT, "--jwks", str(jwks))
    assert "private" in error
    not_json = tmp_path / "bad.json"
    not_json.write_bytes(b"\xff\xfe")
    assert "UTF-8" in cli.fails(
        *CONFIDENTIAL, "--client-id", "pay", *PKJWT, "--jwks", str(not_json)
    )


def test_public_clients_cannot_use_private_key_jwt(cli: Cli) -> None:
    error = cli.fails(
        "client", "add", "--client-id", "spa", "--type", "Public", *PKJWT,
        "--jwks-uri", "https://spa.example/jwks",
    )  # fmt: skip
    assert "Confidential" in error
