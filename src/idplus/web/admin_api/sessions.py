"""`/admin/api/v1/sessions`: the live SSO sessions (list, end one) — `manage.session_admin`.

A session is shown with its user, the clients it served, how its login went (acr, amr, the
provider) and the browser its login came from, named as the account page names it; never its
cookie. Ending one is the account page's "end session": its refresh tokens are revoked and its
back-channel clients get a logout token, queued in the same unit of work
(`protocol.oidc.end_session.BackChannelEnding`, which the user operations use too).
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel, Field

from idplus.manage import session_admin
from idplus.protocol.oidc.end_session import BackChannelEnding
from idplus.protocol.self_service import browser_of
from idplus.web.admin_api.operations import (
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)

# Session and user ids: what the store's id columns hold.
ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,64}")


class SessionsQuery(PageQuery):
    user_id: str | None = Field(
        default=None, min_length=1, max_length=64, description="Only this user's sessions."
    )


class SessionOut(BaseModel):
    id: str = Field(description="The session id: the `sid` of its tokens (not its cookie).")
    user_id: str
    username: str | None
    client_ids: list[str] = Field(description="The clients it served, first served first.")
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime
    auth_time: datetime
    acr: str
    amr: list[str]
    idp: str = Field(description="The provider of its latest login (local or an upstream).")
    persistent: bool = Field(description="Its cookie outlives the browser (remember me).")
    browser: str | None = Field(description="From the login's User-Agent: Chrome 131 …")
    system: str | None = Field(description="From the login's User-Agent: Windows, iOS 17 …")


class SessionList(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None = Field(description="Give it as `cursor` for the next page.")


def list_sessions(call: Call) -> Result:
    query = call.query
    assert isinstance(query, SessionsQuery)
    after = decode_cursor(query.cursor, ID_PATTERN) if query.cursor is not None else None
    # One more than asked: whether there is a next page.
    views = session_admin.list_sessions(
        call.ctx.store,
        call.ctx.clock,
        call.caller,
        user_id=query.user_id,
        after=after,
        limit=query.limit + 1,
    )
    page = views[: query.limit]
    more = len(views) > query.limit
    return Result(
        SessionList(
            items=[_out(view) for view in page],
            next_cursor=encode_cursor(page[-1].session.id) if more else None,
        )
    )


def end_session(call: Call) -> Result:
    ending = BackChannelEnding(call.ctx)
    session_admin.end_session(
        call.ctx.store, call.ctx.clock, call.caller, call.path["session_id"], ending=ending
    )
    ending.finish()
    return Result(None, status=204)


def _out(view: session_admin.SessionView) -> SessionOut:
    session, browser = view.session, browser_of(view.session.user_agent)
    return SessionOut(
        id=session.id,
        user_id=session.user_id,
        username=view.username,
        client_ids=view.client_ids,
        created_at=session.created_at,
        last_seen_at=session.last_seen_at,
        expires_at=session.expires_at,
        auth_time=session.auth_time,
        acr=session.acr,
        amr=list(session.amr),
        idp=session.idp,
        persistent=session.persistent,
        browser=browser.name,
        system=browser.system,
    )


OPERATIONS = (
    Operation("GET", "/sessions", "listSessions",
              "The live SSO sessions, by id (user_id: one user's)", list_sessions,
              response=SessionList, query=SessionsQuery, errors={404: "no such user"}),
    Operation("DELETE", "/sessions/{session_id}", "endSession",
              "End a live session: its refresh tokens are revoked and its back-channel "
              "clients told", end_session, status=204, errors={404: "no live session"}),
)  # fmt: skip
