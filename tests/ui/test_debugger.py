"""The /debugger relying party: the request previewed before it is sent, the client secret
checked before the login, the tokens raw and decoded, and the buttons that use them."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, Harness, s256

ISSUER = "http://127.0.0.1:8000"
CALLBACK = f"{ISSUER}/debugger/callback"
LOGGED_OUT = f"{ISSUER}/debugger"
WEB = {"client_id": "dbg-web", "scope": "openid profile offline_access"}


@pytest.fixture
def debugger(harness: Harness) -> Harness:
    harness.add_client(
        "dbg-spa",
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[LOGGED_OUT],
        scopes=["openid", "profile"],
    )
    harness.add_user(given_name="Kari")
    return harness


@pytest.fixture
def web_secret(debugger: Harness) -> str:
    secret = debugger.add_client(
        "dbg-web",
        client_type="Confidential",
        redirect_uris=[CALLBACK],
        post_logout_redirect_uris=[LOGGED_OUT],
        scopes=["openid", "profile", "offline_access"],
        grant_types=["authorization_code", "refresh_token"],
    )
    assert secret is not None
    return secret


def _preview(h: Harness, **fields: str) -> tuple[FormBrowser, Any]:
    browser = FormBrowser(h.http, "https://nowhere.invalid")
    browser.get("/debugger")
    values = {"client_id": "dbg-spa", "scope": "openid profile", **fields}
    return browser, browser.submit(values, ("action", "preview"))


def _send_link(page: Any) -> str:
    match = re.search(r'<a class="button" href="([^"]+)"', page.text)
    assert match, page.text[:1000]
    return html.unescape(match.group(1))


def _run(h: Harness, **fields: str) -> Any:
    """Preview, send, log in: the result page."""
    browser, preview = _preview(h, **fields)
    login = browser.get(_send_link(preview))
    assert 'name="password"' in login.text
    result = browser.submit({"username": "+4790000001", "password": PASSWORD}, ("action", "login"))
    if 'name="code"' in result.text:  # form_post: the auto-submitting page
        result = browser.submit()
    assert result.status_code == 200, result.text[:500]
    return result


def _press(h: Harness, page: Any, action: str) -> Any:
    (form,) = [f for f in parse_forms(page.text) if ("action", action) in f.buttons]
    return h.http.post(form.action, data={**form.fields, "action": action})


def _text(page: Any) -> str:
    return html.unescape(page.text)


def _words(page: Any) -> str:
    """The page's text without its markup."""
    return re.sub(r"<[^>]+>", "", _text(page))


def _raw_token(page: Any, key: str) -> str:
    match = re.search(rf'<pre id="token-{key}">([^<]+)</pre>', page.text)
    assert match, f"no {key} token on the page"
    return match.group(1)


def test_the_request_is_shown_before_it_is_sent(debugger: Harness) -> None:
    _, preview = _preview(debugger)
    assert preview.status_code == 200
    assert "Send the request" in preview.text
    query = parse_qs(urlsplit(_send_link(preview)).query)
    text = _text(preview)
    verifier = re.search(r"<th scope=\"row\">code_verifier</th><td>([^<]+)</td>", text)
    assert verifier is not None
    assert query["code_challenge"] == [s256(verifier.group(1))]
    assert query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == [CALLBACK]
    for name in ("state", "nonce"):
        assert f'<th scope="row">{name}</th><td>{query[name][0]}</td>' in text
    # The verifier is not in the request the browser carries.
    assert verifier.group(1) not in _send_link(preview)


def test_a_wrong_client_secret_is_refused_before_the_login(
    debugger: Harness, web_secret: str
) -> None:
    _, page = _preview(
        debugger, client_id="dbg-web", client_secret="not-" + web_secret, scope="openid email"
    )
    assert page.status_code == 400
    assert "The client secret is wrong" in page.text
    assert 'value="openid email"' in page.text  # the form keeps what was typed
    assert "Send the request" not in page.text
    assert "idplus_debugger" not in page.headers.get("set-cookie", "")


