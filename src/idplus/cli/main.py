"""`idplus …`: JSON on stdout on success; one line on stderr and a non-zero exit on error.

One command is for people rather than scripts: `idplus demo next-steps` prints text.

Exit codes: 0 success, 2 bad input (unknown type, bad URI, duplicate id, unknown user …),
1 an environment problem (database unreachable or not migrated).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any, NoReturn

import click
import pydantic
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from idplus.clock import SystemClock
from idplus.config import Settings
from idplus.errors import IdplusError, ValidationError
from idplus.logs import configure_logging, get_logger
from idplus.manage import api_products, clients, demo, keys, providers, users
from idplus.store.sql.uow import SqlStore

EXIT_BAD_INPUT = 2
EXIT_ENVIRONMENT = 1

log = get_logger("idplus.cli")


class Context:
    """Settings and store, opened only by the commands that need them."""

    clock = SystemClock()

    @cached_property
    def settings(self) -> Settings:
        return Settings()

    @cached_property
    def store(self) -> SqlStore:
        return SqlStore.from_url(self.settings.database_url)


pass_context = click.make_pass_decorator(Context, ensure=True)


def emit(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, ensure_ascii=False))


@click.group()
def cli() -> None:
    """idplus: OpenID Connect provider and OAuth 2.0 authorization server."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the schema (idempotent)."""
    from idplus.store.migrations import current_revision, upgrade_to_head

    before = current_revision(ctx.settings.database_url)
    upgrade_to_head(ctx.settings.database_url)
    after = current_revision(ctx.settings.database_url)
    emit({"revision": after, "changed": before != after})


@db.command("prune")
@pass_context
def db_prune(ctx: Context) -> None:
    """Delete expired codes, logins in progress, device requests, tokens and old sessions."""
    from idplus.manage.maintenance import prune

    emit({"deleted": prune(ctx.store, ctx.clock)})


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@pass_context
def serve(ctx: Context, host: str, port: int, workers: int) -> None:
    """Serve HTTP (uvicorn)."""
    import uvicorn

    from idplus.manage.server_secrets import load_server_secrets

    problem = ctx.settings.production_secrets_problem()
    if problem:
        raise ValidationError(problem)
    configure_logging(ctx.settings.log_level, json=ctx.settings.log_json)
    unreachable = ctx.settings.served_port_problem(port)
    if unreachable:
        log.warning("issuer_port_differs_from_served_port", problem=unreachable)
    # Before any worker starts, so that workers never race to create them.
    load_server_secrets(ctx.store, ctx.settings, ctx.clock)
    keys.ensure_signing_key(ctx.store, ctx.settings, ctx.clock)
    ctx.store.dispose()
    uvicorn.run(
        "idplus.application.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_config=None,
        access_log=False,
        server_header=False,
        # The application believes forwarded headers itself (IDPLUS_TRUSTED_PROXIES), so it
        # does under any ASGI server; uvicorn's own handling would trust loopback regardless.
        proxy_headers=False,
    )


@cli.group()
def client() -> None:
    """Client registry."""


@client.command("add")
@click.option("--client-id", required=True)
@click.option("--type", "client_type", required=True, help="Public, PublicWithRefresh, …")
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout_redirect_uris", multiple=True)
@click.option("--scope", "scopes", multiple=True)
@click.option("--grant-type", "grant_types", multiple=True)
@click.option("--secret")
@click.option("--api-access", is_flag=True)
@click.option("--silent-sso", is_flag=True)
@click.option("--one-telenor", is_flag=True)
@click.option("--update-at-claims", is_flag=True)
@click.option("--ciba-enabled", is_flag=True)
@click.option("--backchannel-logout-uri")
@click.option(
    "--exchange-from",
    "exchange_from",
    multiple=True,
    help="Token exchange: a client whose access tokens this one may exchange (default: any).",
)
@click.option(
    "--backchannel-client-notification-endpoint",
    help="CIBA ping mode: where idplus says a request was decided.",
)
@click.option("--environment", default="test", show_default=True)
@click.option("--provider", "providers", multiple=True, help="Authentication provider id.")
@click.option(
    "--response-type", "response_types", multiple=True, help='Beyond code, e.g. "code id_token".'
)
@click.option("--access-token-lifetime", type=int, help="Seconds (default: the server's).")
@click.option("--id-token-lifetime", type=int, help="Seconds (default: the server's).")
@click.option("--name")
@pass_context
def client_add(ctx: Context, /, **options: Any) -> None:
    """Register a client; prints its secret once (Confidential clients only)."""
    registered = clients.add_client(ctx.store, ctx.clock, clients.ClientRegistration(**options))
    emit({"client_id": registered.client.client_id, "client_secret": registered.client_secret})


@client.command("show")
@click.argument("client_id")
@pass_context
def client_show(ctx: Context, client_id: str) -> None:
    emit(clients.describe_client(clients.get_client(ctx.store, client_id)))


