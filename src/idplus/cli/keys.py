"""`idplus keys …`: the token-signing keys."""

from __future__ import annotations

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit, emit_list, format_option
from idplus.manage import keys

LIST_COLUMNS = ("kid", "alg", "state", "activate_at", "publish_until", "encrypted")


@click.group(
    "keys",
    cls=Group,
    epilog=example("idplus keys rotate", "idplus keys list --format table"),
)
def keys_group() -> None:
    """The keys that sign ID and access tokens.

    Relying parties read the public halves at /.well-known/jwks.json.
    """


@keys_group.command("rotate", epilog=example("idplus keys rotate"))
@pass_context
def keys_rotate(ctx: Context) -> None:
    """Publish a new signing key now; it starts signing after two key-cache periods.

    The wait lets every worker's JWKS carry the key before any token does; the replaced key
    stays published until every token it signed has expired. Prints {"kid": …, "activate_at":
    when it starts signing, ISO-8601}.
    """
    key = keys.rotate_signing_key(ctx.store, ctx.settings, ctx.clock)
    emit({"kid": key.kid, "activate_at": key.activate_at.isoformat()})


@keys_group.command(
    "list", epilog=example("idplus keys list --format table", "idplus keys list | jq '.[].state'")
)
@format_option(
    'an array of {"kid", "alg", "state", "created_at", "activate_at", "publish_until", "encrypted"}'
)
@pass_context
def keys_list(ctx: Context, output_format: str) -> None:
    """List the signing keys with their state.

    States: signing (signs tokens now), next (published, signs soon), retiring (published so
    older tokens still verify), expired (no longer published). `encrypted` tells whether the
    private key is sealed under IDPLUS_KEY_ENCRYPTION_KEY.
    """
    emit_list(keys.list_signing_keys(ctx.store, ctx.clock), LIST_COLUMNS, output_format)
