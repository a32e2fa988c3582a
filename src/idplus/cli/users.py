"""`idplus user …`: user accounts."""

from __future__ import annotations

from typing import Any

import click

from idplus.cli.context import Context, pass_context
from idplus.cli.help import Group, example
from idplus.cli.output import emit, emit_list, format_option
from idplus.cli.params import Choice
from idplus.manage import passkeys, user_admin, users
from idplus.models import Caller
from idplus.policies import USER_ROLES

USERNAME_HELP = "A mobile number (90012345 or +4790012345) or an e-mail address."
PASSKEY_COLUMNS = (
    "id",
    "name",
    "created_at",
    "last_used_at",
    "backup_eligible",
    "hardware_attested",
)


@click.group(
    "user",
    cls=Group,
    epilog=example(
        "idplus user add --username 90012345 --password 'correct horse' --otp",
        "idplus user show 90012345",
        "idplus user passkeys 90012345 --format table",
        "idplus user grant-role kari@example.no operator",
        "idplus user lock 90012345 --reason 'reported stolen phone'",
    ),
)
def user_group() -> None:
    """User accounts: add, show, set a password, list and remove passkeys, give and take
    roles, lock and unlock, remove."""


@user_group.command(
    "add",
    epilog=example(
        "idplus user add --username 90012345 --password 'correct horse' \\",
        "    --given-name Kari --family-name Nordmann --email kari@example.no --otp",
    ),
)
@click.option("--username", required=True, help=f"{USERNAME_HELP} Must be new.")
@click.option(
    "--password",
    required=True,
    help=f"At least {users.MIN_PASSWORD_LENGTH} characters (stored as an argon2id hash).",
)
@click.option(
    "--phone-number", help="Where SMS codes go (default: the username, when it is a number)."
)
@click.option("--email", help="The e-mail address (default: the username, when it is one).")
@click.option("--given-name", help="First name (the given_name claim).")
@click.option("--family-name", help="Last name (the family_name claim).")
@click.option("--birthdate", help="YYYY-MM-DD (the birthdate claim).")
@click.option(
    "--ial",
    default=0,
    type=click.IntRange(0, 3),
    show_default=True,
    help="Identity assurance level, 0-3 (how well the person's identity was proven).",
)
@click.option("--kurtid", help="Customer number (default: 12 generated digits).")
@click.option(
    "--tnuid",
    "tnuids",
    multiple=True,
    help="A Telenor user id (default: one generated). Repeatable.",
)
@click.option(
    "--otp",
    "otp_required",
    is_flag=True,
    help="Require the one-time SMS code at login, after the password (needs a phone number).",
)
@pass_context
def user_add(ctx: Context, /, **options: Any) -> None:
    """Create a user account.

    Prints {"id": …, "username": (normalised, +47… or lower-case), "kurtid": …, "tnuid": […]}.
    A username that is taken is reported as such before anything else is checked.
    """
    created = users.add_user(ctx.store, ctx.clock, users.UserRegistration(**options))
    emit(
        {
            "id": created.id,
            "username": created.username,
            "kurtid": created.kurtid,
            "tnuid": list(created.tnuids),
        }
    )


@user_group.command("show", epilog=example("idplus user show kari@example.no"))
@click.argument("username")
@pass_context
def user_show(ctx: Context, username: str) -> None:
    """Show user USERNAME (a mobile number or an e-mail address).

    Prints one JSON object: identifiers, claims, IAL and whether an SMS code is required; never
    the password or its hash.
    """
    emit(users.describe_user(users.get_user(ctx.store, username)))


@user_group.command(
    "set-password", epilog=example("idplus user set-password 90012345 --password 'new horse'")
)
@click.argument("username")
@click.option(
    "--password",
    required=True,
    help=f"The new password, at least {users.MIN_PASSWORD_LENGTH} characters.",
)
@pass_context
def user_set_password(ctx: Context, username: str, password: str) -> None:
    """Set the password of user USERNAME.

    USERNAME is a mobile number or an e-mail address. Prints {"username": …,
    "password_changed": true}.
    """
    users.set_password(ctx.store, ctx.clock, username, password)
    emit({"username": username, "password_changed": True})


@user_group.command("remove", epilog=example("idplus user remove 90012345"))
@click.argument("username")
@pass_context
def user_remove(ctx: Context, username: str) -> None:
    """Delete user USERNAME with their sessions and tokens; never the last operator.

    USERNAME is a mobile number or an e-mail address. Prints {"username": …, "removed": true}.
    """
    users.remove_user(ctx.store, ctx.clock, username)
    emit({"username": username, "removed": True})


