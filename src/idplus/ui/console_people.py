"""The operator console's people and requests: API subscription requests (approve, reject),
live sessions (list, end) and users (search; lock, unlock, reset the second factor, grant or
revoke the operator role) — over manage/subscriptions.py, session_admin.py and user_admin.py.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from starlette.responses import Response

from idplus.entry import run_blocking
from idplus.manage import session_admin, subscriptions
from idplus.models import SUBSCRIPTION_PENDING, SubscriptionRequest
from idplus.protocol.oidc.end_session import BackChannelEnding
from idplus.ui.console import CONSOLE
from idplus.ui.staff_pages import (
    PAGE_SIZE,
    BadCursor,
    Staff,
    decode_cursor,
    encode_cursor,
    page_url,
    staff_page,
)

SESSIONS_PATH = "/admin/sessions"
USERS_PATH = "/admin/users"
# Session ids are base64url handles.
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,200}")
# Subscription request ids (uuid4 hex), as a cursor may name them.
_REQUEST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")

MESSAGES = {
    "approved": "The request is approved: the app has the API product now.",
    "rejected": "The request is rejected.",
    "reject_request": "Reject the request of %(app)s for %(scope)s?",
    "reject": "Yes, reject it",
    "reason": "Why (the app's developers read it; optional)",
    "session_ended": "The session has ended.",
    "end_session": "End the session of %(user)s? Its apps are told, and its refresh tokens stop "
    "working.",
    "end": "Yes, end it",
}
NOTICES = {k: MESSAGES[k] for k in ("approved", "rejected", "session_ended")}


# Subscription requests


async def pending_requests(staff: Staff, path: str) -> dict[str, Any]:
    """One page of the pending requests, oldest first, after the query's cursor: the rows
    and the link to the next page of `path` (the dashboard or the API products' page)."""
    after = _after_request(staff.query("cursor"))
    listed = await run_blocking(
        lambda: subscriptions.list_requests(
            staff.server.store, staff.caller, status=SUBSCRIPTION_PENDING, after=after,
            limit=PAGE_SIZE + 1,
        )
    )  # fmt: skip
    page = listed[:PAGE_SIZE]
    next_url = None
    if len(listed) > PAGE_SIZE:
        last = page[-1]
        cursor = encode_cursor(f"{last.requested_at.isoformat()} {last.id}")
        next_url = page_url(path, {"cursor": cursor})
    return {"requests": [_request_row(staff, r) for r in page], "next_url": next_url}


def _after_request(cursor: str) -> tuple[datetime, str] | None:
    """The (requested_at, id) a page of requests continues after; BadCursor for a cursor
    these pages did not make."""
    if not cursor:
        return None
    key = decode_cursor(cursor)
    at, _, request_id = (key or "").partition(" ")
    try:
        moment: datetime | None = datetime.fromisoformat(at)
        # In UTC here: a time the store cannot hold (year 1 east of Greenwich) is refused now.
        moment = moment.astimezone(UTC) if moment and moment.tzinfo else None
    except (ValueError, OverflowError):
        moment = None
    if moment is None or not _REQUEST_ID.fullmatch(request_id):
        raise BadCursor("not a cursor of these pages")
    return moment, request_id


def _request_row(staff: Staff, request: SubscriptionRequest) -> dict[str, Any]:
    return {
        "id": request.id,
        "client_id": request.client_id,
        "scope": request.scope,
        "requested": staff.when(request.requested_at),
        "requested_by": request.requested_by,
    }


async def decide_request(staff: Staff, action: str, back: str) -> Response:
    """Approve at once; reject after a confirmation that may say why."""
    server, request_id = staff.server, staff.field("request_id")
    if action == "approve":
        await run_blocking(
            subscriptions.approve, server.store, server.clock, staff.caller, request_id
        )
        return staff.see_other(back, notice="approved")
    if not staff.confirmed():
        asked = await run_blocking(
            subscriptions.get_request, server.store, staff.caller, request_id
        )
        return staff.confirm(
            staff.text(MESSAGES["reject_request"], app=asked.client_id, scope=asked.scope),
            action="reject",
            button=staff.text(MESSAGES["reject"]),
            fields={"request_id": request_id, "back": back},
            back=back,
            reason_label=staff.text(MESSAGES["reason"]),
        )
    reason = staff.field("reason") or None
    await run_blocking(
        subscriptions.reject, server.store, server.clock, staff.caller, request_id, reason
    )
    return staff.see_other(back, notice="rejected")


# Sessions


@staff_page(CONSOLE)
async def show_sessions(staff: Staff) -> Response:
    user_id, cursor = staff.query("user_id"), staff.query("cursor")
    after = decode_cursor(cursor) if cursor else None
    if cursor and (after is None or not _SESSION_ID.fullmatch(after)):
        raise BadCursor("not a cursor of these pages")
    server = staff.server
    views = await run_blocking(
        lambda: session_admin.list_sessions(
            server.store, server.clock, staff.caller,
            user_id=user_id or None, after=after, limit=PAGE_SIZE + 1,
        )
    )  # fmt: skip
    page = views[:PAGE_SIZE]
    next_cursor = encode_cursor(page[-1].session.id) if len(views) > PAGE_SIZE else None
    return staff.listing(
        "console/sessions.html",
        "console/_sessions_table.html",
        user_id=user_id,
        rows=[_session_row(staff, v) for v in page],
        next_url=(
            page_url(SESSIONS_PATH, {"user_id": user_id, "cursor": next_cursor})
            if next_cursor
            else None
        ),
        notice=staff.notice(NOTICES),
    )


def _session_row(staff: Staff, view: session_admin.SessionView) -> dict[str, Any]:
    session = view.session
    return {
        "id": session.id,
        "user_id": session.user_id,
        "user_url": f"{USERS_PATH}/{session.user_id}",
        "username": view.username or session.user_id,
        "started": staff.when(session.created_at),
        "last_seen": staff.when(session.last_seen_at),
        "login": " ".join((session.idp, *session.amr)),
        "browser": session.user_agent or "",
        "apps": ", ".join(view.client_ids),
    }


@staff_page(CONSOLE)
async def act_on_sessions(staff: Staff) -> Response:
    if staff.field("action") != "end_session":
        return staff.error("refused", 400)
    session_id, back = staff.field("session_id"), staff.field("back") or SESSIONS_PATH
    if not back.startswith("/admin"):
        back = SESSIONS_PATH
    if not staff.confirmed():
        return staff.confirm(
            staff.text(MESSAGES["end_session"], user=staff.field("username") or session_id),
            action="end_session",
            button=staff.text(MESSAGES["end"]),
            fields={"session_id": session_id, "back": back},
            back=back,
        )
    await run_blocking(_end_session, staff, session_id)
    return staff.see_other(back, notice="session_ended")


def _end_session(staff: Staff, session_id: str) -> None:
    server = staff.server
    ending = BackChannelEnding(server)
    session_admin.end_session(server.store, server.clock, staff.caller, session_id, ending=ending)
    ending.finish()
