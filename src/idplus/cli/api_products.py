"""`idplus api-product …`: the API gateway's product registry."""

from __future__ import annotations

from collections.abc import Sequence

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit, emit_list, format_option
from idplus.manage import api_products

LIST_COLUMNS = ("scope", "name", "client_ids")


@click.group(
    "api-product",
    cls=Group,
    epilog=example(
        "idplus api-product add --scope api:tv --client-id partner", "idplus api-product list"
    ),
)
def api_product_group() -> None:
    """The API gateway's products.

    Each product is an api:NAME scope; the clients subscribed to it may ask for that scope.
    """


@api_product_group.command(
    "add",
    epilog=example("idplus api-product add --scope api:tv --name 'TV API' --client-id partner"),
)
@click.option(
    "--scope",
    required=True,
    help="The product's scope: api:NAME (lower-case letters, digits, . _ -).",
)
@click.option(
    "--client-id",
    "client_ids",
    multiple=True,
    help="A registered --api-access client to subscribe. Repeatable.",
)
@click.option("--name", help="A display name (default: NAME from the scope).")
@pass_context
def api_product_add(ctx: Context, scope: str, client_ids: Sequence[str], name: str | None) -> None:
    """Register an API product (if new) and subscribe clients to it.

    Prints {"scope": …, "name": …, "client_ids": [every subscribed client]}.
    """
    product = api_products.add_api_product(ctx.store, ctx.clock, scope, client_ids, name)
    emit(api_products.describe_api_product(product))


@api_product_group.command("list", epilog=example("idplus api-product list --format table"))
@format_option('an array of {"scope", "name", "client_ids"}')
@pass_context
def api_product_list(ctx: Context, output_format: str) -> None:
    """List every API product with its subscribed clients."""
    described = [
        api_products.describe_api_product(p) for p in api_products.list_api_products(ctx.store)
    ]
    emit_list(described, LIST_COLUMNS, output_format)
