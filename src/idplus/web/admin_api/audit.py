"""`/admin/api/v1/audit`: the audit trail, newest first — `manage.audit`, as `idplus audit list`.

Pages follow the trail's own numbering (`id`), not the time: events recorded in the same
instant are neither skipped nor shown twice, and neither is an event recorded while an operator
pages (it is newer than the first page). On PostgreSQL one case remains: an event whose
transaction took its id before, but committed after, the page that passed that id.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from idplus.errors import ValidationError
from idplus.manage import audit
from idplus.models import AuditEvent
from idplus.web.admin_api.operations import (
    BadRequest,
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)

# An event filter: a name (client.added) or a name prefix ending in `*` (user.*).
EVENT_FILTER = re.compile(r"[a-z0-9_.-]{0,64}\*?")
MAX_EVENT_FILTERS = 20
# The cursor is base64url of the last event's id: digits, never a leading zero.
# At most 18 digits: every such id fits the databases' 64-bit integers.
_CURSOR_ID = re.compile(r"[1-9][0-9]{0,17}")


class AuditEventsQuery(PageQuery):
    actor: str | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="Only changes made by this caller: client:ID (an operator client), "
        "user:ID (a portal or console user) or a username.",
    )
    object: str | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="Only events about this: client:ID, user:ID, company:ID, "
        "api_product:SCOPE …, or a bare client id, user id or username (a removed user: by "
        "user id).",
    )
    event: str | None = Field(
        default=None,
        max_length=2000,
        description="Only these events: comma-separated names (client.added) or prefixes "
        "ending in * (user.*).",
    )
    since: str | None = Field(
        default=None,
        max_length=64,
        description="Only events from then on: ISO-8601 (2025-03-01, 2025-03-01T08:00+01:00; "
        "no offset means UTC) or a duration back from now (90s, 30m, 24h, 7d, 2w).",
    )


class AuditEventOut(BaseModel):
    id: int = Field(description="The trail's own number, increasing in recording order.")
    at: datetime
    event: str
    # Not necessarily who caused it: detail.actor names the caller of a change made here.
    client_id: str | None = Field(description="The client the event is about.")
    user_id: str | None = Field(description="The user the event is about.")
    target: str | None = Field(
        description="What else it is about (company:ID, api_product:SCOPE …)."
    )
    detail: dict[str, Any] = Field(
        description="Identifiers and facts of the event; never a secret, password or code."
        " `actor`: who made a change through the admin API or pages (client:ID, user:ID)."
    )


class AuditEventList(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None = Field(
        description="Give it as `cursor` for the next, older page; null on the last page."
    )


def list_audit_events(call: Call) -> Result:
    params = call.query
    assert isinstance(params, AuditEventsQuery)
    typed = params.object is not None and audit.SUBJECT.fullmatch(params.object) is not None
    query = audit.AuditQuery(
        actor=params.object if params.object is not None and not typed else None,
        about=params.object if typed else None,
        changed_by=params.actor,
        since=_since(params.since, call) if params.since is not None else None,
        events=_event_filters(params.event) if params.event is not None else (),
        # One more than asked: whether there is a next page.
        limit=params.limit + 1,
        before_id=int(decode_cursor(params.cursor, _CURSOR_ID)) if params.cursor else None,
    )
    events = audit.list_events(call.ctx.store, call.ctx.clock, query)
    page = events[: params.limit]
    more = len(events) > params.limit
    listed = AuditEventList(
        items=[_described(event) for event in page],
        next_cursor=encode_cursor(str(page[-1].id)) if more else None,
    )
    return Result(listed)


def _since(value: str, call: Call) -> datetime:
    try:
        return audit.parse_since(value, call.ctx.clock.now())
    except ValidationError:
        raise BadRequest(
            "since: neither an ISO-8601 time (2025-03-01, 2025-03-01T08:00+01:00) nor a"
            " duration back from now (90s, 30m, 24h, 7d, 2w)"
        ) from None


def _event_filters(value: str) -> tuple[str, ...]:
    filters = tuple(name.strip() for name in value.split(","))
    if len(filters) > MAX_EVENT_FILTERS or not all(
        name and EVENT_FILTER.fullmatch(name) for name in filters
    ):
        raise BadRequest(
            f"event: up to {MAX_EVENT_FILTERS} comma-separated event names (client.added) or"
            " prefixes ending in * (user.*)"
        )
    return filters


def _described(event: AuditEvent) -> AuditEventOut:
    assert event.id is not None  # read back from the trail
    return AuditEventOut(
        id=event.id,
        at=event.at,
        event=event.event,
        client_id=event.client_id,
        user_id=event.user_id,
        target=event.target,
        detail=dict(event.detail),
    )


OPERATIONS = (
    Operation("GET", "/audit", "listAuditEvents",
              "Audit events, newest first: who changed what, and when", list_audit_events,
              response=AuditEventList, query=AuditEventsQuery),
)  # fmt: skip
