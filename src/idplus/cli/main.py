"""`idplus …`: JSON on stdout on success; one line on stderr and a non-zero exit on error.

Two commands print for people or log shippers rather than one document: `idplus demo
next-steps` prints text and `idplus audit list` prints JSON lines.

Exit codes: 0 success, 2 bad input (unknown type, bad URI, duplicate id, unknown user …),
1 an environment problem (database unreachable or not migrated).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

import click
import pydantic
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

from idplus.cli.api_products import api_product_group
from idplus.cli.audit import audit_group
from idplus.cli.clients import client_group
from idplus.cli.context import Context
from idplus.cli.db import db_group
from idplus.cli.demo import demo_group
from idplus.cli.help import EXIT_BAD_INPUT, EXIT_ENVIRONMENT, Group, example
from idplus.cli.keys import keys_group
from idplus.cli.providers import provider_group
from idplus.cli.serve import serve
from idplus.cli.users import user_group
from idplus.errors import IdplusError
from idplus.logs import configure_logging
from idplus.store.base import StoreUnavailable


@click.group(
    cls=Group,
    epilog=example(
        "idplus db upgrade && idplus serve",
        "idplus client list --format table",
        "idplus audit list --since 24h",
        "idplus client add --help",
    ),
)
def cli() -> None:
    """idplus: OpenID Connect provider and OAuth 2.0 authorization server.

    Settings come from IDPLUS_* environment variables (IDPLUS_DATABASE_URL names the database,
    IDPLUS_ISSUER the public URL). On success a command prints one JSON document on stdout, for
    scripts (pipe it to jq); list commands print a table with --format table. Exceptions:
    `idplus serve` logs, `idplus demo next-steps` prints text and `idplus audit list` prints
    JSON lines. On error a command prints one line starting "idplus:" on stderr.

    Choices such as --type are case-insensitive. `idplus COMMAND --help` explains each command.

    \b
    Shell completion of commands, options and choices (bash; zsh and fish alike):
      eval "$(_IDPLUS_COMPLETE=bash_source idplus)"   # e.g. in ~/.bashrc
    """


for command in (
    db_group,
    serve,
    client_group,
    user_group,
    keys_group,
    api_product_group,
    provider_group,
    demo_group,
    audit_group,
):
    cli.add_command(command)


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
    context = Context()
    try:
        run(args=argv, prog_name="idplus", standalone_mode=False, obj=context)
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
    except StoreUnavailable as exc:
        cause = exc.__cause__
        described = _describe_database_error(cause) if isinstance(cause, SQLAlchemyError) else None
        fail(described or f"database unavailable: {exc}", EXIT_ENVIRONMENT)
    except SQLAlchemyError as exc:
        fail(f"database error: {type(exc).__name__}", EXIT_ENVIRONMENT)
    except ValueError as exc:
        fail(str(exc).splitlines()[0], EXIT_BAD_INPUT)
    finally:
        context.close()
