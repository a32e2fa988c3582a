"""`/admin/api/v1/subscription-requests`: apps' requests for API products, and operators'
decisions on them (`manage.subscriptions`). An app asks with POST /apps/{client_id}/subscriptions.

Developers see their companies' apps' requests and may withdraw one while it is pending;
only operators approve or reject. A request is decided once: deciding it again is 409.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from idplus.manage import subscriptions
from idplus.models import SubscriptionRequest
from idplus.web.admin_api.operations import (
    BadRequest,
    Call,
    Operation,
    PageQuery,
    Result,
    decode_cursor,
    encode_cursor,
)

Status = Literal["pending", "approved", "rejected"]
assert get_args(Status) == subscriptions.STATUSES
# A cursor's sort key: "<requested_at ISO-8601> <request id>".
_CURSOR = re.compile(r"^\S{19,40} [0-9a-f]{32}$")


class SubscriptionRequestOut(BaseModel):
    id: str
    # The app asking.
    client_id: str
    # The API product's scope.
    scope: str
    status: Status
    # Who asked and who decided, as the audit trail names them ("user:<id>", "client:<id>").
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    # Why it was rejected, when the operator said.
    reason: str | None


class SubscriptionRequestList(BaseModel):
    items: list[SubscriptionRequestOut]
    # Pass as `cursor` for the next page; null on the last one.
    next_cursor: str | None


class SubscriptionRequestPage(PageQuery):
    """The query of GET /subscription-requests: oldest first."""

    # Only requests in this state (e.g. pending: what waits for an operator).
    status: Status | None = None


class Rejection(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    # Why, for the app's developers: plain text.
    reason: str | None = Field(default=None, max_length=subscriptions.MAX_REASON_LENGTH)


def request_out(request: SubscriptionRequest) -> SubscriptionRequestOut:
    return SubscriptionRequestOut.model_validate(subscriptions.describe_request(request))


def list_requests(call: Call) -> Result:
    query = call.query
    assert isinstance(query, SubscriptionRequestPage)
    after = _after(query.cursor) if query.cursor is not None else None
    found = subscriptions.list_requests(
        call.ctx.store, call.caller, status=query.status, after=after, limit=query.limit + 1
    )
    page = found[: query.limit]
    more = len(found) > query.limit
    cursor = f"{page[-1].requested_at.isoformat()} {page[-1].id}" if more else None
    return Result(
        SubscriptionRequestList(
            items=[request_out(r) for r in page],
            next_cursor=encode_cursor(cursor) if cursor is not None else None,
        )
    )


def _after(cursor: str) -> tuple[datetime, str]:
    at, request_id = decode_cursor(cursor, _CURSOR).split(" ")
    try:
        parsed = datetime.fromisoformat(at)
        if parsed.tzinfo is None:
            raise ValueError("no offset")
        # In UTC here, inside the check: 0001-01-01T00:00+14:00 has no UTC time.
        when = parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise BadRequest("cursor: not a cursor this API gave (use next_cursor as it is)") from None
    return when, request_id


def approve(call: Call) -> Result:
    decided = subscriptions.approve(call.ctx.store, call.ctx.clock, call.caller, call.path["id"])
    return Result(request_out(decided))


def reject(call: Call) -> Result:
    body = call.body
    assert isinstance(body, Rejection)
    decided = subscriptions.reject(
        call.ctx.store, call.ctx.clock, call.caller, call.path["id"], body.reason
    )
    return Result(request_out(decided))


def cancel(call: Call) -> Result:
    subscriptions.cancel(call.ctx.store, call.ctx.clock, call.caller, call.path["id"])
    return Result(None, status=204)


_DECIDED = "the request was decided already"

OPERATIONS = (
    Operation("GET", "/subscription-requests", "listSubscriptionRequests",
              "Requests for API products, oldest first: an operator's all, a developer's "
              "companies' apps'", list_requests, response=SubscriptionRequestList,
              query=SubscriptionRequestPage, operators_only=False),
    Operation("POST", "/subscription-requests/{id}/approve", "approveSubscriptionRequest",
              "Approve: the app gets API access and the product's scope at once", approve,
              response=SubscriptionRequestOut,
              errors={404: "no such request", 409: _DECIDED}),
    Operation("POST", "/subscription-requests/{id}/reject", "rejectSubscriptionRequest",
              "Reject, perhaps saying why", reject, response=SubscriptionRequestOut,
              body=Rejection, errors={404: "no such request", 409: _DECIDED}),
    Operation("DELETE", "/subscription-requests/{id}", "cancelSubscriptionRequest",
              "Withdraw a pending request of one of your apps", cancel, status=204,
              errors={404: "no such request", 409: _DECIDED}, operators_only=False),
)  # fmt: skip
