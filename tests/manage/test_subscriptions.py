"""API subscription requests: a member of an app's company asks for an API product, an operator
approves (the app gets API access and the product's scope at once) or rejects; each request is
decided once, and every step is in the audit trail."""

from __future__ import annotations

import pytest

from idplus.clock import FrozenClock
from idplus.errors import Conflict, Forbidden, NotFoundError, ValidationError
from idplus.manage.api_products import add_api_product
from idplus.manage.apps import AppRequest, create_app, delete_app
from idplus.manage.clients import get_client
from idplus.manage.subscriptions import (
    approve,
    cancel,
    list_requests,
    reject,
    request_subscription,
)
from idplus.models import (
    COMPANY_ADMIN,
    COMPANY_DEVELOPER,
    SUBSCRIPTION_APPROVED,
    SUBSCRIPTION_PENDING,
    SUBSCRIPTION_REJECTED,
    Caller,
    SubscriptionRequest,
)
from idplus.store.base import Store
from idplus.store.sql.api_products import SqlApiProducts
from idplus.store.sql.clients import SqlClients
from tests.manage.test_apps import make_company, make_user
from tests.manage.test_invitations import while_inside

OPERATOR = Caller.admin_client("ops")


@pytest.fixture
def dev(store: Store, clock: FrozenClock) -> Caller:
    caller = make_user(store, clock, "+4791000001")
    assert caller.user_id is not None
    make_company(store, clock, "acme", {caller.user_id: COMPANY_DEVELOPER})
    add_api_product(store, clock, "api:tv")
    add_api_product(store, clock, "api:music")
    return caller


@pytest.fixture
def app_id(store: Store, clock: FrozenClock, dev: Caller) -> str:
    request = AppRequest("Acme TV", "acme", "Confidential", grant_types=["client_credentials"])
    return create_app(store, clock, dev, request).client.client_id


def test_approval_gives_the_app_api_access_and_the_scope(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str
) -> None:
    requested = request_subscription(store, clock, dev, app_id, "api:tv")
    assert (requested.status, requested.requested_by) == (SUBSCRIPTION_PENDING, dev.actor)
    before = get_client(store, app_id)
    assert not before.api_access and before.api_products == ()

    approved = approve(store, clock, OPERATOR, requested.id)

    assert (approved.status, approved.decided_by) == (SUBSCRIPTION_APPROVED, OPERATOR.actor)
    after = get_client(store, app_id)
    assert after.api_access and after.api_products == ("api:tv",)
    assert after.may_request("api:tv") and not after.may_request("api:music")
    with store.reading() as uow:
        events = uow.audit.list_events(10, events=("api_subscription.*",))
    assert [(e.event, e.client_id, e.detail.get("actor")) for e in reversed(events)] == [
        ("api_subscription.requested", app_id, dev.actor),
        ("api_subscription.approved", app_id, OPERATOR.actor),
    ]


def test_a_rejection_changes_nothing_and_says_why(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str
) -> None:
    requested = request_subscription(store, clock, dev, app_id, "api:tv")

    rejected = reject(store, clock, OPERATOR, requested.id, "no contract yet")

    assert (rejected.status, rejected.reason) == (SUBSCRIPTION_REJECTED, "no contract yet")
    assert not get_client(store, app_id).api_access
    # Asking again is a new request.
    again = request_subscription(store, clock, dev, app_id, "api:tv")
    assert again.id != requested.id


def test_a_request_is_decided_once(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str
) -> None:
    requested = request_subscription(store, clock, dev, app_id, "api:tv")
    approve(store, clock, OPERATOR, requested.id)
    for decision in (
        lambda: approve(store, clock, OPERATOR, requested.id),
        lambda: reject(store, clock, OPERATOR, requested.id),
        lambda: cancel(store, clock, dev, requested.id),
    ):
        with pytest.raises(Conflict):
            decision()
    with pytest.raises(NotFoundError):
        approve(store, clock, OPERATOR, "no-such-request")


