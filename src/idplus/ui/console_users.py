"""The operator console's users (over manage/user_admin.py): search them, and on one user's
page lock or unlock them, reset their second factor, and give or take the operator role.

A lock and a second-factor reset end the user's sessions the way the account page does: their
apps are told over the back channel (protocol.oidc.end_session.BackChannelEnding).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response

from idplus.entry import run_blocking
from idplus.errors import Conflict, ValidationError
from idplus.manage import user_admin
from idplus.models import User
from idplus.policies import OPERATOR_ROLE
from idplus.protocol.oidc.end_session import BackChannelEnding
from idplus.ui.console import CONSOLE
from idplus.ui.console_people import SESSIONS_PATH, USERS_PATH
from idplus.ui.staff_pages import (
    PAGE_SIZE,
    BadCursor,
    Staff,
    decode_cursor,
    encode_cursor,
    page_url,
    staff_page,
)

# User ids: what the store's id column holds.
_USER_ID = re.compile(r"[A-Za-z0-9._~-]{1,64}")

MESSAGES = {
    "locked": "The user is locked: their sessions have ended and they cannot log in.",
    "unlocked": "The user is unlocked and can log in again.",
    "second_factor_reset": "The second factor is reset: passkeys removed, sessions ended.",
    "role_granted": "The user is an operator now.",
    "role_revoked": "The user is no longer an operator.",
    "lock_user": "Lock %(user)s? Their sessions end and they cannot log in until unlocked.",
    "lock_reason": "Why (kept in the audit trail; optional)",
    "lock": "Yes, lock",
    "reset_user": "Reset the second factor of %(user)s? Every passkey is removed and every "
    "session ends.",
    "reset": "Yes, reset",
    "revoke_operator": "Take the operator role from %(user)s?",
    "revoke": "Yes, take it",
    "yes": "Yes",
    "no": "No",
}
NOTICES = {
    k: MESSAGES[k]
    for k in ("locked", "unlocked", "second_factor_reset", "role_granted", "role_revoked")
}


@staff_page(CONSOLE)
async def show_users(staff: Staff) -> Response:
    search, cursor = staff.query("q")[: user_admin.MAX_QUERY_LENGTH], staff.query("cursor")
    after = decode_cursor(cursor) if cursor else None
    if cursor and (after is None or not _USER_ID.fullmatch(after)):
        raise BadCursor("not a cursor of these pages")
    server = staff.server
    found = await run_blocking(
        lambda: user_admin.search_users(
            server.store, server.clock, staff.caller, search, after=after, limit=PAGE_SIZE + 1
        )
    )
    page = found[:PAGE_SIZE]
    next_cursor = encode_cursor(page[-1].id) if len(found) > PAGE_SIZE else None
    return staff.listing(
        "console/users.html",
        "console/_users_table.html",
        search=search,
        rows=[_user_row(staff, u) for u in page],
        next_url=page_url(USERS_PATH, {"q": search, "cursor": next_cursor})
        if next_cursor
        else None,
    )


def _user_row(staff: Staff, user: User) -> dict[str, Any]:
    return {
        "url": f"{USERS_PATH}/{user.id}",
        "username": user.username,
        "name": " ".join(n for n in (user.given_name, user.family_name) if n),
        "email": user.email or "",
        "locked": staff.text(MESSAGES["yes" if user.disabled_at else "no"]),
    }


@staff_page(CONSOLE)
async def show_user(staff: Staff) -> Response:
    return await _user_page(staff, notice=staff.notice(NOTICES))


async def _details(staff: Staff) -> user_admin.UserDetails:
    user_id = str(staff.request.path_params["user_id"])
    server = staff.server
    return await run_blocking(
        user_admin.get_user, server.store, server.clock, staff.caller, user_id
    )


async def _user_page(staff: Staff, status_code: int = 200, **context: Any) -> Response:
    details = await _details(staff)
    user = details.user
    return staff.render(
        "console/user.html",
        status_code=status_code,
        user={
            "id": user.id,
            "username": user.username,
            "name": " ".join(n for n in (user.given_name, user.family_name) if n),
            "email": user.email or "",
            "phone": user.phone_number or "",
            "kurtid": user.kurtid or "",
            "created": staff.when(user.created_at),
            "locked": staff.when(user.disabled_at) if user.disabled_at else None,
        },
        operator=OPERATOR_ROLE in details.roles,
        passkeys=details.passkeys,
        upstream_accounts=[a.provider_id for a in details.upstream_accounts],
        live_sessions=details.live_sessions,
        sessions_url=page_url(SESSIONS_PATH, {"user_id": user.id}),
        action_path=f"{USERS_PATH}/{user.id}",
        **context,
    )


@staff_page(CONSOLE)
async def act_on_user(staff: Staff) -> Response:
    details = await _details(staff)
    handler = _USER_ACTIONS.get(staff.field("action"))
    if handler is None:
        return staff.error("refused", 400)
    try:
        return await handler(staff, details.user)
    except (ValidationError, Conflict) as refused:
        # A phone number refused, or the last operator: the page again, with the reason.
        status = 409 if isinstance(refused, Conflict) else 400
        return await _user_page(staff, status, problem=staff.problem(refused))


async def _lock(staff: Staff, user: User) -> Response:
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["lock_user"], user=user.username),
            action="lock",
            button=staff.text(MESSAGES["lock"]),
            back=f"{USERS_PATH}/{user.id}",
            reason_label=staff.text(MESSAGES["lock_reason"]),
        )
    server, reason = staff.server, staff.field("reason") or None

    def lock() -> None:
        ending = BackChannelEnding(server)
        user_admin.lock_user(
            server.store, server.clock, staff.caller, user.id, reason=reason, ending=ending
        )
        ending.finish()

    await run_blocking(lock)
    return _back(staff, user, "locked")


async def _unlock(staff: Staff, user: User) -> Response:
    server = staff.server
    await run_blocking(
        lambda: user_admin.unlock_user(
            server.store, server.clock, staff.caller, user.id, settings=server.settings
        )
    )
    return _back(staff, user, "unlocked")


async def _reset_second_factor(staff: Staff, user: User) -> Response:
    phone = staff.field("phone_number")
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["reset_user"], user=user.username),
            action="reset_second_factor",
            button=staff.text(MESSAGES["reset"]),
            fields={"phone_number": phone},
            back=f"{USERS_PATH}/{user.id}",
        )
    server = staff.server

    def reset() -> None:
        ending = BackChannelEnding(server)
        user_admin.reset_second_factor(
            server.store, server.clock, staff.caller, user.id,
            settings=server.settings, phone_number=phone or None, ending=ending,
        )  # fmt: skip
        ending.finish()

    await run_blocking(reset)
    return _back(staff, user, "second_factor_reset")


async def _grant_operator(staff: Staff, user: User) -> Response:
    server = staff.server
    await run_blocking(
        user_admin.grant_role, server.store, server.clock, staff.caller, user.id, OPERATOR_ROLE
    )
    return _back(staff, user, "role_granted")


async def _revoke_operator(staff: Staff, user: User) -> Response:
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["revoke_operator"], user=user.username),
            action="revoke_operator",
            button=staff.text(MESSAGES["revoke"]),
            back=f"{USERS_PATH}/{user.id}",
        )
    server = staff.server
    await run_blocking(
        user_admin.revoke_role, server.store, server.clock, staff.caller, user.id, OPERATOR_ROLE
    )
    if user.id == staff.user.id:
        # No longer an operator: the console would only answer 403.
        return staff.see_other("/portal")
    return _back(staff, user, "role_revoked")


def _back(staff: Staff, user: User, notice: str) -> Response:
    return staff.see_other(f"{USERS_PATH}/{user.id}", notice=notice)


_USER_ACTIONS = {
    "lock": _lock,
    "unlock": _unlock,
    "reset_second_factor": _reset_second_factor,
    "grant_operator": _grant_operator,
    "revoke_operator": _revoke_operator,
}
