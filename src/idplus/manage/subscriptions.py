"""API subscription requests (issue 20, SPEC §9): an app asks for an API product's `api:` scope;
an operator approves or rejects.

pending → approved | rejected, once: the decision is one conditional UPDATE, so two operators
deciding at once cannot both win. Approval, in the same transaction, turns on the app's API
access and subscribes it to the product — what lets its client get the `api:` scope on every
front (/connect/authorize, /connect/token, /oauth/v2/token).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import datetime

from idplus.clock import Clock
from idplus.errors import Conflict, NotFoundError, ValidationError
from idplus.manage.access import require_operator
from idplus.manage.api_products import API_SCOPE_PATTERN
from idplus.manage.apps import app_in_reach
from idplus.models import (
    SUBSCRIPTION_APPROVED,
    SUBSCRIPTION_PENDING,
    SUBSCRIPTION_REJECTED,
    AuditEvent,
    Caller,
    SubscriptionRequest,
)
from idplus.store.base import Store, UnitOfWork

STATUSES = (SUBSCRIPTION_PENDING, SUBSCRIPTION_APPROVED, SUBSCRIPTION_REJECTED)
# The column's width; a reason is shown to the app's developers as plain text.
MAX_REASON_LENGTH = 500
_CONTROL_CHARACTER = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")
# Who asked, when no one is named (the CLI: the operator at the server's console).
COMMAND_LINE = "command-line"


def request_subscription(
    store: Store, clock: Clock, caller: Caller, client_id: str, scope: str
) -> SubscriptionRequest:
    """A member of the app's company (or an operator) asks for the product. Conflict while a
    request for it is pending (also one sent at the same moment) or when the app subscribes
    already."""
    if not API_SCOPE_PATTERN.fullmatch(scope):
        raise ValidationError(f"scope must be an API product's api:NAME, not {scope!r}")
    with store.transaction() as uow:
        # Locked, as deleting or approving for the app locks it: a request waits for them and
        # then sees the app gone (404) or subscribed (Conflict).
        client = app_in_reach(uow, caller, client_id, lock=True)
        if uow.api_products.find(scope) is None:
            raise NotFoundError(f"no API product {scope!r}")
        if scope in client.api_products:
            raise Conflict(f"app {client_id!r} subscribes to {scope} already")
        if client.require_dpop:
            # The gateway's reference tokens are Bearer tokens (manage.clients refuses the pair).
            raise ValidationError("a --require-dpop app cannot use the API gateway")
        request = SubscriptionRequest(
            id=uuid.uuid4().hex,
            client_id=client_id,
            scope=scope,
            status=SUBSCRIPTION_PENDING,
            requested_by=caller.actor or COMMAND_LINE,
            requested_at=clock.now(),
        )
        # The insert is the check: the partial unique index keeps one pending request.
        if not uow.subscription_requests.insert(request):
            raise Conflict(f"a request of app {client_id!r} for {scope} is pending already")
        _record(uow, clock, "api_subscription.requested", request, caller)
    return request


def list_requests(
    store: Store,
    caller: Caller,
    *,
    status: str | None = None,
    after: tuple[datetime, str] | None = None,
    limit: int = 50,
) -> list[SubscriptionRequest]:
    """Oldest first. Operators: every request; developers: their companies' apps'."""
    if status is not None and status not in STATUSES:
        raise ValidationError(f"status must be one of {', '.join(STATUSES)}")
    with store.reading() as uow:
        companies: list[str] | None = None
        if not caller.operator:
            if caller.user_id is None:
                return []
            companies = [m.company_id for m in uow.companies.memberships_of(caller.user_id)]
            if not companies:
                return []
        return uow.subscription_requests.page(
            after=after, limit=limit, status=status, company_ids=companies
        )


def requests_of_app(
    store: Store, caller: Caller, client_id: str, *, limit: int = 50
) -> list[SubscriptionRequest]:
    """One app's requests, newest first: the `limit` newest and every pending one (what its
    page shows however long its history). NotFoundError for an app out of the caller's reach."""
    with store.reading() as uow:
        app_in_reach(uow, caller, client_id)
        return uow.subscription_requests.of_client(client_id, limit=limit)


