"""`idplus client …`: the client (relying party) registry."""

from __future__ import annotations

from datetime import timedelta
from typing import IO, Any

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit, emit_list, format_option
from idplus.cli.params import Choice
from idplus.manage import clients
from idplus.models import SIGNING_ALGORITHMS
from idplus.policies import (
    CLIENT_TYPE_RULES,
    DEFAULT_SECRET_OVERLAP,
    GRANT_AUTHORIZATION_CODE,
    GRANT_CIBA,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_DEVICE_CODE,
    GRANT_PASSWORD,
    GRANT_REFRESH_TOKEN,
    GRANT_TOKEN_EXCHANGE,
    IDENTITY_SCOPES,
    MAX_SECRET_OVERLAP,
)

CLIENT_TYPES = tuple(client_type.value for client_type in CLIENT_TYPE_RULES)
# In the order a reader meets them, not alphabetical.
GRANT_TYPES = (
    GRANT_AUTHORIZATION_CODE,
    GRANT_REFRESH_TOKEN,
    GRANT_CLIENT_CREDENTIALS,
    GRANT_DEVICE_CODE,
    GRANT_CIBA,
    GRANT_TOKEN_EXCHANGE,
    GRANT_PASSWORD,
)
LIST_COLUMNS = ("client_id", "type", "name", "environment", "grant_types", "redirect_uris")


@click.group(
    "client",
    cls=Group,
    epilog=example(
        "idplus client add --client-id spa --type Public --redirect-uri https://app.example/cb",
        "idplus client list --format table",
    ),
)
def client_group() -> None:
    """Clients: the apps (relying parties) that log users in.

    Register, show, list, remove, and rotate the secret of Confidential ones.
    """


@client_group.command(
    "add",
    epilog=example(
        "idplus client add --client-id shop --type Confidential --name 'Telenor Shop' \\",
        "    --redirect-uri https://shop.example/cb --scope openid --scope profile",
        "idplus client add --client-id bank --type Confidential --require-par \\",
        "    --redirect-uri https://bank.example/cb",
        "idplus client add --client-id pay --type Confidential --auth-method private_key_jwt \\",
        "    --jwks pay-public.jwks.json --redirect-uri https://pay.example/cb",
        "idplus client add --client-id bank-app --type Confidential --profile fapi2 \\",
        "    --jwks-uri https://bank.example/jwks.json --redirect-uri https://bank.example/cb",
    ),
)
@click.option(
    "--client-id",
    required=True,
    help="The new client's id: 1-200 letters, digits and . _ ~ - (first a letter or digit).",
)
@click.option(
    "--type",
    "client_type",
    required=True,
    type=Choice(CLIENT_TYPES, what="client type"),
    help="Public: single-page app, no refresh tokens. PublicWithRefresh: single-page app with "
    "short one-use refresh tokens. Confidential: server-side app with a secret. MobileApp: "
    "native app (private-use redirect schemes allowed). Case-insensitive.",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Where the login answers (exact match): https, or http on a loopback host. Repeatable.",
)
@click.option(
    "--post-logout-redirect-uri",
    "post_logout_redirect_uris",
    multiple=True,
    help="Where logout may return the browser. Repeatable.",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    help=f"An allowed scope: {', '.join(IDENTITY_SCOPES)}, or api:NAME (needs --api-access and "
    "an API product). Repeatable; default openid profile email phone (plus offline_access when "
    "the type gets refresh tokens).",
)
@click.option(
    "--grant-type",
    "grant_types",
    multiple=True,
    type=Choice(GRANT_TYPES, what="grant type"),
    metavar="GRANT",
    # \b keeps the URNs whole: click would break them at their hyphens.
    help="An allowed grant type (the token endpoint's grant_type). Repeatable; default "
    "authorization_code (plus refresh_token when the type gets refresh tokens). One of:"
    "\n\n\b\n" + "\n".join(GRANT_TYPES),
)
@click.option(
    "--secret",
    help="Confidential only: use this secret (16+ characters) instead of a generated one.",
)
@click.option("--api-access", is_flag=True, help="May ask for api:* scopes (the API gateway).")
@click.option(
    "--silent-sso",
    is_flag=True,
    help="A user with a session goes straight back, without the 'continue as …' page.",
)
@click.option("--one-telenor", is_flag=True, help="Share the One Telenor single sign-on session.")
@click.option("--update-at-claims", is_flag=True, help="May use the legacy token exchange.")
@click.option(
    "--ciba-enabled",
    is_flag=True,
    help="Confidential only: may start CIBA (back-channel) logins; no front-channel flows.",
)
@click.option(
    "--backchannel-logout-uri",
    help="Where idplus POSTs a logout token when the user's session ends (OIDC Back-Channel).",
)
@click.option(
    "--exchange-from",
    "exchange_from",
    multiple=True,
    help="Token exchange: a client whose access tokens this one may exchange (default: any). "
    "Repeatable.",
)
@click.option(
    "--backchannel-client-notification-endpoint",
    help="CIBA ping mode: where idplus says a request was decided.",
)
@click.option(
    "--environment",
    default="test",
    show_default=True,
    type=Choice(clients.ENVIRONMENTS, what="environment"),
    help="Which deployment the client belongs to (a label). Case-insensitive.",
)
@click.option(
    "--provider",
    "providers",
    multiple=True,
    help="An allowed login provider: local (password + SMS) or an id from `idplus provider "
    "add`, in the order the selection page lists them. Repeatable; default local.",
)
@click.option(
    "--response-type",
    "response_types",
    multiple=True,
    help='Beyond code, e.g. "code id_token" (hybrid) or "id_token" (implicit). Repeatable.',
)
@click.option(
    "--access-token-lifetime",
    type=int,
    help="Seconds, 60-86400 (default: the server's IDPLUS_ACCESS_TOKEN_LIFETIME).",
)
@click.option(
    "--id-token-lifetime",
    type=int,
    help="Seconds, 60-86400 (default: the server's IDPLUS_ID_TOKEN_LIFETIME).",
)
@click.option(
    "--require-par",
    "require_pushed_authorization_requests",
    is_flag=True,
    help="Take this client's authorization requests only if pushed to /connect/par first "
    "(RFC 9126); a plain /connect/authorize request gets invalid_request.",
)
@click.option(
    "--auth-method",
    type=Choice(clients.AUTH_METHODS, what="auth method"),
    help="Confidential only: how the client authenticates at the token, revocation, "
    "introspection, CIBA and PAR endpoints. client_secret_basic / client_secret_post (the "
    "default; either works): a secret. private_key_jwt (RFC 7523): a JWT signed with its "
    "private key (PS256, ES256 or RS256); needs --jwks or --jwks-uri, and the client has no "
    "secret.",
)
@click.option(
    "--jwks",
    type=click.File("r", encoding="utf-8"),
    metavar="FILE",
    help="private_key_jwt: a JSON Web Key Set file with the client's public keys (RSA 2048+ "
    "bits or EC P-256; private key members are refused).",
)
@click.option(
    "--jwks-uri",
    help="private_key_jwt: where the client publishes its JWKS (https, or http on a loopback "
    "host); fetched when needed, cached a few minutes, fetched again for an unknown kid.",
)
@click.option(
    "--require-dpop",
    is_flag=True,
    help="Every token request needs a DPoP proof (RFC 9449) and every access token is bound "
    "to the client's key (token_type DPoP); a request without one gets invalid_dpop_proof.",
)
@click.option(
    "--signing-alg",
    type=Choice(SIGNING_ALGORITHMS, what="signing alg"),
    help="How the client's ID, access and logout tokens are signed (default RS256; PS256 under "
    "--profile fapi2).",
)
@click.option(
    "--profile",
    type=Choice(clients.PROFILES, what="profile"),
    help="fapi2: the FAPI 2.0 Security Profile, Confidential clients only. Implies --require-par, "
    "--auth-method private_key_jwt (with --jwks or --jwks-uri, audience the issuer, no RS256), "
    "--require-dpop, PKCE S256 and response_type code; signs with PS256 (or --signing-alg "
    "ES256) and refuses what contradicts it.",
)
@click.option("--name", help="The name users see on login and consent pages (default: the id).")
@pass_context
def client_add(ctx: Context, /, **options: Any) -> None:
    """Register a client.

    Prints {"client_id": …, "client_secret": …}. A Confidential client's secret is shown this
    once (only a hash is stored); other types, and private_key_jwt clients, get null.
    """
    options["jwks"] = _read_jwks_file(options["jwks"])
    registered = clients.add_client(ctx.store, ctx.clock, clients.ClientRegistration(**options))
    emit({"client_id": registered.client.client_id, "client_secret": registered.client_secret})