def test_one_pending_request_per_product_and_none_once_subscribed(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str
) -> None:
    requested = request_subscription(store, clock, dev, app_id, "api:tv")
    with pytest.raises(Conflict, match="pending already"):
        request_subscription(store, clock, dev, app_id, "api:tv")
    request_subscription(store, clock, dev, app_id, "api:music")
    approve(store, clock, OPERATOR, requested.id)
    with pytest.raises(Conflict, match="subscribes to api:tv already"):
        request_subscription(store, clock, dev, app_id, "api:tv")


def test_only_existing_products_and_own_apps(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str
) -> None:
    with pytest.raises(NotFoundError, match="no API product"):
        request_subscription(store, clock, dev, app_id, "api:nothing")
    with pytest.raises(ValidationError):
        request_subscription(store, clock, dev, app_id, "openid")
    outsider = make_user(store, clock, "+4791000002")
    assert outsider.user_id is not None
    make_company(store, clock, "globex", {outsider.user_id: COMPANY_ADMIN})
    with pytest.raises(NotFoundError, match="no app"):
        request_subscription(store, clock, outsider, app_id, "api:tv")
    assert list_requests(store, outsider) == []


def test_only_operators_decide(store: Store, clock: FrozenClock, dev: Caller, app_id: str) -> None:
    requested = request_subscription(store, clock, dev, app_id, "api:tv")
    with pytest.raises(Forbidden):
        approve(store, clock, dev, requested.id)
    with pytest.raises(Forbidden):
        reject(store, clock, dev, requested.id)
    assert not get_client(store, app_id).api_access


@pytest.mark.parametrize("reason", ["", "x" * 501, "bell\x07"])
def test_a_reason_is_plain_text(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str, reason: str
) -> None:
    requested = request_subscription(store, clock, dev, app_id, "api:tv")
    with pytest.raises(ValidationError):
        reject(store, clock, OPERATOR, requested.id, reason)


def test_listing_by_status_and_by_who_asks(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str
) -> None:
    tv = request_subscription(store, clock, dev, app_id, "api:tv")
    music = request_subscription(store, clock, dev, app_id, "api:music")
    approve(store, clock, OPERATOR, tv.id)

    assert {r.id for r in list_requests(store, OPERATOR)} == {tv.id, music.id}
    assert [r.id for r in list_requests(store, dev, status=SUBSCRIPTION_PENDING)] == [music.id]
    assert [r.id for r in list_requests(store, dev, status=SUBSCRIPTION_APPROVED)] == [tv.id]
    with pytest.raises(ValidationError):
        list_requests(store, dev, status="maybe")


def test_a_member_withdraws_a_pending_request(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str
) -> None:
    requested = request_subscription(store, clock, dev, app_id, "api:tv")
    cancel(store, clock, dev, requested.id)
    assert list_requests(store, OPERATOR) == []
    with pytest.raises(NotFoundError):
        approve(store, clock, OPERATOR, requested.id)


def test_a_request_while_the_app_is_deleted_finds_no_app(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request waits for the app's row the delete holds, then finds no app (404), never a
    request of an app that is gone."""
    deleted, requested = while_inside(
        monkeypatch,
        (SqlClients, "delete"),
        lambda: delete_app(store, clock, dev, app_id),
        lambda: request_subscription(store, clock, dev, app_id, "api:tv"),
    )

    assert deleted is None
    assert isinstance(requested, NotFoundError), requested
    assert list_requests(store, OPERATOR) == []


def test_a_request_during_the_approval_finds_the_app_subscribed(
    store: Store, clock: FrozenClock, dev: Caller, app_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The approval holds the app's row until the app subscribes: a request for the same
    product then sees the subscription (Conflict), and no pending request is left for a
    product the app has."""
    first = request_subscription(store, clock, dev, app_id, "api:tv")

    approved, again = while_inside(
        monkeypatch,
        (SqlApiProducts, "add_subscribers"),
        lambda: approve(store, clock, OPERATOR, first.id),
        lambda: request_subscription(store, clock, dev, app_id, "api:tv"),
    )

    assert isinstance(approved, SubscriptionRequest), approved
    assert approved.status == SUBSCRIPTION_APPROVED
    assert isinstance(again, Conflict), again
    assert "subscribes to api:tv already" in again.description
    assert list_requests(store, dev, status=SUBSCRIPTION_PENDING) == []
