"""`idplus keys …`: the token-signing keys."""

from __future__ import annotations

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit, emit_list, format_option
from idplus.cli.params import Choice
from idplus.manage import keys
from idplus.models import DEFAULT_SIGNING_ALGORITHM, SIGNING_ALGORITHMS

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


@keys_group.command(
    "rotate", epilog=example("idplus keys rotate", "idplus keys rotate --alg ES256")
)
@click.option(
    "--alg",
    type=Choice(SIGNING_ALGORITHMS, what="signing algorithm"),
    default=None,
    help="Rotate only this algorithm's key (default: every algorithm's).",
)
@pass_context
def keys_rotate(ctx: Context, alg: str | None) -> None:
    """Publish new signing keys now; they start signing after two key-cache periods.

    Each algorithm (RS256, PS256, ES256) has its own key; clients choose theirs. The wait
    lets every worker's JWKS carry a key before any token does; a replaced key stays
    published until every token it signed has expired, and only keys of the same algorithm
    are replaced. Prints {"kid", "alg", "activate_at": when it starts signing, ISO-8601,
    "rotated": [{"kid", "alg", "activate_at"}, …]}; the top-level key is RS256's when every
    algorithm was rotated.
    """
    rotated = keys.rotate_signing_key(ctx.store, ctx.settings, ctx.clock, alg)
    listed = [
        {"kid": key.kid, "alg": key.alg, "activate_at": key.activate_at.isoformat()}
        for key in rotated
    ]
    # The top-level kid (what scripts read) is the default algorithm's when it was rotated.
    main = next((k for k in listed if k["alg"] == DEFAULT_SIGNING_ALGORITHM), listed[0])
    emit({**main, "rotated": listed})


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
