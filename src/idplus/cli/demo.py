"""`idplus demo …`: demo data and first steps for `make run`."""

from __future__ import annotations

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit
from idplus.manage import demo


@click.group("demo", cls=Group, epilog=example("idplus demo seed", "idplus demo next-steps"))
def demo_group() -> None:
    """Demo clients and users for trying idplus locally.

    `make run` seeds them and prints the next steps.
    """


@demo_group.command("seed", epilog=example("idplus db upgrade && idplus demo seed"))
@pass_context
def demo_seed(ctx: Context) -> None:
    """Create the demo clients and users on an empty database and print their credentials.

    On a development issuer (plain http on loopback) the credentials are fixed and public;
    elsewhere they are generated. Prints {"clients": […], "users": […], …} with their secrets
    and passwords; {"reregistered_for": issuer, "clients": […]} when a database holding only
    the demo data was seeded for another development issuer; {"seeded": false} when the
    database holds other data.
    """
    created = demo.seed_demo(ctx.store, ctx.settings, ctx.clock)
    emit(created if created is not None else {"seeded": False})


@demo_group.command("next-steps", epilog=example("idplus demo next-steps"))
@pass_context
def demo_next_steps(ctx: Context) -> None:
    """Tell a person how to try a login against this server.

    For people, not scripts: prints lines of text, not JSON (what to open, which demo user to
    log in as, where the SMS codes go, how to start afresh).
    """
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
