"""The reset pages after the security review: a NUL in a name is no name (on PostgreSQL too),
the login a reset came from is kept by the browser, and the name's daily budget of wrong
codes shows on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.ui.cookies import RESET_LOGIN_COOKIE
from tests.conftest import ISSUER
from tests.flows.forms import FormBrowser
from tests.harness import Harness, redirect_params

USER = "+4790000001"
NEW_PASSWORD = "a brand new secret"
LINK = re.compile(r"https?://\S+/password-reset/email\?token=\S+")


@pytest.fixture
def on_each_backend(database_url: str, tmp_path: Path, clock: FrozenClock) -> Iterator[Harness]:
    settings = Settings(
        issuer=ISSUER, database_url=database_url, outbox=tmp_path / "outbox.jsonl", log_json=True
    )
    with TestClient(create_app(settings, clock=clock), base_url=ISSUER,
                    follow_redirects=False) as http:  # fmt: skip
        yield Harness(http, settings, clock)


@pytest.mark.parametrize("name", [f"{USER}\x00", "\x00", "kari\x01@example.com"])
def test_a_name_with_a_control_character_asks_for_a_name(
    on_each_backend: Harness, name: str
) -> None:
    h = on_each_backend
    h.add_user(USER)
    browser = h.browser()
    browser.get("/password-reset")
    page = browser.submit({"username": name}, ("action", "start"))
    assert page.status_code == 400
    assert "Enter the mobile number or e-mail address you log in with." in page.text
    assert h.outbox() == []


def test_a_nul_in_the_login_name_is_a_wrong_login_not_an_error(on_each_backend: Harness) -> None:
    h = on_each_backend
    h.add_client("spa")
    h.add_user(USER)
    browser = h.browser()
    browser.get(h.authorize_url())
    page = h.login(browser, f"{USER}\x00")
    assert page.status_code == 400
    assert 'name="password"' in page.text


def _sms_code(h: Harness) -> str:
    return [m for m in h.outbox() if m["channel"] == "sms"][-1]["code"]


def _reset_from_login(h: Harness, browser: FormBrowser) -> Any:
    login = browser.get(h.authorize_url())
    (link,) = re.findall(r'href="(/password-reset\?[^"]+)"', login.text)
    browser.get(link.replace("&amp;", "&"))
    browser.submit({"username": USER}, ("action", "start"))
    return browser.submit({"otp": _sms_code(h)}, ("action", "verify"))


def _reset_login_cookies(h: Harness) -> list[str]:
    return [name for name in h.http.cookies if name == RESET_LOGIN_COOKIE]


def test_a_two_factor_reset_from_a_login_goes_back_to_it_from_the_emails_tab(
    harness: Harness,
) -> None:
    harness.add_client("spa")
    harness.add_user(USER, email="kari@example.com", otp_required=True)
    browser = harness.browser()
    assert "Check your e-mail" in _reset_from_login(harness, browser).text
    # The link opens a tab of its own: it knows nothing of the login but what the browser kept.
    link = LINK.search([m for m in harness.outbox() if m["channel"] == "email"][-1]["body"])
    assert link is not None
    tab = harness.browser()
    tab.get(link.group(0))
    tab.submit(button=("action", "continue"))
    done = tab.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
    (back,) = re.findall(r'href="(/login\?interaction=[^"]+)"', done.text)
    assert _reset_login_cookies(harness) == []
    tab.get(back)
    answer = tab.submit({"username": USER, "password": NEW_PASSWORD}, ("action", "login"))
    assert 'name="otp"' in answer.text
    answer = tab.submit({"otp": _sms_code(harness)}, ("action", "verify"))
    assert redirect_params(answer)["state"] == "st-123"


def test_a_later_reset_from_nowhere_does_not_go_back_to_an_earlier_login(
    harness: Harness,
) -> None:
    harness.add_client("spa")
    harness.add_user(USER)
    browser = harness.browser()
    assert 'name="new_password"' in _reset_from_login(harness, browser).text
    assert _reset_login_cookies(harness) == [RESET_LOGIN_COOKIE]
    browser.get("/password-reset")
    browser.submit({"username": USER}, ("action", "start"))
    assert _reset_login_cookies(harness) == []
    browser.submit({"otp": _sms_code(harness)}, ("action", "verify"))
    done = browser.submit({"new_password": NEW_PASSWORD}, ("action", "reset"))
    assert 'href="/account?locale=en"' in done.text


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("", "Too many wrong codes. Try again tomorrow."),
        ("?locale=nb", "For mange feil koder. Prøv igjen i morgen."),
    ],
)
def test_the_names_daily_budget_of_wrong_codes_shows_on_the_page(
    harness: Harness, query: str, text: str
) -> None:
    harness.add_user(USER)
    budget = harness.settings.password_reset_code_failures_per_day
    per_reset = harness.settings.otp_max_attempts
    browser = harness.browser()
    for guess in range(budget + 1):
        if guess % per_reset == 0:
            browser.get(f"/password-reset{query}")
            browser.submit({"username": USER}, ("action", "start"))
        page = browser.submit({"otp": "999999"}, ("action", "verify"))
    assert page.status_code == 429
    assert text in page.text
