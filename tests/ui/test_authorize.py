"""GET|POST /connect/authorize over HTTP: error handling, response modes, SSO and prompts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from structlog.testing import capture_logs

from tests.flows.forms import FormBrowser
from tests.harness import CALLBACK, Harness, redirect_params


@pytest.fixture
def spa(harness: Harness) -> Harness:
    harness.add_client("spa")
    harness.add_user()
    return harness


def _fatal(harness: Harness, url: str) -> str:
    response = harness.http.get(url)
    assert response.status_code == 400
    assert "location" not in response.headers
    assert "text/html" in response.headers["content-type"]
    return response.text


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"client_id": ""}, "client_id is missing"),
        ({"client_id": "nobody"}, "unknown client_id"),
        ({"redirect_uri": ""}, "redirect_uri is missing"),
        ({"redirect_uri": "https://evil.example/cb"}, "an address it has not registered"),
        ({"redirect_uri": CALLBACK + "/"}, "an address it has not registered"),
        ({"redirect_uri": CALLBACK + "?x=1"}, "an address it has not registered"),
    ],
)
def test_bad_client_or_redirect_uri_shows_a_page_and_never_redirects(
    spa: Harness, params: dict[str, str], detail: str
) -> None:
    assert detail in _fatal(spa, spa.authorize_url(**params))


def test_repeated_redirect_uri_is_fatal(spa: Harness) -> None:
    url = spa.authorize_url() + "&redirect_uri=https%3A%2F%2Fevil.example%2Fcb"
    assert "more than once" in _fatal(spa, url)


def test_ciba_clients_cannot_use_the_browser(harness: Harness) -> None:
    harness.add_client("ciba", client_type="Confidential", ciba_enabled=True)
    assert "CIBA" in _fatal(harness, harness.authorize_url("ciba"))


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"response_type": ""}, "invalid_request"),
        ({"response_type": "magic"}, "unsupported_response_type"),
        ({"response_type": "code id_token", "nonce": "n"}, "unauthorized_client"),
        ({"response_mode": "carrier_pigeon"}, "invalid_request"),
        ({"scope": ""}, "invalid_request"),
        ({"scope": "openid tnn.legacy"}, "invalid_scope"),
        ({"scope": "openid api:tv"}, "invalid_scope"),
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "bogus"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"request": "eyJ.x.y"}, "request_not_supported"),
        ({"request_uri": "https://rp.example/r"}, "request_uri_not_supported"),
    ],
)
def test_later_problems_go_back_to_the_client_with_state(
    spa: Harness, params: dict[str, str], error: str
) -> None:
    answer = redirect_params(spa.http.get(spa.authorize_url(**params)))
    assert answer["error"] == error
    assert answer["state"] == "st-123"
    assert answer["iss"] == spa.settings.issuer
    assert "code" not in answer


def test_repeated_parameter_is_invalid_request(spa: Harness) -> None:
    answer = redirect_params(spa.http.get(spa.authorize_url() + "&scope=openid"))
    assert answer["error"] == "invalid_request"


def test_without_a_session_the_browser_goes_to_the_login_page(spa: Harness) -> None:
    response = spa.http.get(spa.authorize_url())
    assert response.status_code == 302
    assert response.headers["location"].startswith("/login?interaction=")


def test_login_returns_a_code_and_the_original_state(spa: Harness) -> None:
    browser = spa.browser()
    page = browser.get(spa.authorize_url())
    assert 'name="username"' in page.text
    answer = redirect_params(spa.login(browser))
    assert len(answer["code"]) >= 43
    assert answer["state"] == "st-123"
    assert answer["iss"] == spa.settings.issuer


def test_post_to_authorize_works_like_get(spa: Harness) -> None:
    query = spa.authorize_url().split("?", 1)[1]
    response = spa.http.post(
        "/connect/authorize",
        content=query,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.headers["location"].startswith("/login?interaction=")


def test_fragment_and_form_post_response_modes(spa: Harness) -> None:
    browser = spa.browser()
    browser.get(spa.authorize_url(response_mode="fragment"))
    response = spa.login(browser)
    assert "#code=" in response.headers["location"]

    browser = spa.browser()
    browser.get(spa.authorize_url(response_mode="form_post", prompt="login"))
    page = spa.login(browser)
    assert page.status_code == 200
    assert f'action="{CALLBACK}"' in page.text
    assert 'name="state" value="st-123"' in page.text
    assert 'name="code"' in page.text
    assert "script-src 'nonce-" in page.headers["content-security-policy"]


def test_login_hint_prefills_the_username(spa: Harness) -> None:
    page = spa.browser().get(spa.authorize_url(login_hint="+4790000001"))
    assert 'value="+4790000001"' in page.text


def test_ui_locales_no_gives_norwegian_pages(spa: Harness) -> None:
    page = spa.browser().get(spa.authorize_url(ui_locales="no"))
    assert '<html lang="no">' in page.text
    assert "Logg inn" in page.text
    assert "Mobilnummer eller e-post" in page.text
    english = spa.browser().get(spa.authorize_url(ui_locales="de"))
    assert "Mobile number or e-mail" in english.text


def test_prompt_none_without_a_session_is_login_required(spa: Harness) -> None:
    answer = redirect_params(spa.http.get(spa.authorize_url(prompt="none")))
    assert answer == {"error": "login_required", "error_description": answer["error_description"],
                      "state": "st-123", "iss": spa.settings.issuer}  # fmt: skip


def test_session_without_silent_sso_shows_continue_page(spa: Harness) -> None:
    browser = spa.browser()
    browser.get(spa.authorize_url())
    spa.login(browser)

    page = browser.get(spa.authorize_url(state="again"))
    assert page.status_code == 200
    assert 'value="continue"' in page.text
    answer = redirect_params(browser.submit(button=("action", "continue")))
    assert answer["state"] == "again"
    assert "code" in answer


def test_prompt_none_with_a_session_but_no_silent_sso_is_interaction_required(
    spa: Harness,
) -> None:
    browser = spa.browser()
    browser.get(spa.authorize_url())
    spa.login(browser)
    answer = redirect_params(spa.http.get(spa.authorize_url(prompt="none")))
    assert answer["error"] == "interaction_required"


def test_silent_sso_client_goes_straight_back(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True)
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser)

    assert "code" in redirect_params(harness.http.get(harness.authorize_url("tv")))
    assert "code" in redirect_params(harness.http.get(harness.authorize_url("tv", prompt="none")))


def test_prompt_login_and_expired_max_age_force_a_new_login(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True)
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser)

    forced = harness.http.get(harness.authorize_url("tv", prompt="login"))
    assert forced.headers["location"].startswith("/login?")

    harness.clock.advance(timedelta(seconds=120))
    fresh_enough = harness.http.get(harness.authorize_url("tv", max_age="300"))
    assert "code" in redirect_params(fresh_enough)
    too_old = harness.http.get(harness.authorize_url("tv", max_age="60"))
    assert too_old.headers["location"].startswith("/login?")
    answer = redirect_params(
        harness.http.get(harness.authorize_url("tv", max_age="60", prompt="none"))
    )
    assert answer["error"] == "login_required"


def test_one_telenor_clients_share_a_session_and_others_are_isolated(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True, one_telenor=True)
    harness.add_client("shop", silent_sso=True, one_telenor=True)
    harness.add_client("other", silent_sso=True)
    harness.add_user()
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser)

    assert "code" in redirect_params(harness.http.get(harness.authorize_url("shop")))
    isolated = harness.http.get(harness.authorize_url("other"))
    assert isolated.headers["location"].startswith("/login?")


def test_sso_cookie_flags(spa: Harness) -> None:
    browser = spa.browser()
    browser.get(spa.authorize_url())
    response = spa.login(browser)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("idplus_sso"))
    lowered = cookie.lower()
    assert "httponly" in lowered
    assert "samesite=lax" in lowered
    assert "max-age" not in lowered  # a browser-session cookie by default
    assert "secure" not in lowered  # the test issuer is plain http


def test_remember_me_keeps_the_session_for_14_days(spa: Harness) -> None:
    browser = spa.browser()
    browser.get(spa.authorize_url())
    response = spa.login(browser, remember_me="on")
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("idplus_sso"))
    assert f"Max-Age={14 * 24 * 3600}" in cookie


def test_mobile_app_sessions_last_90_days(harness: Harness) -> None:
    harness.add_client("app", client_type="MobileApp")
    harness.add_user()
    browser = harness.browser()
    page = browser.get(harness.authorize_url("app"))
    assert "remember_me" not in page.text
    response = harness.login(browser)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("idplus_sso"))
    assert f"Max-Age={90 * 24 * 3600}" in cookie


def test_different_user_login_replaces_the_session(harness: Harness) -> None:
    harness.add_client("tv", silent_sso=True)
    harness.add_user("+4790000001")
    harness.add_user("+4790000002")
    browser = harness.browser()
    browser.get(harness.authorize_url("tv"))
    harness.login(browser, "+4790000001")
    browser.get(harness.authorize_url("tv", prompt="login"))
    harness.login(browser, "+4790000002")

    continued = harness.http.get(harness.authorize_url("tv"))
    assert "code" in redirect_params(continued)


LOOPBACK = "http://127.0.0.1/cb"


@pytest.mark.parametrize(
    "attack",
    ["http://evil.com\\@127.0.0.1:9999/cb", "http://evil.com@127.0.0.1:9999/cb"],
)
def test_loopback_lookalike_redirect_gets_no_code_by_form_post(
    harness: Harness, attack: str
) -> None:
    """A signed-in victim follows the attacker's link: no form may post the code elsewhere."""
    harness.add_client("app", client_type="MobileApp", redirect_uris=[LOOPBACK], silent_sso=True)
    harness.add_user()
    _sign_in_to_loopback_app(harness)

    page = harness.http.get(
        harness.authorize_url("app", redirect_uri=attack, response_mode="form_post")
    )
    assert page.status_code == 400
    assert 'name="code"' not in page.text
    assert "<form" not in page.text
    # Links stay on this server (the language switch carries the request as a path), but for
    # the way back to the app's registered origin.
    targets = re.findall(r'(?:href|action)="([^"]*)"', page.text)
    assert "http://127.0.0.1/" in targets
    local = [t for t in targets if t != "http://127.0.0.1/"]
    assert all(t.startswith("/") and not t.startswith("//") for t in local), targets


