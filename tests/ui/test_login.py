"""The login pages: password, SMS code, throttling, CSRF, cancel, step-up, provider choice."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from starlette.testclient import TestClient
from structlog.testing import capture_logs

from idplus.application.app import create_app
from idplus.auth.providers import LOCAL_PROVIDER, ProviderInfo, ProviderKind, ProviderRegistry
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage.providers import ProviderRegistration, add_provider
from tests.flows.forms import FormBrowser
from tests.harness import PASSWORD, Harness, redirect_params


@pytest.fixture
def otp_user(harness: Harness) -> Harness:
    harness.add_client("spa")
    harness.add_user("+4790000001", otp_required=True)
    return harness


def _otp_page(h: Harness, **params: str) -> FormBrowser:
    browser = h.browser()
    browser.get(h.authorize_url(**params))
    page = h.login(browser)
    assert page.status_code == 200, page.text[:300]
    assert 'name="otp"' in page.text
    return browser


def test_wrong_password_and_unknown_user_get_the_same_answer(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url())
    wrong = browser.submit({"username": "+4790000001", "password": "nope"}, ("action", "login"))
    unknown = browser.submit({"username": "+4791111111", "password": "nope"}, ("action", "login"))
    assert wrong.status_code == unknown.status_code == 400
    assert "Wrong username or password." in wrong.text
    assert "Wrong username or password." in unknown.text


def test_username_is_normalised_at_login(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user("+4790000001")
    browser = harness.browser()
    browser.get(harness.authorize_url())
    assert "code" in redirect_params(harness.login(browser, "900 00 001"))


def test_sms_code_is_sent_through_the_outbox_and_completes_the_login(otp_user: Harness) -> None:
    browser = _otp_page(otp_user)
    (message,) = otp_user.outbox()
    assert message["to"] == "+4790000001"
    assert message["channel"] == "sms"
    assert len(message["code"]) == 6
    assert message["code"].isdigit()
    assert message["code"] in message["body"]
    assert message["at"]
    answer = redirect_params(browser.submit({"otp": message["code"]}, ("action", "verify")))
    assert "code" in answer


def test_wrong_and_expired_codes_are_refused(otp_user: Harness) -> None:
    browser = _otp_page(otp_user)
    code = otp_user.outbox()[-1]["code"]
    wrong = "000000" if code != "000000" else "111111"
    assert "The code is wrong" in browser.submit({"otp": wrong}, ("action", "verify")).text
    otp_user.clock.advance(timedelta(minutes=5, seconds=1))
    assert "expired" in browser.submit({"otp": code}, ("action", "verify")).text


def test_a_new_code_replaces_the_old_one(otp_user: Harness) -> None:
    browser = _otp_page(otp_user)
    first = otp_user.outbox()[-1]["code"]
    too_soon = browser.submit(button=("action", "resend"))
    assert too_soon.status_code == 429
    assert "Wait half a minute" in too_soon.text
    assert len(otp_user.outbox()) == 1
    otp_user.clock.advance(timedelta(seconds=30))
    browser.submit(button=("action", "resend"))
    second = otp_user.outbox()[-1]["code"]
    if first != second:
        assert "wrong" in browser.submit({"otp": first}, ("action", "verify")).text
    assert "code" in redirect_params(browser.submit({"otp": second}, ("action", "verify")))


def test_too_many_wrong_codes_end_the_login(otp_user: Harness) -> None:
    browser = _otp_page(otp_user)
    code = otp_user.outbox()[-1]["code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        browser.submit({"otp": wrong}, ("action", "verify"))
    refused = browser.submit({"otp": code}, ("action", "verify"))
    assert refused.status_code == 429
    assert "Too many wrong codes" in refused.text
    otp_user.clock.advance(timedelta(seconds=31))
    browser.submit(button=("action", "resend"))
    fresh = otp_user.outbox()[-1]["code"]
    assert "Too many wrong codes" in browser.submit({"otp": fresh}, ("action", "verify")).text


def test_a_used_code_cannot_finish_a_second_login(otp_user: Harness) -> None:
    browser = _otp_page(otp_user)
    code = otp_user.outbox()[-1]["code"]
    form_page = browser.last
    assert "code" in redirect_params(browser.submit({"otp": code}, ("action", "verify")))
    browser.last = form_page
    replay = browser.submit({"otp": code}, ("action", "verify"))
    # The login gave the browser a new id, so the old page's form no longer even passes.
    assert replay.status_code == 403
    assert "location" not in replay.headers


def test_a_stale_password_page_posted_at_the_code_step_spends_no_code_guess(
    otp_user: Harness,
) -> None:
    """On main the password form, posted again from the back button, counted as a wrong code."""
    browser = otp_user.browser()
    password_page = browser.get(otp_user.authorize_url())
    otp_user.login(browser)
    code = otp_user.outbox()[-1]["code"]
    browser.last = password_page
    stale = otp_user.login(browser)
    assert stale.status_code == 400
    assert "The form could not be checked" in stale.text
    assert 'name="otp"' in stale.text
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert "The code is wrong" in browser.submit({"otp": wrong}, ("action", "verify")).text
    assert "code" in redirect_params(browser.submit({"otp": code}, ("action", "verify")))


def test_a_script_that_posts_only_the_fields_logs_in(otp_user: Harness) -> None:
    """INTERFACE: a script fills the named fields and keeps the hidden ones; no button needed."""
    browser = otp_user.browser()
    browser.get(otp_user.authorize_url())
    page = browser.submit({"username": "+4790000001", "password": PASSWORD})
    assert 'name="otp"' in page.text
    assert "code" in redirect_params(browser.submit({"otp": otp_user.outbox()[-1]["code"]}))


def test_acr_aal2_asks_for_the_sms_code_and_then_steps_up(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True)
    harness.add_user("+4790000001")
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser)
    assert harness.outbox() == []

    page = browser.get(harness.authorize_url("tv", acr_values="urn:telenor.identity.aal.2"))
    assert 'value="send"' in page.text
    otp_page = browser.submit(button=("action", "send"))
    assert 'name="otp"' in otp_page.text
    code = harness.outbox()[-1]["code"]
    assert "code" in redirect_params(browser.submit({"otp": code}, ("action", "verify")))
    # The session now holds level 2: no more step-up.
    assert "code" in redirect_params(
        harness.http.get(harness.authorize_url("tv", acr_values="urn:telenor.identity.aal.2"))
    )


def test_step_up_with_prompt_none_is_login_required(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True)
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser)
    url = harness.authorize_url("tv", acr_values="urn:telenor.identity.aal.2", prompt="none")
    assert redirect_params(harness.http.get(url))["error"] == "login_required"


def test_failed_logins_are_throttled_and_the_lock_lifts(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url())
    for _ in range(5):
        browser.submit({"username": "+4790000001", "password": "wrong"}, ("action", "login"))
    locked = harness.login(browser)
    assert locked.status_code == 429
    assert "Too many failed attempts. Try again in 15 minutes." in locked.text
    harness.clock.advance(timedelta(minutes=15))
    browser.get(harness.authorize_url())
    assert "code" in redirect_params(harness.login(browser))


def test_unknown_usernames_are_throttled_like_known_ones(harness: Harness) -> None:
    harness.add_client("spa")
    browser = harness.browser()
    browser.get(harness.authorize_url())
    for _ in range(5):
        browser.submit({"username": "+4791234567", "password": "x"}, ("action", "login"))
    locked = browser.submit({"username": "+4791234567", "password": "x"}, ("action", "login"))
    assert locked.status_code == 429


def test_forms_without_a_valid_csrf_token_are_refused(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url())
    with capture_logs() as logs:
        forged = browser.submit(
            {"csrf_token": "forged", "username": "+4790000001"}, ("action", "login")
        )
    assert forged.status_code == 403
    assert "could not be checked" in forged.text
    # The operator reads where it happened, and that the browser still had its id.
    (failed,) = [entry for entry in logs if entry["event"] == "form_check_failed"]
    assert (failed["path"], failed["has_browser_id"]) == ("/login", True)


def test_an_interaction_cannot_be_continued_from_another_browser(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user()
    victim = harness.browser()
    page = victim.get(harness.authorize_url())
    login_url = str(page.url)
    harness.http.cookies.clear()
    other = harness.http.get(login_url)
    assert other.status_code == 400
    assert "expired or is already finished" in other.text


def test_cancel_sends_access_denied(harness: Harness) -> None:
    harness.add_client("spa")
    browser = harness.browser()
    browser.get(harness.authorize_url())
    answer = redirect_params(browser.submit(button=("action", "cancel")))
    assert answer["error"] == "access_denied"
    assert answer["state"] == "st-123"


def test_continue_page_offers_another_user(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user("+4790000001")
    harness.add_user("+4790000002")
    browser = harness.browser()
    browser.get(harness.authorize_url())
    harness.login(browser, "+4790000001")
    page = browser.get(harness.authorize_url())
    # Named as on every page that says who is logged in: a bare number only by its ends.
    assert "Continue as +47 ••• •• 001?" in page.text
    login_page = browser.submit(button=("action", "switch"))
    assert 'name="password"' in login_page.text
    assert "code" in redirect_params(harness.login(browser, "+4790000002"))


@pytest.fixture
def two_provider_harness(settings: Settings, clock: FrozenClock) -> Iterator[Harness]:
    # A second provider of the password kind stands in for the upstream ones of a later issue.
    names = {"en": "Staff login", "nb": "Ansattinnlogging"}
    staff = ProviderInfo("staff", names, ProviderKind.PASSWORD)
    app = create_app(settings, clock=clock, providers=ProviderRegistry([LOCAL_PROVIDER, staff]))
    with TestClient(app, base_url=settings.issuer, follow_redirects=False) as http:
        harness = Harness(http, settings, clock)
        store = harness.store()
        try:
            staff_registration = ProviderRegistration("staff", "https://staff.example", "idplus")
            add_provider(store, settings, clock, staff_registration)
        finally:
            store.dispose()
        harness.add_client("spa", providers=["local", "staff"])
        harness.add_user()
        yield harness


def test_several_providers_give_a_selection_page(two_provider_harness: Harness) -> None:
    h = two_provider_harness
    browser = h.browser()
    page = browser.get(h.authorize_url(ui_locales="no"))
    assert "Ansattinnlogging" in page.text
    login_page = browser.submit(button=("provider", "staff"))
    assert 'name="password"' in login_page.text
    assert "code" in redirect_params(h.login(browser))


def test_idp_in_acr_values_skips_the_selection_page(two_provider_harness: Harness) -> None:
    h = two_provider_harness
    page = h.browser().get(h.authorize_url(acr_values="idp:local"))
    assert 'name="password"' in page.text


def test_the_code_page_of_a_development_server_says_where_the_code_is(otp_user: Harness) -> None:
    page = otp_user.browser()
    page.get(otp_user.authorize_url())
    text = otp_user.login(page).text
    assert "Development: no SMS is sent" in text
    assert str(otp_user.settings.outbox) in text
    norwegian = otp_user.browser()
    norwegian.get(otp_user.authorize_url(ui_locales="no"))
    assert "Utvikling: ingen SMS blir sendt" in otp_user.login(norwegian).text


def test_the_code_page_of_a_public_issuer_keeps_the_outbox_to_itself(
    settings: Settings, clock: FrozenClock
) -> None:
    public = settings.model_copy(update={"issuer": "http://id.example.no"})
    app = create_app(public, clock=clock)
    with TestClient(app, base_url=public.issuer, follow_redirects=False) as http:
        harness = Harness(http, public, clock)
        harness.add_client("spa")
        harness.add_user("+4790000001", otp_required=True)
        browser = harness.browser()
        browser.get(harness.authorize_url())
        text = harness.login(browser).text
    assert 'name="otp"' in text
    assert "Development" not in text
    assert str(public.outbox) not in text


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        ({"given_name": "Kari", "family_name": "Nordmann"}, "Kari Nordmann"),
        ({}, "+47 ••• •• 001"),
        ({"email": "kari@example.com"}, "+47 ••• •• 001"),
    ],
)
def test_log_in_again_names_the_user_and_keeps_the_username_in_the_field(
    harness: Harness, names: dict[str, str], shown: str
) -> None:
    harness.add_client("spa")
    harness.add_user("+4790000001", **names)
    browser = harness.browser()
    browser.get(harness.authorize_url())
    harness.login(browser)
    again = browser.get(harness.authorize_url(prompt="login"))
    assert f"<h1>Log in again as {shown}</h1>" in again.text
    assert re.search(r'name="username" value="\+4790000001"[^>]*readonly', again.text)
    assert "code" in redirect_params(harness.login(browser))


def test_an_e_mail_user_is_named_by_a_masked_address(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user("kari@example.com", phone_number=None)
    browser = harness.browser()
    browser.get(harness.authorize_url())
    harness.login(browser, "kari@example.com")
    again = browser.get(harness.authorize_url(prompt="login", ui_locales="no"))
    assert "<h1>Logg inn på nytt som k•••@example.com</h1>" in again.text
    assert 'name="username" value="kari@example.com"' in again.text


def test_the_step_up_page_names_the_user(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True)
    harness.add_user("+4790000001", given_name="Kari", family_name="Nordmann")
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser)
    page = browser.get(harness.authorize_url("tv", acr_values="urn:telenor.identity.aal.2"))
    assert "Logged in as Kari Nordmann." in page.text
    assert "+4790000001" not in page.text
