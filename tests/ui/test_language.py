"""The language of every page (SPEC §5) and the "Norsk / English" switch that picks it.

ui_locales (or the page's own parameter) > the language picked with the switch (a cookie) >
Accept-Language > English, on the pages people reach by typing a URL as on the login.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urljoin

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.ui.i18n import gettext_for
from idplus.ui.language import LANGUAGE_COOKIE, accepted_locale
from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, RP, Harness, code_from_login, exchange_code, redirect_params

NORWEGIAN_BROWSER = "nb-NO,nb;q=0.9,en;q=0.8"
ENGLISH_BROWSER = "en-GB,en;q=0.9,nb;q=0.5"


def _lang(page: Any) -> str:
    found = re.search(r'<html lang="([a-z]+)"', page.text)
    assert found, page.text[:300]
    return found.group(1)


def _switch(page: Any) -> str:
    """The href of the switch's link (to the language the page is not in)."""
    found = re.search(r'<nav class="languages"[^>]*>.*?<a href="([^"]+)"', page.text, re.S)
    assert found, page.text[:500]
    return html.unescape(found.group(1))


def _with(url: str, name: str, value: str | None) -> str:
    if value is None:
        return url
    return f"{url}{'&' if '?' in url else '?'}{name}={value}"


# Each page as a user opens it, optionally with the language it asks for in its URL.
PAGES: dict[str, Callable[[Harness, str | None], str]] = {
    "home": lambda h, asked: _with("/", "ui_locales", asked),
    "not-found": lambda h, asked: _with("/nothing-here", "ui_locales", asked),
    "device": lambda h, asked: _with("/device", "ui_locales", asked),
    "account-login": lambda h, asked: _with("/account", "locale", asked),
    "authorize-login": lambda h, asked: _with(h.authorize_url(), "ui_locales", asked),
    "authorize-error": lambda h, asked: _with(h.authorize_url("nobody"), "ui_locales", asked),
    "logout": lambda h, asked: _with("/connect/endsession", "ui_locales", asked),
}


def _open(h: Harness, url: str, *, picked: str | None, accept: str | None) -> Any:
    if picked is not None:
        h.http.cookies.set(LANGUAGE_COOKIE, picked)
    if accept is not None:
        h.http.headers["accept-language"] = accept
    page = FormBrowser(h.http, RP).get(url)
    assert page.status_code in (200, 400, 404), page.status_code
    return page


USER = "+4790000001"
OTP_USER = "+4790000002"


@pytest.fixture
def spa(harness: Harness) -> Harness:
    harness.add_client("spa", name="Telenor Shop")
    harness.add_user()
    harness.add_user(OTP_USER, otp_required=True)
    return harness


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize(
    ("asked", "picked", "accept", "expected"),
    [
        pytest.param(None, None, None, "en", id="nothing-english"),
        pytest.param(None, None, NORWEGIAN_BROWSER, "no", id="accept-language"),
        pytest.param(None, None, "sv, nn;q=0.4, de;q=0.9", "no", id="accept-first-supported"),
        pytest.param(None, "nb", ENGLISH_BROWSER, "no", id="picked-beats-accept"),
        pytest.param(None, "en", NORWEGIAN_BROWSER, "en", id="picked-english"),
        pytest.param("en", "nb", NORWEGIAN_BROWSER, "en", id="url-beats-picked"),
        pytest.param("no", "en", ENGLISH_BROWSER, "no", id="url-norwegian"),
    ],
)
def test_page_language_precedence(
    spa: Harness,
    page: str,
    asked: str | None,
    picked: str | None,
    accept: str | None,
    expected: str,
) -> None:
    opened = _open(spa, PAGES[page](spa, asked), picked=picked, accept=accept)
    assert _lang(opened) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("nb", "nb"),
        ("no-NO", "nb"),
        ("nn", "nb"),
        ("en-US,en;q=0.9", "en"),
        ("en;q=0.5, nb;q=0.8", "nb"),
        ("nb;q=0, en;q=0.1", "en"),
        ("de-DE, fr;q=0.9", None),
        ("*", None),
        ("nb;q=nan, en;q=0.2", "en"),
        ("nb;q=2, en;q=0.2", "en"),
        ("", None),
        (None, None),
    ],
)
def test_accept_language_honours_q_values(header: str | None, expected: str | None) -> None:
    assert accepted_locale(header) == expected


def test_every_page_offers_the_other_language_by_name_in_that_language(spa: Harness) -> None:
    page = _open(spa, "/device", picked=None, accept=None)
    nav = re.search(r'<nav class="languages".*?</nav>', page.text, re.S)
    assert nav is not None
    assert 'hreflang="no" lang="no">Norsk</a>' in nav.group(0)
    assert '<span lang="en" aria-current="true">English</span>' in nav.group(0)