@pytest.mark.parametrize(
    ("client_id", "secret", "message"),
    [
        ("dbg-web", "", "enter its secret"),
        ("dbg-spa", "something", "it has no secret"),
        ("not-listed", "", "Pick one of the listed clients"),
    ],
)
def test_client_and_secret_must_fit_together(
    debugger: Harness, web_secret: str, client_id: str, secret: str, message: str
) -> None:
    _, page = _preview(debugger, client_id=client_id, client_secret=secret)
    assert page.status_code == 400
    assert message in page.text


def test_confidential_flow_shows_tokens_decoded_with_dates(
    debugger: Harness, web_secret: str
) -> None:
    result = _run(debugger, **WEB, client_secret=web_secret)
    text = _text(result)
    assert "POST /connect/token: HTTP 200" in _words(result)
    assert '"typ": "at+jwt"' in text
    assert '"given_name": "Kari"' in text
    assert "Passed: the ID token's nonce is the one sent" in _words(result)
    assert "Signature: verified with this server's keys" in _words(result)
    # The clock is frozen at 2026-01-01T00:00:00Z; access tokens live an hour.
    assert '<time datetime="2026-01-01T01:00:00Z">2026-01-01T01:00:00Z</time> (in 60 min)' in text
    assert "2026-01-01T00:00:00Z</time> (now)" in text
    for key in ("access", "id", "refresh"):
        assert f'data-copy="token-{key}"' in result.text
    assert 'type="button"' in result.text and 'role="status"' in result.text


