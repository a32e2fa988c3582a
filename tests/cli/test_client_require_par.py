"""`idplus client add --require-par`: shown by `client show`, refused for CIBA clients, and
`idplus db prune` counts the pushed requests it deleted."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_require_par_is_registered_and_shown(cli_on_each_database: Cli) -> None:
    cli = cli_on_each_database
    cli.ok("client", "add", "--client-id", "bank", "--type", "Confidential", "--require-par",
           "--redirect-uri", "https://bank.example/cb")  # fmt: skip
    cli.ok("client", "add", "--client-id", "shop", "--type", "Confidential",
           "--redirect-uri", "https://shop.example/cb")  # fmt: skip

    assert cli.ok("client", "show", "bank")["require_pushed_authorization_requests"] is True
    assert cli.ok("client", "show", "shop")["require_pushed_authorization_requests"] is False


def test_a_ciba_client_cannot_require_par(cli: Cli) -> None:
    err = cli.fails("client", "add", "--client-id", "bank", "--type", "Confidential",
                    "--ciba-enabled", "--require-par")  # fmt: skip
    assert "--require-par" in err


def test_client_add_help_explains_require_par_with_an_example(cli: Cli) -> None:
    help_text = cli.text("client", "add", "--help")
    assert "--require-par" in help_text
    assert "/connect/par" in help_text
    assert "idplus client add --client-id bank --type Confidential --require-par" in help_text


def test_db_prune_reports_pushed_requests(cli: Cli) -> None:
    cli.text("db", "upgrade")
    assert "pushed_requests" in cli.ok("db", "prune")["deleted"]