@client.command("list")
@pass_context
def client_list(ctx: Context) -> None:
    emit([clients.describe_client(c) for c in clients.list_clients(ctx.store)])


@client.command("rotate-secret")
@click.argument("client_id")
@click.option("--secret", help="Use this secret instead of generating one.")
@pass_context
def client_rotate_secret(ctx: Context, client_id: str, secret: str | None) -> None:
    """Add a new secret; the previous one keeps working until the next rotation."""
    registered = clients.rotate_client_secret(ctx.store, ctx.clock, client_id, secret)
    emit({"client_id": client_id, "client_secret": registered.client_secret})


@client.command("remove")
@click.argument("client_id")
@pass_context
def client_remove(ctx: Context, client_id: str) -> None:
    """Remove a client and every grant and token it holds."""
    clients.remove_client(ctx.store, ctx.clock, client_id)
    emit({"client_id": client_id, "removed": True})


@cli.group()
def user() -> None:
    """User accounts."""


@user.command("add")
@click.option("--username", required=True, help="Mobile number or e-mail address.")
@click.option("--password", required=True)
@click.option("--phone-number")
@click.option("--email")
@click.option("--given-name")
@click.option("--family-name")
@click.option("--birthdate", help="YYYY-MM-DD")
@click.option("--ial", default=0, type=click.IntRange(0, 3), show_default=True)
@click.option("--kurtid")
@click.option("--tnuid", "tnuids", multiple=True)
@click.option("--otp", "otp_required", is_flag=True, help="Require the SMS code at login.")
@pass_context
def user_add(ctx: Context, /, **options: Any) -> None:
    created = users.add_user(ctx.store, ctx.clock, users.UserRegistration(**options))
    emit(
        {
            "id": created.id,
            "username": created.username,
            "kurtid": created.kurtid,
            "tnuid": list(created.tnuids),
        }
    )


@user.command("show")
@click.argument("username")
@pass_context
def user_show(ctx: Context, username: str) -> None:
    emit(users.describe_user(users.get_user(ctx.store, username)))


@user.command("set-password")
@click.argument("username")
@click.option("--password", required=True)
@pass_context
def user_set_password(ctx: Context, username: str, password: str) -> None:
    users.set_password(ctx.store, ctx.clock, username, password)
    emit({"username": username, "password_changed": True})


@user.command("remove")
@click.argument("username")
@pass_context
def user_remove(ctx: Context, username: str) -> None:
    users.remove_user(ctx.store, ctx.clock, username)
    emit({"username": username, "removed": True})


@cli.group("keys")
def keys_group() -> None:
    """Signing keys."""


@keys_group.command("rotate")
@pass_context
def keys_rotate(ctx: Context) -> None:
    """Publish a new key now; it signs after two key-cache periods."""
    key = keys.rotate_signing_key(ctx.store, ctx.settings, ctx.clock)
    emit({"kid": key.kid, "activate_at": key.activate_at.isoformat()})


@keys_group.command("list")
@pass_context
def keys_list(ctx: Context) -> None:
    emit(keys.list_signing_keys(ctx.store, ctx.clock))


@cli.group("api-product")
def api_product() -> None:
    """The gateway's API-product registry."""


@api_product.command("add")
@click.option("--scope", required=True, help="api:NAME")
@click.option("--client-id", "client_ids", multiple=True)
@click.option("--name")
@pass_context
def api_product_add(ctx: Context, scope: str, client_ids: Sequence[str], name: str | None) -> None:
    """Register an API product (if new) and subscribe clients to it."""
    product = api_products.add_api_product(ctx.store, ctx.clock, scope, client_ids, name)
    emit(api_products.describe_api_product(product))


@api_product.command("list")
@pass_context
def api_product_list(ctx: Context) -> None:
    emit([api_products.describe_api_product(p) for p in api_products.list_api_products(ctx.store)])


@cli.group()
def provider() -> None:
    """Upstream identity providers (federation)."""


@provider.command("add")
@click.option("--id", "id", required=True, help="lower-case letters, digits, - and _")
@click.option("--issuer", required=True, help="The upstream's issuer URL (https).")
@click.option("--client-id", required=True, help="idplus's client id at the upstream.")
@click.option("--client-secret")
@click.option("--scope", "scopes", multiple=True, help="Beyond openid.")
@click.option("--display-name", help="Shown on the selection page (default: the id).")
@click.option("--acr", help="urn:telenor.identity.aal.N asserted after this provider's login.")
@click.option("--amr", "amr", multiple=True, help="amr value asserted after this login.")
@click.option("--link-by", default="none", show_default=True, help="email|phone_number|none")
@click.option(
    "--token-auth-method",
    default="client_secret_basic",
    show_default=True,
    help="client_secret_basic|client_secret_post",
)
@click.option("--ial-claim", help="The upstream claim that tells the identity assurance.")
@click.option(
    "--ial-value",
    "ial_values",
    multiple=True,
    help="VALUE=N: that claim's VALUE gives the user IAL N (0-3); repeat per value.",
)
@pass_context
def provider_add(ctx: Context, /, **options: Any) -> None:
    """Register an upstream provider; prints the URIs to register at the upstream."""
    registration = providers.ProviderRegistration(**options)
    emit(providers.add_provider(ctx.store, ctx.settings, ctx.clock, registration))