def get_request(store: Store, caller: Caller, request_id: str) -> SubscriptionRequest:
    """One request, for an operator or a member of the app's company; NotFoundError else."""
    with store.reading() as uow:
        request = uow.subscription_requests.find(request_id)
        if request is not None and not caller.operator:
            try:
                app_in_reach(uow, caller, request.client_id)
            except NotFoundError:
                request = None
    if request is None:
        raise NotFoundError(f"no subscription request {request_id!r}")
    return request


def approve(store: Store, clock: Clock, caller: Caller, request_id: str) -> SubscriptionRequest:
    """An operator approves: the app gets API access and the product's scope, at once."""
    require_operator(caller)
    with store.transaction() as uow:
        client_id = _pending_app(uow, request_id)
        # The app first, then the request: the order deleting an app takes them in.
        client = uow.clients.find(client_id, lock=True)
        if client is None:
            raise NotFoundError(f"no subscription request {request_id!r}")
        if client.require_dpop:
            raise ValidationError("a --require-dpop app cannot use the API gateway")
        decided = _decide(uow, clock, caller, request_id, SUBSCRIPTION_APPROVED)
        if not client.api_access:
            uow.clients.update(replace(client, api_access=True), clock.now())
        uow.api_products.add_subscribers(decided.scope, [client_id])
        _record(uow, clock, "api_subscription.approved", decided, caller)
    return decided


def reject(
    store: Store, clock: Clock, caller: Caller, request_id: str, reason: str | None = None
) -> SubscriptionRequest:
    """An operator rejects, perhaps saying why (the app's developers read it)."""
    require_operator(caller)
    if reason is not None and (
        not reason.strip() or len(reason) > MAX_REASON_LENGTH or _CONTROL_CHARACTER.search(reason)
    ):
        raise ValidationError(f"a reason is 1-{MAX_REASON_LENGTH} characters of plain text")
    with store.transaction() as uow:
        _pending_app(uow, request_id)
        decided = _decide(uow, clock, caller, request_id, SUBSCRIPTION_REJECTED, reason)
        _record(uow, clock, "api_subscription.rejected", decided, caller)
    return decided


def cancel(store: Store, clock: Clock, caller: Caller, request_id: str) -> None:
    """A member of the app's company withdraws a request while it is pending."""
    with store.transaction() as uow:
        request = uow.subscription_requests.find(request_id)
        if request is None:
            raise NotFoundError(f"no subscription request {request_id!r}")
        try:
            app_in_reach(uow, caller, request.client_id)
        except NotFoundError:
            raise NotFoundError(f"no subscription request {request_id!r}") from None
        if not uow.subscription_requests.cancel(request_id):
            raise Conflict(f"subscription request {request_id!r} was decided already")
        _record(uow, clock, "api_subscription.cancelled", request, caller)


def _pending_app(uow: UnitOfWork, request_id: str) -> str:
    """The requesting app's client_id; NotFoundError / Conflict for an unknown or decided
    request."""
    request = uow.subscription_requests.find(request_id)
    if request is None:
        raise NotFoundError(f"no subscription request {request_id!r}")
    if request.status != SUBSCRIPTION_PENDING:
        raise Conflict(f"subscription request {request_id!r} was {request.status} already")
    return request.client_id


def _decide(
    uow: UnitOfWork,
    clock: Clock,
    caller: Caller,
    request_id: str,
    status: str,
    reason: str | None = None,
) -> SubscriptionRequest:
    decided = uow.subscription_requests.decide(
        request_id,
        status=status,
        decided_by=caller.actor or COMMAND_LINE,
        decided_at=clock.now(),
        reason=reason,
    )
    if decided is None:
        # Another operator's decision committed after this one read the request.
        raise Conflict(f"subscription request {request_id!r} was decided already")
    return decided


def _record(
    uow: UnitOfWork, clock: Clock, event: str, request: SubscriptionRequest, caller: Caller
) -> None:
    detail: dict[str, object] = {"request_id": request.id, "scope": request.scope}
    if request.reason is not None:
        detail["reason"] = request.reason
    if caller.actor is not None:
        detail["actor"] = caller.actor
    uow.audit.record(AuditEvent(event, clock.now(), client_id=request.client_id, detail=detail))


def describe_request(request: SubscriptionRequest) -> dict[str, object]:
    return {
        "id": request.id,
        "client_id": request.client_id,
        "scope": request.scope,
        "status": request.status,
        "requested_by": request.requested_by,
        "requested_at": request.requested_at,
        "decided_by": request.decided_by,
        "decided_at": request.decided_at,
        "reason": request.reason,
    }
