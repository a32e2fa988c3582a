"""The console's subscription requests (approve; reject after a confirmation that may say
why) and live sessions (list; end after a confirmation)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from idplus.models import SUBSCRIPTION_PENDING, SubscriptionRequest
from idplus.ui.staff_pages import encode_cursor
from tests.harness import Harness
from tests.ui.staff_browser import (
    DEVELOPER,
    OPERATOR,
    StaffBrowser,
    add_people,
    check_page_structure,
    user_named,
)
from tests.ui.test_portal import create_company
from tests.ui.test_portal_apps import create_app


@pytest.fixture
def requested(harness: Harness) -> tuple[StaffBrowser, str]:
    """A developer's app asked for api:tv; the operator is logged in at the console."""
    add_people(harness, DEVELOPER, OPERATOR)
    harness.add_api_products("api:tv")
    browser = StaffBrowser(harness)
    browser.login(DEVELOPER)
    client_id, _ = create_app(browser, create_company(browser))
    browser.get(f"/portal/apps/{client_id}")
    assert (
        browser.post(f"/portal/apps/{client_id}", "request_api", scope="api:tv").status_code == 303
    )
    browser.login(OPERATOR, "/admin")
    return browser, client_id


def _subscribers(h: Harness, scope: str) -> tuple[str, ...]:
    store = h.store()
    try:
        with store.reading() as uow:
            product = uow.api_products.find(scope)
    finally:
        store.dispose()
    assert product is not None
    return tuple(product.client_ids)


def test_the_dashboard_shows_pending_requests_first(requested: tuple[StaffBrowser, str]) -> None:
    operator, client_id = requested
    page = operator.get("/admin")
    assert page.text.index(client_id) < page.text.index("<h2>Sections</h2>")
    assert 'value="approve"' in page.text
    check_page_structure(page.text)


def test_approving_subscribes_the_app(requested: tuple[StaffBrowser, str]) -> None:
    operator, client_id = requested
    h = operator.h
    page = operator.get("/admin")
    (request_id,) = re.findall(r'name="request_id" value="([^"]+)"', page.text)
    approved = operator.post("/admin/api-products", "approve", request_id=request_id,
                             back="/admin")  # fmt: skip
    assert approved.headers["location"] == "/admin?notice=approved"
    assert client_id in _subscribers(h, "api:tv")
    dashboard = operator.get(approved.headers["location"])
    assert "The request is approved: the app has the API product now." in dashboard.text
    assert "No app is waiting for an answer." in dashboard.text
    again = operator.post("/admin/api-products", "approve", request_id=request_id)
    assert again.status_code == 409
    (event,) = h.audit_events("api_subscription.approved")
    assert event.detail["actor"] == f"user:{user_named(h, OPERATOR).id}"


def test_rejecting_asks_first_and_tells_the_developers_why(
    requested: tuple[StaffBrowser, str],
) -> None:
    operator, client_id = requested
    page = operator.get("/admin/api-products")
    (request_id,) = re.findall(r'name="request_id" value="([^"]+)"', page.text)
    asked = operator.post("/admin/api-products", "reject", request_id=request_id)
    assert f"Reject the request of {client_id} for api:tv?" in asked.text
    check_page_structure(asked.text)  # the reason's text field has its label
    rejected = operator.post("/admin/api-products", "reject", request_id=request_id,
                             confirmed="yes", reason="Use the test API first")  # fmt: skip
    assert rejected.headers["location"] == "/admin/api-products?notice=rejected"
    assert _subscribers(operator.h, "api:tv") == ()
    operator.login(DEVELOPER, f"/portal/apps/{client_id}")
    app = operator.get(f"/portal/apps/{client_id}?locale=nb")
    assert "Avvist: Use the test API first" in app.text