def _read_jwks_file(file: IO[str] | None) -> str | None:
    if file is None:
        return None
    try:
        return file.read(clients.MAX_JWKS_CHARS + 1)
    except UnicodeDecodeError:
        raise click.BadParameter("the file is not UTF-8 text", param_hint="--jwks") from None


@client_group.command("show", epilog=example("idplus client show shop"))
@click.argument("client_id")
@pass_context
def client_show(ctx: Context, client_id: str) -> None:
    """Show everything about client CLIENT_ID except its secrets.

    Prints one JSON object: type, URIs, scopes, grant types, flags, secret ids and dates.
    """
    emit(clients.describe_client(clients.get_client(ctx.store, client_id)))


@client_group.command(
    "list",
    epilog=example("idplus client list --format table", "idplus client list | jq '.[].client_id'"),
)
@format_option("an array of what `idplus client show` prints")
@pass_context
def client_list(ctx: Context, output_format: str) -> None:
    """List every registered client, by client id."""
    described = [clients.describe_client(c) for c in clients.list_clients(ctx.store)]
    emit_list(described, LIST_COLUMNS, output_format)


@client_group.command(
    "rotate-secret",
    epilog=example(
        "idplus client rotate-secret shop",
        "idplus client rotate-secret shop --overlap 0    # the old secret stops working now",
    ),
)
@click.argument("client_id")
@click.option("--secret", help="Use this secret (16+ characters) instead of generating one.")
@click.option(
    "--overlap",
    type=click.IntRange(0, int(MAX_SECRET_OVERLAP.total_seconds())),
    default=int(DEFAULT_SECRET_OVERLAP.total_seconds()),
    show_default=True,
    help="Seconds the previous secrets keep working (0: they stop now).",
)
@pass_context
def client_rotate_secret(ctx: Context, client_id: str, secret: str | None, overlap: int) -> None:
    """Give Confidential client CLIENT_ID a new secret.

    The previous secret keeps working for --overlap seconds more (default a day), so the app
    can switch without downtime. Prints {"client_id": …, "client_secret": …}; the secret is
    shown this once.
    """
    registered = clients.rotate_client_secret(
        ctx.store, ctx.clock, client_id, secret, overlap=timedelta(seconds=overlap)
    )
    emit({"client_id": client_id, "client_secret": registered.client_secret})


@client_group.command("remove", epilog=example("idplus client remove shop"))
@click.argument("client_id")
@pass_context
def client_remove(ctx: Context, client_id: str) -> None:
    """Remove client CLIENT_ID and every grant and token it holds.

    Prints {"client_id": …, "removed": true}.
    """
    clients.remove_client(ctx.store, ctx.clock, client_id)
    emit({"client_id": client_id, "removed": True})
