"""`idplus client add --profile fapi2`, `--require-dpop` and `--signing-alg`: what the profile
turns on, what it refuses, and what `client show` then says is enforced."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import Cli
from tests.client_assertions import ClientKey

BANK = (
    "client", "add", "--client-id", "bank", "--type", "Confidential",
    "--redirect-uri", "https://bank.example/cb",
)  # fmt: skip


@pytest.fixture
def jwks_file(tmp_path: Path) -> str:
    path = tmp_path / "bank.jwks.json"
    path.write_text(json.dumps(ClientKey.ec().public_jwks()))
    return str(path)


def test_the_fapi2_profile_turns_on_everything_it_requires(
    cli_on_each_database: Cli, jwks_file: str
) -> None:
    cli = cli_on_each_database
    added = cli.ok(*BANK, "--profile", "fapi2", "--jwks", jwks_file)
    assert added == {"client_id": "bank", "client_secret": None}
    shown = cli.ok("client", "show", "bank")
    assert shown["profile"] == "fapi2"
    assert shown["token_endpoint_auth_method"] == "private_key_jwt"
    assert shown["require_pushed_authorization_requests"] is True
    assert shown["require_dpop"] is True
    assert shown["signing_alg"] == "PS256"
    assert shown["response_types"] == ["code"]


def test_a_fapi2_client_may_sign_with_es256(cli: Cli, jwks_file: str) -> None:
    cli.ok(*BANK, "--profile", "FAPI2", "--jwks", jwks_file, "--signing-alg", "es256")
    shown = cli.ok("client", "show", "bank")
    assert (shown["profile"], shown["signing_alg"]) == ("fapi2", "ES256")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--signing-alg", "RS256"), "PS256 or ES256"),
        (("--auth-method", "client_secret_basic"), "private_key_jwt"),
        (("--response-type", "code id_token"), "code only"),
        (("--ciba-enabled",), "CIBA"),
        (("--grant-type", "password"), "password"),
        (("--grant-type", "urn:ietf:params:oauth:grant-type:device_code"), "device_code"),
    ],
)
def test_the_fapi2_profile_refuses_what_contradicts_it(
    cli: Cli, jwks_file: str, extra: tuple[str, ...], message: str
) -> None:
    err = cli.fails(*BANK, "--profile", "fapi2", "--jwks", jwks_file, *extra)
    assert message in err
    assert "bank" not in [c["client_id"] for c in cli.ok("client", "list")]


def test_the_fapi2_profile_is_for_confidential_clients_only(cli: Cli) -> None:
    err = cli.fails("client", "add", "--client-id", "app", "--type", "MobileApp",
                    "--redirect-uri", "no.telenor.app:/cb", "--profile", "fapi2")  # fmt: skip
    assert "Confidential clients only" in err


def test_a_fapi2_client_needs_its_public_keys(cli: Cli) -> None:
    assert "--jwks" in cli.fails(*BANK, "--profile", "fapi2")


def test_require_dpop_and_signing_alg_on_their_own(cli_on_each_database: Cli) -> None:
    cli = cli_on_each_database
    cli.ok(*BANK, "--require-dpop", "--signing-alg", "ES256")
    shown = cli.ok("client", "show", "bank")
    assert (shown["require_dpop"], shown["signing_alg"], shown["profile"]) == (True, "ES256", None)
    cli.ok("client", "add", "--client-id", "shop", "--type", "Confidential",
           "--redirect-uri", "https://shop.example/cb")  # fmt: skip
    shown = cli.ok("client", "show", "shop")
    assert (shown["require_dpop"], shown["signing_alg"]) == (False, "RS256")


def test_require_dpop_refuses_tokens_from_the_authorization_endpoint(cli: Cli) -> None:
    err = cli.fails(*BANK, "--require-dpop", "--response-type", "code id_token token")
    assert "--require-dpop" in err


def test_require_dpop_is_refused_for_the_api_gateway(cli: Cli) -> None:
    """The gateway's reference tokens are Bearer tokens: nothing would bind them."""
    err = cli.fails(*BANK, "--require-dpop", "--api-access", "--grant-type", "client_credentials")
    assert "--api-access" in err


def test_an_unknown_signing_alg_is_refused(cli: Cli) -> None:
    assert "HS256" in cli.fails(*BANK, "--signing-alg", "HS256")


def test_client_add_help_explains_the_profile_with_an_example(cli: Cli) -> None:
    help_text = cli.text("client", "add", "--help")
    for option in ("--profile", "--require-dpop", "--signing-alg"):
        assert option in help_text
    assert "idplus client add --client-id bank-app --type Confidential --profile fapi2" in help_text