@provider.command("list")
@pass_context
def provider_list(ctx: Context) -> None:
    emit(
        [providers.describe_provider(p, ctx.settings) for p in providers.list_providers(ctx.store)]
    )


@provider.command("show")
@click.argument("provider_id")
@pass_context
def provider_show(ctx: Context, provider_id: str) -> None:
    emit(providers.describe_provider(providers.get_provider(ctx.store, provider_id), ctx.settings))


@provider.command("remove")
@click.argument("provider_id")
@pass_context
def provider_remove(ctx: Context, provider_id: str) -> None:
    """Remove a provider that no client allows any more."""
    providers.remove_provider(ctx.store, ctx.clock, provider_id)
    emit({"id": provider_id, "removed": True})


@cli.group("demo")
def demo_group() -> None:
    """Demo data for `make run`."""


@demo_group.command("seed")
@pass_context
def demo_seed(ctx: Context) -> None:
    """Create the demo clients and users on an empty database and print their credentials."""
    created = demo.seed_demo(ctx.store, ctx.settings, ctx.clock)
    emit(created if created is not None else {"seeded": False})


@demo_group.command("next-steps")
@pass_context
def demo_next_steps(ctx: Context) -> None:
    """Tell a person how to try a login against this server (text, not JSON)."""
    click.echo(format_next_steps(demo.describe_next_steps(ctx.store, ctx.settings)))


def format_next_steps(steps: demo.NextSteps) -> str:
    lines = [f"idplus is starting at {steps.issuer}", ""]
    if steps.debugger_url is None:
        lines.append("  Try a login   the debugger is off for this issuer (IDPLUS_DEBUGGER=true")
        lines.append("                turns it on); from your own client, log in as")
    else:
        lines.append(f"  Try a login   open {steps.debugger_url}, pick demo-spa")
        if steps.client_secret:
            lines.append(f"                (or demo-web, secret {steps.client_secret})")
        lines.append("                and press 'Start the flow'; log in as")
    for login in steps.logins:
        factor = ", then the SMS code" if login.second_factor else ""
        if login.password:
            lines.append(f"                  {login.username}  password {login.password}{factor}")
            continue
        lines.append(f"                  {login.username}  password unknown{factor}; set one:")
        lines.append(f"                    idplus user set-password {login.username} --password P")
    if not steps.logins:
        lines.append("                a user you added (idplus demo seed fills an empty database)")
    if not steps.clients_match_issuer:
        lines.append("                (the demo clients are registered for another address)")
    lines.append(f"  SMS codes     no SMS is sent: codes are appended to {steps.outbox}")
    lines.append(f"                (tail -f {steps.outbox})")
    lines.append(f"  Your account  {steps.account_url}")
    if steps.database_file is not None:
        files = " ".join(f"{steps.database_file}{suffix}" for suffix in ("", "-wal", "-shm"))
        lines.append("  Start afresh  stop the server, delete the database, start again:")
        lines.append(f"                rm -f {files}")
    return "\n".join(lines) + "\n"


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"idplus: {message}", err=True)
    sys.exit(code)


def _describe_database_error(exc: SQLAlchemyError) -> str:
    text = str(exc.orig if hasattr(exc, "orig") and exc.orig else exc).splitlines()[0]
    if "no such table" in text or ("does not exist" in text and "relation" in text):
        return "the database has no schema yet: run `idplus db upgrade`"
    return f"database error: {text}"


def main(argv: Sequence[str] | None = None) -> None:
    # Library logs (alembic, …) go to stderr: stdout carries only the command's JSON.
    configure_logging("WARNING", json=True, to_stderr=True)
    run: Callable[..., Any] = cli.main
    try:
        run(args=argv, prog_name="idplus", standalone_mode=False)
    except click.exceptions.Abort:
        fail("aborted", 1)
    except click.ClickException as exc:
        fail(exc.format_message().replace("\n", " "), EXIT_BAD_INPUT)
    except IdplusError as exc:
        fail(exc.description, EXIT_BAD_INPUT)
    except pydantic.ValidationError as exc:
        errors = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        fail(f"configuration: {errors}", EXIT_BAD_INPUT)
    except (OperationalError, ProgrammingError) as exc:
        fail(_describe_database_error(exc), EXIT_ENVIRONMENT)
    except SQLAlchemyError as exc:
        fail(f"database error: {type(exc).__name__}", EXIT_ENVIRONMENT)
    except ValueError as exc:
        fail(str(exc).splitlines()[0], EXIT_BAD_INPUT)