def test_the_switch_remembers_the_choice_for_a_year_and_goes_back(spa: Harness) -> None:
    english = _open(spa, "/device?ui_locales=en", picked=None, accept=None)
    switched = spa.http.get(_switch(english))
    assert switched.status_code == 303
    # Without ui_locales, or the page would keep overriding the choice.
    assert switched.headers["location"] == "/device"
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith(f"{LANGUAGE_COOKIE}=nb;")
    assert f"Max-Age={365 * 24 * 3600}" in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    assert "Path=/" in cookie
    assert "secure" not in cookie.lower()  # the test issuer is plain http
    assert _lang(spa.http.get("/device")) == "no"
    assert _lang(spa.http.get("/")) == "no"


def test_the_switch_keeps_the_rest_of_the_page_address(spa: Harness) -> None:
    switched = spa.http.get(
        "/language", params={"lang": "en", "next": "/device?user_code=123&ui_locales=no&x=%2F"}
    )
    assert switched.headers["location"] == "/device?user_code=123&x=%2F"


def test_on_an_https_issuer_the_choice_is_a_secure_host_cookie(
    settings: Settings, clock: FrozenClock
) -> None:
    https = Settings(
        issuer="https://id.example.no",
        database_url=settings.database_url,
        outbox=settings.outbox,
        secret_key="a-cookie-key-from-the-environment",
        key_encryption_key="a-key-encryption-key-from-the-environment",
    )
    with TestClient(create_app(https, clock=clock), base_url=https.issuer) as client:
        switched = client.get("/language?lang=nb&next=/", follow_redirects=False)
        page = client.get("/")
    cookie = switched.headers["set-cookie"]
    assert cookie.startswith(f"__Host-{LANGUAGE_COOKIE}=nb;")
    assert "Secure" in cookie
    assert _lang(page) == "no"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/account",
        "///evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "evil.example",
        "/\t/evil.example",
        "/account\r\nSet-Cookie: x=1",
        "",
    ],
)
def test_the_switch_only_goes_back_to_a_page_of_this_server(spa: Harness, target: str) -> None:
    switched = spa.http.get("/language", params={"lang": "nb", "next": target})
    assert switched.status_code == 303
    assert switched.headers["location"] == "/"


def test_an_unknown_language_changes_nothing(spa: Harness) -> None:
    switched = spa.http.get("/language", params={"lang": "de", "next": "/device"})
    assert switched.headers["location"] == "/device"
    assert "set-cookie" not in switched.headers


def test_a_login_in_progress_switches_language(spa: Harness) -> None:
    browser = FormBrowser(spa.http, RP)
    login = browser.get(spa.authorize_url())
    assert _lang(login) == "en"
    norwegian = browser.get(_switch(login))
    assert _lang(norwegian) == "no"
    assert "Mobilnummer eller e-post" in norwegian.text
    # The pages that follow keep it, also one answered to a POST.
    wrong = browser.submit({"username": "+4790000001", "password": "wrong"}, ("action", "login"))
    assert _lang(wrong) == "no"
    assert "interaction=" in unquote(_switch(wrong))
    finished = browser.submit(
        {"username": "+4790000001", "password": PASSWORD}, ("action", "login")
    )
    assert "code" in redirect_params(finished)


def test_another_browser_cannot_switch_someone_elses_login(spa: Harness) -> None:
    victim = FormBrowser(spa.http, RP)
    login = victim.get(spa.authorize_url())
    switch = _switch(login)
    stranger = TestClient(spa.http.app, base_url=str(spa.http.base_url), follow_redirects=False)
    assert stranger.get(switch).status_code == 303
    assert _lang(spa.http.get(str(login.url))) == "en"


def test_a_login_for_the_account_page_returns_to_it_in_the_language_picked(spa: Harness) -> None:
    browser = FormBrowser(spa.http, RP)
    login = browser.get("/account?locale=en")
    assert 'name="password"' in login.text
    norwegian = browser.get(_switch(login))
    assert _lang(norwegian) == "no"
    account = browser.submit({"username": "+4790000001", "password": PASSWORD}, ("action", "login"))
    assert account.url.path == "/account"
    assert _lang(account) == "no"


def _h1(page: Any) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page.text, re.S)
    assert found, page.text[:500]
    return html.unescape(found.group(1).strip())


def _shape(page: Any) -> list[tuple[Any, ...]]:
    """What makes a step that step: its forms' fields and buttons, and the login or reset they
    go on with (not the token, the page's own language or a problem shown)."""
    return [
        (f.inputs, f.buttons, f.fields.get("interaction"), f.fields.get("reset"))
        for f in parse_forms(page.text)
    ]


def _press(browser: FormBrowser, button: tuple[str, str], **values: str) -> Any:
    """Post the form of the page that has `button` (a page may have several), following
    redirects within the server."""
    page = browser.last
    form = next(f for f in parse_forms(page.text) if button in f.buttons)
    data = {**form.fields, **values, button[0]: button[1]}
    response = browser.client.post(urljoin(str(page.url), form.action), data=data)
    while response.is_redirect:
        response = browser.client.get(urljoin(str(response.url), response.headers["location"]))
    browser.last = response
    return response


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def _account_page(h: Harness, browser: FormBrowser) -> Any:
    browser.get("/account")
    page = browser.submit({"username": USER, "password": PASSWORD}, ("action", "login"))
    assert "Your account" in page.text, page.text[:300]
    return page