def test_the_secret_stays_out_of_urls_cookies_and_logs(
    debugger: Harness,
    web_secret: str,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, preview = _preview(debugger, **WEB, client_secret=web_secret)
    assert web_secret not in _send_link(preview)
    assert web_secret not in preview.text
    result = _press(debugger, _run(debugger, **WEB, client_secret=web_secret), "refresh")
    assert result.status_code == 200
    assert all(web_secret not in value for value in debugger.http.cookies.values())
    printed = capsys.readouterr()
    assert web_secret not in printed.out + printed.err + caplog.text


def test_refresh_userinfo_introspect_and_revoke(debugger: Harness, web_secret: str) -> None:
    result = _run(debugger, **WEB, client_secret=web_secret)
    first_access = _raw_token(result, "access")

    refreshed = _press(debugger, result, "refresh")
    assert refreshed.status_code == 200
    assert "Token endpoint: refresh_token grant" in refreshed.text
    assert "HTTP 200" in refreshed.text
    assert _raw_token(refreshed, "access") != first_access

    info = _press(debugger, refreshed, "userinfo")
    assert "GET /connect/userinfo" in info.text
    assert '"given_name": "Kari"' in _text(info)

    introspected = _press(debugger, info, "introspect_access")
    assert "POST /connect/introspect" in introspected.text
    assert '"active": true' in _text(introspected)

    revoked = _press(debugger, introspected, "revoke_refresh")
    assert "POST /connect/revocation" in revoked.text
    assert "HTTP 200" in revoked.text and "(empty body)" in revoked.text
    after = _press(debugger, revoked, "introspect_refresh")
    assert '"active": false' in _text(after)


def test_logout_with_id_token_hint_comes_back_to_the_debugger(
    debugger: Harness, web_secret: str
) -> None:
    result = _run(debugger, **WEB, client_secret=web_secret)
    (form,) = [f for f in parse_forms(result.text) if f.action.endswith("/connect/endsession")]
    assert form.fields["id_token_hint"] == _raw_token(result, "id")
    assert form.fields["post_logout_redirect_uri"] == LOGGED_OUT
    ended = debugger.http.post(form.action, data=form.fields)
    assert ended.status_code in (302, 303)
    location = ended.headers["location"]
    assert location.startswith(LOGGED_OUT + "?")
    back = debugger.http.get(location)
    assert back.status_code == 200
    assert "Logged out" in back.text
    # The session is over, so the refresh token is too (SPEC §2).
    refused = _press(debugger, back, "refresh")
    assert "HTTP 400" in refused.text
    assert '"error": "invalid_grant"' in _text(refused)


def test_a_logout_state_this_browser_did_not_send_is_refused(debugger: Harness) -> None:
    page = debugger.http.get("/debugger?state=made-up")
    assert page.status_code == 400
    assert "did not send" in page.text


def test_public_client_flow_shows_tokens_and_userinfo(debugger: Harness) -> None:
    result = _run(debugger)
    text = _text(result)
    assert '"typ": "at+jwt"' in text
    assert '"given_name": "Kari"' in text
    assert 'data-copy="token-refresh"' not in text  # a Public client gets no refresh token
    assert 'value="refresh"' not in text


def test_debugger_works_with_form_post(debugger: Harness) -> None:
    result = _run(debugger, response_mode="form_post")
    assert "Userinfo" in result.text


def test_callback_without_the_flow_cookie_is_refused(debugger: Harness) -> None:
    response = debugger.http.get("/debugger/callback?code=x&state=y")
    assert response.status_code == 400
    assert "state mismatch" in response.text


def test_start_needs_the_csrf_token(debugger: Harness) -> None:
    response = debugger.http.post("/debugger", data={"client_id": "dbg-spa"})
    assert response.status_code == 400
    assert "could not be checked" in response.text


def test_buttons_need_the_csrf_token(debugger: Harness, web_secret: str) -> None:
    result = _run(debugger, **WEB, client_secret=web_secret)
    response = debugger.http.post("/debugger", data={"action": "revoke_refresh"})
    assert response.status_code == 403
    still = _press(debugger, result, "introspect_refresh")
    assert '"active": true' in _text(still)


def test_buttons_after_an_hour_ask_to_start_again(
    debugger: Harness, web_secret: str, clock: FrozenClock
) -> None:
    result = _run(debugger, **WEB, client_secret=web_secret)
    clock.advance(timedelta(hours=1, seconds=1))
    response = _press(debugger, result, "userinfo")
    assert response.status_code == 400
    assert "no longer holds tokens" in response.text


def test_pages_follow_the_chosen_language(debugger: Harness) -> None:
    browser = FormBrowser(debugger.http, "https://nowhere.invalid")
    page = browser.get("/debugger?ui_locales=no")
    assert 'lang="no"' in page.text
    preview = browser.submit({"client_id": "dbg-spa"}, ("action", "preview"))
    assert 'lang="no"' in preview.text
    assert "Send forespørselen" in preview.text


def test_switching_language_on_the_result_keeps_the_tokens(debugger: Harness) -> None:
    """The callback must not run twice: the switch comes back to a page that shows the tokens
    this browser holds, in the language picked."""
    result = _run(debugger)
    access_token = _raw_token(result, "access")
    switch = re.search(r'href="(/language\?[^"]+)"', result.text)
    assert switch, "no language switch on the result page"
    assert parse_qs(urlsplit(html.unescape(switch.group(1))).query)["next"] == ["/debugger/result"]
    again = debugger.http.get(html.unescape(switch.group(1)), follow_redirects=True)
    assert again.status_code == 200
    assert 'lang="no"' in again.text
    assert _raw_token(again, "access") == access_token
    assert 'value="userinfo"' in again.text


def test_the_result_page_without_tokens_says_to_start_again(debugger: Harness) -> None:
    response = debugger.http.get("/debugger/result")
    assert response.status_code == 400
    assert "no longer holds tokens" in response.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/debugger"),
        ("POST", "/debugger"),
        ("GET", "/debugger/callback"),
        ("GET", "/debugger/result"),
    ],
)
def test_debugger_can_be_turned_off(
    settings: Settings, clock: FrozenClock, method: str, path: str
) -> None:
    app = create_app(settings.model_copy(update={"debugger": False}), clock=clock)
    with TestClient(app) as client:
        assert client.request(method, path).status_code == 404