def test_loopback_port_redirect_posts_to_the_registered_uri_with_that_port(
    harness: Harness,
) -> None:
    harness.add_client("app", client_type="MobileApp", redirect_uris=[LOOPBACK], silent_sso=True)
    harness.add_user()
    _sign_in_to_loopback_app(harness)
    page = harness.http.get(
        harness.authorize_url(
            "app", redirect_uri="http://127.0.0.1:9999/cb", response_mode="form_post"
        )
    )
    assert page.status_code == 200
    assert 'action="http://127.0.0.1:9999/cb"' in page.text


def _sign_in_to_loopback_app(harness: Harness) -> None:
    browser = FormBrowser(harness.http, "http://127.0.0.1:5000/")
    browser.get(harness.authorize_url("app", redirect_uri="http://127.0.0.1:5000/cb"))
    signed_in = harness.login(browser)
    assert signed_in.headers["location"].startswith("http://127.0.0.1:5000/cb?code=")


def test_a_refused_request_is_logged_with_its_reason_and_client(spa: Harness) -> None:
    """The page says only that the app is not set up; the operator's log says why and which."""
    with capture_logs() as logs:
        page = spa.http.get(spa.authorize_url(redirect_uri="https://elsewhere.example/cb"))
    assert page.status_code == 400
    (refusal,) = [entry for entry in logs if entry["event"] == "authorize_refused"]
    assert refusal["client_id"] == "spa"
    assert "redirect_uri" in str(refusal["reason"])


def test_an_error_sent_to_the_client_is_logged_with_its_reason_and_client(spa: Harness) -> None:
    with capture_logs() as logs:
        response = spa.http.get(spa.authorize_url(code_challenge_method="plain"))
    assert redirect_params(response)["error"] == "invalid_request"
    (refusal,) = [entry for entry in logs if entry["event"] == "authorize_refused"]
    assert (refusal["client_id"], refusal["error"], refusal["redirected"]) == (
        "spa",
        "invalid_request",
        True,
    )
    assert refusal["reason"]