def _login_problem(h: Harness, browser: FormBrowser) -> Any:
    browser.get(h.authorize_url())
    return browser.submit({"username": USER, "password": "wrong"}, ("action", "login"))


def _code_problem(h: Harness, browser: FormBrowser) -> Any:
    browser.get(h.authorize_url())
    browser.submit({"username": OTP_USER, "password": PASSWORD}, ("action", "login"))
    return browser.submit({"otp": _wrong(h.outbox()[-1]["code"])}, ("action", "verify"))


def _reset_start_problem(h: Harness, browser: FormBrowser) -> Any:
    browser.get("/password-reset")
    return browser.submit({"username": ""}, ("action", "start"))


def _reset_code_problem(h: Harness, browser: FormBrowser) -> Any:
    browser.get("/password-reset")
    browser.submit({"username": USER}, ("action", "start"))
    return browser.submit({"otp": _wrong(h.outbox()[-1]["code"])}, ("action", "verify"))


def _device_problem(h: Harness, browser: FormBrowser) -> Any:
    browser.get("/device")
    return browser.submit({"user_code": "000-000-000"}, ("action", "continue"))


def _account_after_post(h: Harness, browser: FormBrowser) -> Any:
    _account_page(h, browser)
    return _press(
        browser,
        ("action", "change_password"),
        current_password="wrong",
        new_password="a new password",
    )


def _logged_out_after_confirming(h: Harness, browser: FormBrowser) -> Any:
    code_from_login(h)
    browser.get("/connect/endsession")
    return browser.submit(button=("action", "logout"))


def _logged_out_from_the_account_page(h: Harness, browser: FormBrowser) -> Any:
    _account_page(h, browser)
    return _press(browser, ("action", "logout"))


def _logged_out_by_id_token_hint(h: Harness, browser: FormBrowser) -> Any:
    tokens = exchange_code(h, code_from_login(h)).json()
    return browser.get(f"/connect/endsession?id_token_hint={tokens['id_token']}")


def _upstream_callback_of_no_login(h: Harness, browser: FormBrowser) -> Any:
    return browser.get("/federation/up/callback?state=no-such-state&code=c")


@dataclass(frozen=True)
class Drawn:
    """A page as a user reaches it (in English): how, its heading (a msgid), and the status
    it has when found again by the switch (an error page stays one)."""

    open: Callable[[Harness, FormBrowser], Any]
    heading: str
    status: int = 200


DRAWN: dict[str, Drawn] = {
    "home": Drawn(lambda h, b: b.get("/"), "Log in with idplus"),
    "not-found": Drawn(lambda h, b: b.get("/nothing-here"), "Page not found", 404),
    "device": Drawn(lambda h, b: b.get("/device"), "Connect a device"),
    "account-login": Drawn(lambda h, b: b.get("/account"), "Log in"),
    "account": Drawn(_account_page, "Your account"),
    "authorize-login": Drawn(lambda h, b: b.get(h.authorize_url()), "Log in"),
    "authorize-error": Drawn(
        lambda h, b: b.get(h.authorize_url("nobody")), "Something went wrong", 400
    ),
    "logout-confirmation": Drawn(lambda h, b: b.get("/connect/endsession"), "Log out"),
    "reset-start": Drawn(lambda h, b: b.get("/password-reset"), "Forgot password"),
    # Drawn in answer to a POST: the switch must find the same step again by a GET.
    "login-problem": Drawn(_login_problem, "Log in"),
    "login-code-problem": Drawn(_code_problem, "Enter the code"),
    "reset-start-problem": Drawn(_reset_start_problem, "Forgot password"),
    "reset-code-problem": Drawn(_reset_code_problem, "Enter the code"),
    "device-problem": Drawn(_device_problem, "Connect a device"),
    "account-after-post": Drawn(_account_after_post, "Your account"),
    "logged-out-after-confirming": Drawn(_logged_out_after_confirming, "You are now logged out"),
    "logged-out-from-account": Drawn(_logged_out_from_the_account_page, "You are now logged out"),
    "logged-out-by-hint": Drawn(_logged_out_by_id_token_hint, "You are now logged out"),
    "upstream-callback-error": Drawn(_upstream_callback_of_no_login, "Something went wrong", 400),
}


@pytest.mark.parametrize("name", sorted(DRAWN))
def test_every_page_offers_the_other_language_and_the_switch_comes_back_to_it(
    spa: Harness, name: str
) -> None:
    drawn, browser = DRAWN[name], FormBrowser(spa.http, RP)
    english = drawn.open(spa, browser)
    assert (_lang(english), _h1(english)) == ("en", drawn.heading)
    norwegian = browser.get(_switch(english))
    assert norwegian.status_code == drawn.status, norwegian.text[:300]
    assert _lang(norwegian) == "no"
    assert _h1(norwegian) == gettext_for("nb").gettext(drawn.heading)
    assert _shape(norwegian) == _shape(english)
