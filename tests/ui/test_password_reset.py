"""Forgotten password: the reset pages, their limits, and what a reset ends. Also the login
page's re-login ("Log in again as …", "Not you?"), the show-password toggle and notices."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import (
    PASSWORD,
    Harness,
    code_from_login,
    exchange_code,
    redirect_params,
    refresh,
)
from tests.outbound.receiver import Receiver, pending, wait_until

USER = "+4790000001"
NEW_PASSWORD = "a brand new secret"
LINK = re.compile(r"https?://\S+/password-reset/email\?token=\S+")


@pytest.fixture
def h(harness: Harness) -> Harness:
    harness.add_client("spa")
    harness.add_user(USER, email="kari@example.com")
    return harness


@pytest.fixture
def two_factor(harness: Harness) -> Harness:
    harness.add_client("spa")
    harness.add_user(USER, email="kari@example.com", otp_required=True)
    return harness


def _start(h: Harness, browser: FormBrowser, username: str = USER, query: str = "") -> Any:
    page = browser.get(f"/password-reset{query}")
    assert page.status_code == 200, page.text[:300]
    return browser.submit({"username": username}, ("action", "start"))


def _sms(h: Harness) -> list[dict[str, str]]:
    return [m for m in h.outbox() if m["channel"] == "sms"]


def _emails(h: Harness) -> list[dict[str, str]]:
    return [m for m in h.outbox() if m["channel"] == "email"]


def _code_page(h: Harness, browser: FormBrowser | None = None) -> FormBrowser:
    browser = browser or h.browser()
    page = _start(h, browser)
    assert 'name="otp"' in page.text, page.text[:500]
    return browser


def _new_password_page(h: Harness) -> FormBrowser:
    browser = _code_page(h)
    page = browser.submit({"otp": _sms(h)[-1]["code"]}, ("action", "verify"))
    assert 'name="new_password"' in page.text, page.text[:500]
    return browser


def _logs_in(h: Harness, password: str, username: str = USER) -> bool:
    """Whether the password logs in, tried from a browser of its own."""
    kept = dict(h.http.cookies)
    h.http.cookies.clear()
    try:
        browser = h.browser()
        browser.get(h.authorize_url())
        answer = browser.submit({"username": username, "password": password}, ("action", "login"))
    finally:
        h.http.cookies.clear()
        h.http.cookies.update(kept)
    return answer.status_code in (302, 303) or 'name="otp"' in answer.text


def _without_secrets(html: str) -> str:
    """The page as a person sees it: the reset handle, CSRF token and nonce vary."""
    html = re.sub(r"reset(=|%3D)[\w-]+", r"reset\1", html)
    return re.sub(r'(value|nonce)="[^"]*"', r'\1=""', html)


def test_an_unknown_account_gets_the_same_page_and_no_message(h: Harness) -> None:
    known = _start(h, h.browser())
    h.http.cookies.clear()
    unknown = _start(h, h.browser(), "+4791234567")
    assert known.status_code == unknown.status_code == 200
    assert _without_secrets(known.text) == _without_secrets(unknown.text)
    assert [m["to"] for m in h.outbox()] == [USER]
    # Whatever is guessed, nobody's reset never gets further than the code.
    wrong = h.browser()
    wrong.last = unknown
    refused = wrong.submit({"otp": h.outbox()[-1]["code"]}, ("action", "verify"))
    assert refused.status_code == 400
    assert "The code is wrong" in refused.text


def test_an_sms_code_resets_a_one_factor_account(h: Harness) -> None:
    browser = _new_password_page(h)
    done = browser.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
    assert done.status_code == 200
    assert '<p class="notice" role="status">Your password is changed' in done.text
    assert 'role="alert"' not in done.text
    notices = [m for m in h.outbox() if "Your password was changed" in m["body"]]
    assert sorted((m["channel"], m["to"]) for m in notices) == [
        ("email", "kari@example.com"),
        ("sms", USER),
    ]
    assert all("code" not in m for m in notices)
    assert _logs_in(h, NEW_PASSWORD)
    assert not _logs_in(h, PASSWORD)


def test_the_new_password_follows_the_account_pages_rule(h: Harness) -> None:
    browser = _new_password_page(h)
    short = browser.submit({"new_password": "short"}, ("action", "reset"))
    assert short.status_code == 400
    assert "at least 8 characters" in short.text
    assert _logs_in(h, PASSWORD)


def test_a_two_factor_account_needs_the_email_link_too(two_factor: Harness) -> None:
    h = two_factor
    browser = _code_page(h)
    check_mail = browser.submit({"otp": _sms(h)[-1]["code"]}, ("action", "verify"))
    assert "Check your e-mail" in check_mail.text
    assert "k•••@example.com" in check_mail.text
    # The SMS code alone does not reset: a forged "reset" at this step changes nothing.
    handle = re.search(r"reset=([\w-]+)", str(check_mail.url))
    assert handle is not None
    forged = h.http.post(
        "/password-reset",
        data={
            "reset": handle.group(1),
            "csrf_token": parse_forms(_start_form_html(h))[0].fields["csrf_token"],
            "action": "reset",
            "new_password": NEW_PASSWORD,
        },
    )
    assert forged.status_code == 400
    assert not _logs_in(h, NEW_PASSWORD)

    (mail,) = _emails(h)
    assert mail["to"] == "kari@example.com"
    link = LINK.search(mail["body"])
    assert link is not None
    landing = browser.get(link.group(0))
    assert landing.status_code == 200
    page = browser.submit(button=("action", "continue"))
    assert 'name="new_password"' in page.text
    done = browser.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
    assert "Your password is changed" in done.text
    assert _logs_in(h, NEW_PASSWORD)


def _start_form_html(h: Harness) -> str:
    """A page of this browser's, for its CSRF token (one token per browser)."""
    text: str = h.http.get("/password-reset").text
    return text


