"""`idplus db …`: the database schema and its housekeeping."""

from __future__ import annotations

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit


@click.group("db", cls=Group, epilog=example("idplus db upgrade", "idplus db prune"))
def db_group() -> None:
    """The database schema and its housekeeping.

    Works on the database IDPLUS_DATABASE_URL names (default: sqlite:///var/idplus.db).
    """


@db_group.command(
    "upgrade", epilog=example("IDPLUS_DATABASE_URL=postgresql://idplus@db/idplus idplus db upgrade")
)
@pass_context
def db_upgrade(ctx: Context) -> None:
    """Create or migrate the schema (idempotent).

    Run it before `idplus serve` after every upgrade of idplus; running it again changes
    nothing. Prints {"revision": the schema's revision now, "changed": whether it migrated}.
    """
    from idplus.store.migrations import current_revision, upgrade_to_head

    before = current_revision(ctx.settings.database_url)
    upgrade_to_head(ctx.settings.database_url)
    after = current_revision(ctx.settings.database_url)
    emit({"revision": after, "changed": before != after})


@db_group.command("prune", epilog=example("idplus db prune    # e.g. hourly from cron"))
@pass_context
def db_prune(ctx: Context) -> None:
    """Delete expired data.

    Expired codes, logins in progress, device requests, tokens and old sessions, and audit
    events older than IDPLUS_AUDIT_RETENTION_DAYS (default 365). Safe while the server runs:
    rows go in batches, each its own short transaction, so a backlog of millions never holds
    locks for long. Prints {"deleted": {"<table>": rows deleted, …}}.
    """
    from datetime import timedelta

    from idplus.manage.maintenance import prune

    retention = timedelta(days=ctx.settings.audit_retention_days)
    emit({"deleted": prune(ctx.store, ctx.clock, audit_retention=retention)})
