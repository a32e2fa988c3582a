"""`idplus api-product …`: the gateway's product registry."""

from __future__ import annotations

from tests.cli.conftest import Cli


def test_api_product_add(cli: Cli) -> None:
    cli.ok("client", "add", "--client-id", "partner", "--type", "Confidential",
           "--grant-type", "client_credentials", "--api-access")  # fmt: skip
    product = cli.ok("api-product", "add", "--scope", "api:tv", "--client-id", "partner")
    assert product == {"scope": "api:tv", "name": "tv", "client_ids": ["partner"]}
    assert cli.ok("api-product", "list") == [product]
    assert "unknown client" in cli.fails("api-product", "add", "--scope", "api:tv",
                                         "--client-id", "ghost")  # fmt: skip
    assert "api:NAME" in cli.fails("api-product", "add", "--scope", "tv")


def test_api_product_list_as_a_table(cli: Cli) -> None:
    cli.ok("api-product", "add", "--scope", "api:tv", "--name", "TV")
    cli.ok("api-product", "add", "--scope", "api:radio")
    assert cli.text("api-product", "list", "--format", "table") == (
        "SCOPE      NAME   CLIENT_IDS\napi:radio  radio  -\napi:tv     TV     -\n"
    )


def test_api_product_changes_are_recorded_with_scope_and_subscribers(
    cli_on_each_database: Cli,
) -> None:
    cli = cli_on_each_database
    for client_id in ("partner", "reseller"):
        cli.ok("client", "add", "--client-id", client_id, "--type", "Confidential",
               "--grant-type", "client_credentials", "--api-access")  # fmt: skip
    cli.ok("api-product", "add", "--scope", "api:tv", "--client-id", "partner")
    cli.ok("api-product", "add", "--scope", "api:tv", "--client-id", "reseller")
    cli.fails("api-product", "add", "--scope", "api:tv", "--client-id", "ghost")  # nothing saved
    events = cli.lines("audit", "list", "--event", "api_product.changed")
    assert [(e["client_id"], e["user_id"], e["detail"]) for e in reversed(events)] == [
        (None, None, {"scope": "api:tv", "created": True, "subscribed": ["partner"]}),
        (None, None, {"scope": "api:tv", "created": False, "subscribed": ["reseller"]}),
    ]
