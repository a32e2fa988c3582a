"""`idplus provider …`: upstream identity providers (federation)."""

from __future__ import annotations

from typing import Any

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit, emit_list, format_option
from idplus.cli.params import Choice
from idplus.manage import providers

ACR_VALUES = tuple(f"urn:telenor.identity.aal.{level}" for level in (1, 2, 3))
LIST_COLUMNS = ("id", "display_name", "issuer", "client_id", "link_by", "acr")


@click.group(
    "provider",
    cls=Group,
    epilog=example(
        "idplus provider add --id azure --issuer https://login.example/v2.0 --client-id idplus",
        "idplus provider list --format table",
    ),
)
def provider_group() -> None:
    """Upstream identity providers (federation).

    A client may let its users log in at another OpenID provider; idplus then vouches for them.
    """


@provider_group.command(
    "add",
    epilog=example(
        "idplus provider add --id azure --issuer https://login.example/v2.0 \\",
        "    --client-id idplus --client-secret \"$SECRET\" --display-name 'Telenor Azure' \\",
        "    --acr urn:telenor.identity.aal.2 --amr urn:telenor.identity.amr.az_mfa \\",
        "    --link-by email",
    ),
)
@click.option(
    "--id", "id", required=True, help="The provider's id: lower-case letters, digits, - and _."
)
@click.option("--issuer", required=True, help="The upstream's issuer URL (https).")
@click.option("--client-id", required=True, help="idplus's client id at the upstream.")
@click.option(
    "--client-secret",
    help="idplus's client secret at the upstream (encrypted under IDPLUS_KEY_ENCRYPTION_KEY "
    "when that is set; never printed).",
)
@click.option(
    "--scope", "scopes", multiple=True, help="A scope to ask for beyond openid. Repeatable."
)
@click.option("--display-name", help="Shown on the selection page (default: the id).")
@click.option(
    "--acr",
    type=Choice(ACR_VALUES, what="acr"),
    metavar="ACR",
    help="The assurance asserted after this provider's login: urn:telenor.identity.aal.N, N = 1-3.",
)
@click.option(
    "--amr", "amr", multiple=True, help="An amr value asserted after this login. Repeatable."
)
@click.option(
    "--link-by",
    default="none",
    show_default=True,
    type=Choice(providers.LINK_BY, what="link-by claim"),
    help="Join an upstream user to the local user with the same verified e-mail or phone "
    "number; none: upstream users are their own users.",
)
@click.option(
    "--token-auth-method",
    default="client_secret_basic",
    show_default=True,
    type=Choice(providers.TOKEN_AUTH_METHODS, what="token auth method"),
    help="How idplus authenticates at the upstream's token endpoint.",
)
@click.option("--ial-claim", help="The upstream claim that tells the identity assurance.")
@click.option(
    "--ial-value",
    "ial_values",
    multiple=True,
    help="VALUE=N: that claim's VALUE gives the user IAL N (0-3). Repeatable.",
)
@pass_context
def provider_add(ctx: Context, /, **options: Any) -> None:
    """Register an upstream provider.

    Prints {"id": …, "redirect_uri": …, "post_logout_redirect_uri": …}: the two URIs to register
    at the upstream (fixed, so this can happen before idplus starts).
    """
    registration = providers.ProviderRegistration(**options)
    emit(providers.add_provider(ctx.store, ctx.settings, ctx.clock, registration))


@provider_group.command("list", epilog=example("idplus provider list --format table"))
@format_option("an array of what `idplus provider show` prints")
@pass_context
def provider_list(ctx: Context, output_format: str) -> None:
    """List every upstream provider, by id."""
    described = [
        providers.describe_provider(p, ctx.settings) for p in providers.list_providers(ctx.store)
    ]
    emit_list(described, LIST_COLUMNS, output_format)


@provider_group.command("show", epilog=example("idplus provider show azure"))
@click.argument("provider_id")
@pass_context
def provider_show(ctx: Context, provider_id: str) -> None:
    """Show upstream provider PROVIDER_ID.

    Prints one JSON object; its client secret only as "encrypted", "plain" or null.
    """
    emit(providers.describe_provider(providers.get_provider(ctx.store, provider_id), ctx.settings))


@provider_group.command("remove", epilog=example("idplus provider remove azure"))
@click.argument("provider_id")
@pass_context
def provider_remove(ctx: Context, provider_id: str) -> None:
    """Remove upstream provider PROVIDER_ID, once no client allows it any more.

    Prints {"id": …, "removed": true}.
    """
    providers.remove_provider(ctx.store, ctx.clock, provider_id)
    emit({"id": provider_id, "removed": True})