def test_a_two_factor_account_without_email_is_sent_to_customer_service(
    harness: Harness,
) -> None:
    harness.add_user(USER, otp_required=True)
    browser = _code_page(harness)
    page = browser.submit({"otp": _sms(harness)[-1]["code"]}, ("action", "verify"))
    assert "Contact customer service" in page.text
    assert _emails(harness) == []
    assert 'name="new_password"' not in page.text


def test_codes_are_one_time_and_expire(h: Harness) -> None:
    browser = _code_page(h)
    code = _sms(h)[-1]["code"]
    code_form = browser.last
    wrong = "000000" if code != "000000" else "111111"
    assert "The code is wrong" in browser.submit({"otp": wrong}, ("action", "verify")).text
    h.clock.advance(timedelta(minutes=5, seconds=1))
    expired = browser.submit({"otp": code}, ("action", "verify"))
    assert "The code has expired" in expired.text
    h.clock.advance(timedelta(seconds=30))
    resent = browser.submit(button=("action", "resend"))
    assert '<p class="notice" role="status">We sent a new code.</p>' in resent.text
    fresh = _sms(h)[-1]["code"]
    assert 'name="new_password"' in browser.submit({"otp": fresh}, ("action", "verify")).text
    # The code page posted again: the reset is past it.
    browser.last = code_form
    again = browser.submit({"otp": fresh}, ("action", "verify"))
    assert again.status_code == 400
    assert 'name="new_password"' in again.text


def test_wrong_codes_are_bounded_across_new_codes(h: Harness) -> None:
    browser = _code_page(h)
    code = _sms(h)[-1]["code"]
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(h.settings.otp_max_attempts):
        browser.submit({"otp": wrong}, ("action", "verify"))
    refused = browser.submit({"otp": code}, ("action", "verify"))
    assert refused.status_code == 429
    assert "Too many wrong codes" in refused.text
    h.clock.advance(timedelta(seconds=31))
    browser.submit(button=("action", "resend"))
    fresh = _sms(h)[-1]["code"]
    assert browser.submit({"otp": fresh}, ("action", "verify")).status_code == 429


