"""`idplus audit …`: reading the audit trail."""

from __future__ import annotations

from collections.abc import Sequence

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit_lines, format_option, render_table
from idplus.manage import audit

TABLE_COLUMNS = ("at", "event", "client_id", "user_id", "detail")


@click.group(
    "audit",
    cls=Group,
    epilog=example("idplus audit list --since 24h --format table"),
)
def audit_group() -> None:
    """The audit trail: who changed what, and when.

    Credentials, sessions, clients, keys and providers: each change is an event naming the
    client and the user it concerns, never a secret.
    """


@audit_group.command(
    "list",
    epilog=example(
        "idplus audit list --since 24h",
        "idplus audit list --actor 90012345 --event 'user.*' --limit 20",
        "idplus audit list --actor shop --since 2025-03-01T08:00+01:00 | jq -r .event",
    ),
)
@click.option(
    "--actor",
    metavar="USER_OR_CLIENT",
    help="Only events about this client id, user id or username (a removed user: by id).",
)
@click.option(
    "--since",
    metavar="TIME",
    help="Only events from then on: ISO-8601 (2025-03-01, 2025-03-01T08:00+01:00; no offset "
    "means UTC) or a duration back from now (90s, 30m, 24h, 7d, 2w).",
)
@click.option(
    "--event",
    "events",
    metavar="NAME",
    multiple=True,
    help="Only this event (client.added), or names starting so (user.*). Repeatable.",
)
@click.option(
    "--limit",
    default=100,
    show_default=True,
    type=click.IntRange(1, audit.MAX_LIMIT),
    help="At most this many events: the newest.",
)
@format_option("JSON lines, one object per event")
@pass_context
def audit_list(
    ctx: Context,
    actor: str | None,
    since: str | None,
    events: Sequence[str],
    limit: int,
    output_format: str,
) -> None:
    """Print audit events, newest first, as JSON lines.

    Unlike the other commands, stdout is not one JSON document: each line is one JSON object
    {"at", "event", "client_id", "user_id", "detail"} (jq reads it as it is); nothing at all
    when no event matches. Filters combine (all must match). No event holds a secret, password
    or code.
    """
    query = audit.AuditQuery(actor=actor, since=since, events=events, limit=limit)
    described = [audit.describe_event(e) for e in audit.list_events(ctx.store, ctx.clock, query)]
    if output_format == "table":
        click.echo(render_table(described, TABLE_COLUMNS), nl=False)
    else:
        emit_lines(described)