def test_every_pending_request_is_reached_page_by_page(harness: Harness) -> None:
    """More requests than a page: the dashboard and the API products' page link to the next
    page (htmx swaps the table alone), and one from there is rejected with its own question."""
    add_people(harness, OPERATOR)
    scopes = [f"api:p{n:02d}" for n in range(53)]
    harness.add_api_products(*scopes)
    harness.add_client("svc", client_type="Confidential", grant_types=["client_credentials"],
                       redirect_uris=[])  # fmt: skip
    asked = harness.clock.now() - timedelta(hours=1)
    # The last four asked at the same moment: the first page ends among them.
    moments = [asked + timedelta(seconds=min(n, 49)) for n in range(53)]
    pending = [
        SubscriptionRequest(f"{n:032x}", "svc", scope, SUBSCRIPTION_PENDING, "user:x", moment)
        for n, (scope, moment) in enumerate(zip(scopes, moments, strict=True))
    ]
    store = harness.store()
    try:
        with store.transaction() as uow:
            for request in pending:
                assert uow.subscription_requests.insert(request)
    finally:
        store.dispose()
    operator = StaffBrowser(harness)
    operator.login(OPERATOR, "/admin")
    for path in ("/admin", "/admin/api-products"):
        first = operator.get(path)
        assert _request_ids(first.text) == [r.id for r in pending[:50]]
        (next_url,) = re.findall(r'<a href="([^"]+)" hx-get="[^"]+" hx-target="#requests"',
                                 first.text)  # fmt: skip
        assert next_url.startswith(f"{path}?cursor=")
        swapped = operator.get(next_url.replace("&amp;", "&"), **{"HX-Request": "true"})
        assert swapped.text.lstrip().startswith('<div id="requests"')
        assert "<h1>" not in swapped.text
        assert _request_ids(swapped.text) == [r.id for r in pending[50:]]
        assert 'hx-target="#requests"' not in swapped.text  # the last page
        for made_up in ("not a cursor", "2026-03-01T12:00:00 ab", "0001-01-01T00:00:00+14:00 ab"):
            assert operator.get(f"{path}?cursor={encode_cursor(made_up)}").status_code == 400
    operator.get(next_url.replace("&amp;", "&"))
    last = pending[-1]
    question = operator.post("/admin/api-products", "reject", request_id=last.id)
    assert f"Reject the request of svc for {last.scope}?" in question.text


def _request_ids(page: str) -> list[str]:
    return re.findall(r'name="request_id" value="([^"]+)"', page)


def test_sessions_are_listed_and_ended_after_a_confirmation(harness: Harness) -> None:
    add_people(harness, DEVELOPER, OPERATOR)
    browser = StaffBrowser(harness)
    browser.login(DEVELOPER)
    developer_cookies = dict(harness.http.cookies)
    browser.login(OPERATOR, "/admin/sessions")
    page = browser.get("/admin/sessions")
    assert f">{DEVELOPER}</a>" in page.text
    developer = user_named(harness, DEVELOPER)
    mine = browser.get(f"/admin/sessions?user_id={developer.id}")
    (session_id,) = re.findall(r'name="session_id" value="([^"]+)"', mine.text)
    asked = browser.post("/admin/sessions", "end_session", session_id=session_id,
                         username=DEVELOPER)  # fmt: skip
    assert f"End the session of {DEVELOPER}?" in asked.text
    done = browser.confirm(asked)
    assert done.headers["location"] == "/admin/sessions?notice=session_ended"
    assert f">{DEVELOPER}</a>" not in browser.get("/admin/sessions").text
    (event,) = harness.audit_events("session.ended")
    assert event.detail["by"] == "operator"
    # The developer's browser is logged out: the portal sends it to the login.
    harness.http.cookies.clear()
    harness.http.cookies.update(developer_cookies)
    assert harness.http.get("/portal").headers["location"].startswith("/login?")
    # An ended session cannot be ended again.
    browser.login(OPERATOR, "/admin/sessions")
    gone = browser.post("/admin/sessions", "end_session", session_id=session_id, confirmed="yes")
    assert gone.status_code == 404
