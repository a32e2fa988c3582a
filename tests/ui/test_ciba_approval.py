"""The CIBA approval page: the registered client name and binding message, a fresh login as
the named user, one browser, CSRF, and nothing after the answer."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, Harness
from tests.protocol.ciba.helpers import (
    PHONE,
    add_ciba_client,
    approval_link,
    approve,
    poll,
    started,
)


@pytest.fixture
def shop(harness: Harness) -> Harness:
    add_ciba_client(harness)
    harness.add_user(PHONE)
    harness.add_user("+4790000002")
    return harness


def _browser(h: Harness) -> FormBrowser:
    return FormBrowser(h.http, "https://nowhere.invalid")


def _logged_in_page(h: FormBrowser, link: str, username: str = PHONE) -> object:
    page = h.get(link)
    assert 'name="password"' in page.text
    return h.submit({"username": username, "password": PASSWORD}, ("action", "login"))


def test_the_page_shows_the_registered_name_and_the_binding_message(shop: Harness) -> None:
    started(shop, binding_message="Ordre #42")
    page = approve(shop, action="(just look)")
    assert "Telenor Shop" in page.text and "Ordre #42" in page.text
    assert 'value="approve"' in page.text and 'value="deny"' in page.text


def test_a_login_from_before_the_request_does_not_count(shop: Harness) -> None:
    started(shop)
    browser = _browser(shop)
    assert "Du godkjente" in approve(shop, browser=browser).text
    # A second request: the browser's session is older than it, so the user logs in again.
    shop.clock.advance(timedelta(seconds=1))
    started(shop)
    assert 'name="password"' in browser.get(approval_link(shop)).text


def test_the_request_is_answered_by_the_first_login_to_hold_it(shop: Harness) -> None:
    started(shop)
    link = approval_link(shop)
    first = _browser(shop)
    page = _logged_in_page(first, link)
    assert 'value="approve"' in page.text  # type: ignore[attr-defined]
    # Someone else with the link and the password still cannot answer from elsewhere.
    kept = dict(shop.http.cookies)
    shop.http.cookies.clear()
    elsewhere = _logged_in_page(_browser(shop), link)
    assert elsewhere.status_code == 409  # type: ignore[attr-defined]
    assert "annen enhet" in elsewhere.text  # type: ignore[attr-defined]
    # The first login still answers it, even after losing its browser cookie.
    shop.http.cookies.clear()
    shop.http.cookies.update({k: v for k, v in kept.items() if "browser" not in k})
    assert "Du godkjente" in approve(shop, browser=_browser(shop)).text


def test_cancelling_the_login_denies_the_request(shop: Harness) -> None:
    request = started(shop)
    browser = _browser(shop)
    assert 'name="password"' in browser.get(approval_link(shop)).text
    page = browser.submit(button=("action", "cancel"))
    assert "Du avviste innloggingen." in page.text
    assert poll(shop, request["auth_req_id"]).json()["error"] == "access_denied"


def test_another_user_cannot_approve_and_may_log_in_again(shop: Harness) -> None:
    request = started(shop)
    browser = _browser(shop)
    page = _logged_in_page(browser, approval_link(shop), "+4790000002")
    assert page.status_code == 403  # type: ignore[attr-defined]
    assert "annen konto" in page.text  # type: ignore[attr-defined]
    again = browser.submit(button=("action", "switch"))
    assert 'name="password"' in again.text
    assert poll(shop, request["auth_req_id"]).json()["error"] == "authorization_pending"


def test_the_decision_needs_the_csrf_token(shop: Harness) -> None:
    request = started(shop)
    browser = _browser(shop)
    page = _logged_in_page(browser, approval_link(shop))
    (form,) = parse_forms(page.text)  # type: ignore[attr-defined]
    forged = shop.http.post(
        form.action, data={**form.fields, "csrf_token": "x", "action": "approve"}
    )
    assert forged.status_code == 403
    assert poll(shop, request["auth_req_id"]).json()["error"] == "authorization_pending"


def test_an_answered_or_expired_link_shows_a_clear_page(shop: Harness) -> None:
    started(shop, requested_expiry="30")
    link = approval_link(shop)
    browser = _browser(shop)
    approve(shop, action="deny", browser=browser)
    answered = browser.get(link)
    assert answered.status_code == 400 and "allerede besvart" in answered.text
    assert "already been answered" in _browser(shop).get("/ciba/approve?token=made-up").text


def test_the_page_says_in_words_what_the_app_may_do(shop: Harness) -> None:
    started(shop, scope="openid vipps profile offline_access")
    page = approve(shop, action="(just look)")
    assert "Telenor Shop får lov til å:" in page.text
    for words in ("vite hvem du er", "se navnet og fødselsdatoen din", "holde deg innlogget"):
        assert f"<li>{words}</li>" in page.text
    assert "vipps" not in page.text  # it picks the flow and grants nothing
    assert "offline_access" not in page.text


def test_the_page_names_the_user_without_showing_the_whole_number(shop: Harness) -> None:
    started(shop)
    page = approve(shop, action="(just look)")
    assert "Logget inn som +47 ••• •• 001." in page.text
    assert PHONE not in page.text