@user_group.command(
    "passkeys",
    epilog=example(
        "idplus user passkeys 90012345 --format table",
        "idplus user passkeys 90012345 --remove 3f9c0b7e2a1d4c5b8e6f7a9b0c1d2e3f",
    ),
)
@click.argument("username")
@click.option(
    "--remove",
    "passkey_id",
    metavar="ID",
    help="Remove the passkey with this id (from the list) and end the sessions it logged in.",
)
@format_option("an array of the user's passkeys, oldest first")
@pass_context
def user_passkeys(ctx: Context, username: str, passkey_id: str | None, output_format: str) -> None:
    """List the passkeys of user USERNAME, or remove one.

    USERNAME is a mobile number or an e-mail address. Each passkey: id, name, created_at,
    last_used_at, aaguid (the authenticator model), transports, backup_eligible (it may sync
    to other devices), backed_up, hardware_attested (attested against
    IDPLUS_WEBAUTHN_ATTESTATION_ROOTS and device-bound: it gives aal.3) and sign_count; never
    its key. With --remove, prints {"username", "removed": ID, "sessions_ended": N}; the user's
    relying parties are not told over the back channel (their refresh tokens stop working).
    """
    if passkey_id is None:
        listed = passkeys.list_passkeys(ctx.store, username)
        emit_list([passkeys.describe_passkey(p) for p in listed], PASSKEY_COLUMNS, output_format)
        return
    removed = passkeys.remove_passkey(ctx.store, ctx.clock, username, passkey_id)
    emit(
        {
            "username": username,
            "removed": removed.passkey.id,
            "sessions_ended": len(removed.ended_sessions),
        }
    )


@user_group.command("grant-role", epilog=example("idplus user grant-role kari@example.no operator"))
@click.argument("username_or_id", metavar="USERNAME_OR_ID")
@click.argument("role", type=Choice(USER_ROLES, what="role"))
@pass_context
def user_grant_role(ctx: Context, username_or_id: str, role: str) -> None:
    """Give user USERNAME_OR_ID (a username or a user id) the role ROLE.

    operator: the operator console (/admin) and the whole admin API, with a login at the
    console. Prints the user (as `user show`, with roles, locked_at, passkeys,
    upstream_accounts and live_sessions).
    """
    user = user_admin.find_user(ctx.store, username_or_id)
    granted = user_admin.grant_role(ctx.store, ctx.clock, Caller.command_line(), user.id, role)
    emit(user_admin.describe_details(granted))


@user_group.command(
    "revoke-role", epilog=example("idplus user revoke-role kari@example.no operator")
)
@click.argument("username_or_id", metavar="USERNAME_OR_ID")
@click.argument("role", type=Choice(USER_ROLES, what="role"))
@pass_context
def user_revoke_role(ctx: Context, username_or_id: str, role: str) -> None:
    """Take the role ROLE from user USERNAME_OR_ID; never from the last operator.

    Prints the user, as grant-role does.
    """
    user = user_admin.find_user(ctx.store, username_or_id)
    revoked = user_admin.revoke_role(ctx.store, ctx.clock, Caller.command_line(), user.id, role)
    emit(user_admin.describe_details(revoked))


@user_group.command(
    "lock", epilog=example("idplus user lock 90012345 --reason 'reported stolen phone'")
)
@click.argument("username_or_id", metavar="USERNAME_OR_ID")
@click.option("--reason", help="Why, for the audit trail (one line; never shown to the user).")
@pass_context
def user_lock(ctx: Context, username_or_id: str, reason: str | None) -> None:
    """Lock user USERNAME_OR_ID until `user unlock`: no login by any means, no refresh, no
    device or CIBA approval; never the last operator.

    Their sessions end and their refresh and gateway tokens are revoked; their relying parties
    are not told over the back channel from here (the admin API's lock tells them), their
    refresh tokens stop working. Prints the user, as grant-role does.
    """
    user = user_admin.find_user(ctx.store, username_or_id)
    locked = user_admin.lock_user(
        ctx.store, ctx.clock, Caller.command_line(), user.id, reason=reason
    )
    emit(user_admin.describe_details(locked))


@user_group.command("unlock", epilog=example("idplus user unlock 90012345"))
@click.argument("username_or_id", metavar="USERNAME_OR_ID")
@pass_context
def user_unlock(ctx: Context, username_or_id: str) -> None:
    """Unlock user USERNAME_OR_ID, and lift the lock wrong passwords put on their username.

    Prints the user, as grant-role does.
    """
    user = user_admin.find_user(ctx.store, username_or_id)
    unlocked = user_admin.unlock_user(
        ctx.store, ctx.clock, Caller.command_line(), user.id, settings=ctx.settings
    )
    emit(user_admin.describe_details(unlocked))