def test_new_codes_are_limited_per_reset(h: Harness) -> None:
    browser = _code_page(h)
    too_soon = browser.submit(button=("action", "resend"))
    assert too_soon.status_code == 429
    for _ in range(h.settings.otp_max_resends):
        h.clock.advance(timedelta(seconds=31))
        assert browser.submit(button=("action", "resend")).status_code == 200
    h.clock.advance(timedelta(seconds=31))
    spent = browser.submit(button=("action", "resend"))
    assert spent.status_code == 429
    assert "No more codes" in spent.text
    assert len(_sms(h)) == 1 + h.settings.otp_max_resends


def test_the_email_link_works_once_and_expires(two_factor: Harness) -> None:
    h = two_factor
    browser = _code_page(h)
    browser.submit({"otp": _sms(h)[-1]["code"]}, ("action", "verify"))
    link = LINK.search(_emails(h)[-1]["body"])
    assert link is not None
    browser.get(link.group(0))
    landing = browser.last
    browser.submit(button=("action", "continue"))
    browser.last = landing
    used = browser.submit(button=("action", "continue"))
    assert used.status_code == 400
    assert "expired or has already been used" in used.text
    assert browser.get(link.group(0)).status_code == 400

    second = _code_page(h)
    second.submit({"otp": _sms(h)[-1]["code"]}, ("action", "verify"))
    late = LINK.search(_emails(h)[-1]["body"])
    assert late is not None
    h.clock.advance(timedelta(minutes=30, seconds=1))
    assert "expired" in second.get(late.group(0)).text


def test_another_browser_cannot_go_on_with_a_reset(two_factor: Harness) -> None:
    h = two_factor
    browser = _code_page(h)
    code_page_url = str(browser.last.url)
    h.http.cookies.clear()
    stolen = h.http.get(code_page_url)
    assert "expired or is already finished" in stolen.text
    assert 'name="otp"' not in stolen.text

    h.http.cookies.clear()
    browser = _code_page(h)
    browser.submit({"otp": _sms(h)[-1]["code"]}, ("action", "verify"))
    link = LINK.search(_emails(h)[-1]["body"])
    assert link is not None
    h.http.cookies.clear()
    elsewhere = h.browser()
    opened = elsewhere.get(link.group(0))
    assert opened.status_code == 403
    assert "Open the link in the browser where you asked" in opened.text
    assert parse_forms(opened.text) == []


@pytest.fixture
def mobile(harness: Harness) -> Harness:
    harness.add_client("app", client_type="MobileApp", scopes=["openid", "offline_access"],
                       one_telenor=True)  # fmt: skip
    harness.add_user(USER)
    return harness


def test_a_reset_ends_every_session_revokes_refresh_tokens_and_tells_the_clients(
    mobile: Harness,
) -> None:
    receiver = Receiver()
    try:
        mobile.add_client("tv", silent_sso=True, one_telenor=True,
                          backchannel_logout_uri=receiver.uri)  # fmt: skip
        code = code_from_login(mobile, "app", scope="openid offline_access")
        tokens = exchange_code(mobile, code, "app").json()
        code_from_login(mobile, "tv")  # the tv joins the session
        old_cookies = dict(mobile.http.cookies)
        mobile.http.cookies.clear()

        browser = _new_password_page(mobile)
        done = browser.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
        assert "Your password is changed" in done.text
        wait_until(lambda: pending(mobile.settings.database_url) == 0, "the logout token")
        (logout_token,) = receiver.tokens
    finally:
        receiver.close()
    assert refresh(mobile, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"
    jwks = KeySet.import_key_set(mobile.http.get("/.well-known/jwks.json").json())
    sid = jwt.decode(tokens["id_token"], jwks).claims["sid"]
    assert jwt.decode(logout_token, jwks).claims["sid"] == sid
    # The old SSO cookie no longer logs anyone in.
    mobile.http.cookies.clear()
    mobile.http.cookies.update(old_cookies)
    again = mobile.http.get(mobile.authorize_url("tv"))
    assert again.status_code in (302, 303)
    assert urlsplit(again.headers["location"]).path == "/login"


def test_a_reset_lifts_a_login_lock_on_the_name(h: Harness) -> None:
    for _ in range(h.settings.login_failures_per_username):
        _logs_in(h, "wrong guess")
    h.http.cookies.clear()
    browser = _new_password_page(h)
    browser.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
    assert _logs_in(h, NEW_PASSWORD)


def test_starting_resets_is_throttled_per_name_known_or_not(h: Harness) -> None:
    for name in (USER, "+4791234567"):
        for _ in range(h.settings.login_failures_per_username):
            assert _start(h, h.browser(), name).status_code == 200
        locked = _start(h, h.browser(), name)
        assert locked.status_code == 429
        assert "Too many attempts. Try again in 15 minutes." in locked.text
    sent = len(_sms(h))
    h.clock.advance(timedelta(minutes=15))
    assert 'name="otp"' in _start(h, h.browser()).text
    assert len(_sms(h)) == sent + 1
    # Asking for resets locks nobody's password login.
    assert _logs_in(h, PASSWORD)


@pytest.fixture
def strict_address(settings: Settings, clock: FrozenClock) -> Iterator[Harness]:
    strict = settings.model_copy(update={"login_failures_per_address": 3})
    with TestClient(create_app(strict, clock=clock), base_url=strict.issuer,
                    follow_redirects=False) as http:  # fmt: skip
        yield Harness(http, strict, clock)


def test_starting_resets_is_throttled_per_address(strict_address: Harness) -> None:
    h = strict_address
    for n in range(3):
        assert _start(h, h.browser(), f"+479100000{n}").status_code == 200
    assert _start(h, h.browser(), "+4791000009").status_code == 429


def _forged(browser: FormBrowser, button: str, **values: str) -> int:
    """Post the page's form with a wrong CSRF token; the page stays for the next try."""
    page = browser.last
    status: int = browser.submit({**values, "csrf_token": "forged"}, ("action", button)).status_code
    browser.last = page
    return status


def test_every_reset_form_needs_the_csrf_token(two_factor: Harness) -> None:
    h = two_factor
    browser = h.browser()
    browser.get("/password-reset")
    assert _forged(browser, "start", username=USER) == 403
    assert h.outbox() == []
    browser = _code_page(h)
    code = _sms(h)[-1]["code"]
    assert _forged(browser, "verify", otp=code) == 403
    assert _forged(browser, "resend") == 403
    assert len(_sms(h)) == 1
    browser.submit({"otp": code}, ("action", "verify"))
    link = LINK.search(_emails(h)[-1]["body"])
    assert link is not None
    browser.get(link.group(0))
    assert _forged(browser, "continue") == 403
    page = browser.submit(button=("action", "continue"))
    assert 'name="new_password"' in page.text
    assert _forged(browser, "reset", new_password=NEW_PASSWORD) == 403
    assert not _logs_in(h, NEW_PASSWORD)


def test_a_reset_from_a_login_goes_back_to_it_in_norwegian(h: Harness) -> None:
    browser = h.browser()
    login = browser.get(h.authorize_url(ui_locales="no"))
    (link,) = re.findall(r'href="(/password-reset\?[^"]+)"', login.text)
    assert "Glemt passordet?" in login.text
    start = browser.get(link.replace("&amp;", "&"))
    assert "Glemt passord" in start.text
    assert "Tilbake til innloggingen" in start.text
    page = browser.submit({"username": USER}, ("action", "start"))
    assert "Skriv inn koden" in page.text
    sms = _sms(h)[-1]
    assert "tilbakestille passordet" in sms["body"]
    page = browser.submit({"otp": sms["code"]}, ("action", "verify"))
    assert "Velg et nytt passord" in page.text
    done = browser.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
    assert "Passordet ditt er endret" in done.text
    (back,) = re.findall(r'href="(/login\?interaction=[^"]+)"', done.text)
    login_again = browser.get(back)
    assert 'name="password"' in login_again.text
    answer = browser.submit({"username": USER, "password": NEW_PASSWORD}, ("action", "login"))
    assert redirect_params(answer)["state"] == "st-123"


def test_a_reset_from_nowhere_ends_at_the_account_page(h: Harness) -> None:
    browser = _new_password_page(h)
    done = browser.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
    assert 'href="/account?locale=en"' in done.text


def test_prompt_login_asks_the_same_user_to_log_in_again_and_not_you_switches(
    harness: Harness,
) -> None:
    harness.add_client("spa")
    harness.add_user(USER)
    harness.add_user("+4790000002")
    browser = harness.browser()
    browser.get(harness.authorize_url())
    first = redirect_params(harness.login(browser))
    assert "code" in first
    again = browser.get(harness.authorize_url(prompt="login", ui_locales="no"))
    # The heading names the person (no name given here: the masked number); the field keeps
    # the username.
    assert "Logg inn på nytt som +47 ••• •• 001" in again.text
    assert re.search(r'name="username" value="\+4790000001"[^>]*readonly', again.text)
    assert ("action", "switch") in parse_forms(again.text)[0].buttons
    assert "code" in redirect_params(harness.login(browser))

    someone = browser.get(harness.authorize_url(prompt="login"))
    assert "Log in again as +47 ••• •• 001" in someone.text
    anyone = browser.submit(button=("action", "switch"))
    assert "Log in again" not in anyone.text
    assert "readonly" not in anyone.text
    assert 'value="switch"' not in anyone.text
    assert "code" in redirect_params(harness.login(browser, "+4790000002"))


def test_the_step_up_page_offers_not_you(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True)
    harness.add_user(USER)
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser)
    page = browser.get(harness.authorize_url("tv", acr_values="urn:telenor.identity.aal.2"))
    assert "Logged in as +47 ••• •• 001." in page.text
    anyone = browser.submit(button=("action", "switch"))
    assert 'name="password"' in anyone.text
    assert "Log in again" not in anyone.text


def test_password_fields_get_a_show_password_toggle_by_script_only(h: Harness) -> None:
    login = h.browser().get(h.authorize_url())
    new_password = _new_password_page(h).last
    for page in (login, new_password):
        scripts = re.findall(r"<script nonce=\"([^\"]+)\">(.*?)</script>", page.text, re.S)
        ((nonce, script),) = [s for s in scripts if "aria-pressed" in s[1]]
        assert f"'nonce-{nonce}'" in page.headers["content-security-policy"]
        assert 'setAttribute("aria-pressed"' in script
        assert 'type = "button"' in script
        assert "Show password" in script
        without_script = page.text.replace(script, "")
        assert "Show password" not in without_script
        assert "onclick" not in page.text.lower()


def test_a_new_login_code_is_announced_as_a_status(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user(USER, otp_required=True)
    browser = harness.browser()
    browser.get(harness.authorize_url())
    first = harness.login(browser)
    assert 'class="notice"' not in first.text
    harness.clock.advance(timedelta(seconds=30))
    resent = browser.submit(button=("action", "resend"))
    assert '<p class="notice" role="status">We sent a new code.</p>' in resent.text
    assert 'class="error"' not in resent.text


def test_the_language_switch_works_in_the_middle_of_a_reset(h: Harness) -> None:
    browser = h.browser()
    page = _start(h, browser, query="?locale=nb")
    assert "Skriv inn koden" in page.text
    (switch,) = re.findall(r'href="(/language\?lang=en[^"]*)"', page.text)
    english = browser.get(switch.replace("&amp;", "&"))
    assert "Enter the code" in english.text
    new_password = browser.submit({"otp": _sms(h)[-1]["code"]}, ("action", "verify"))
    assert "Choose a new password" in new_password.text
