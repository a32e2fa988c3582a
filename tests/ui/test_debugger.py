"""The /debugger relying party: runs a flow and shows decoded tokens and userinfo."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings
from tests.flows.forms import FormBrowser
from tests.harness import PASSWORD, Harness

CALLBACK = "http://127.0.0.1:8000/debugger/callback"


@pytest.fixture
def debugger(harness: Harness) -> Harness:
    harness.add_client("dbg-spa", redirect_uris=[CALLBACK], scopes=["openid", "profile"])
    harness.add_user(given_name="Kari")
    return harness


def _run(h: Harness, **options: str) -> str:
    browser = FormBrowser(h.http, "https://nowhere.invalid")
    page = browser.get("/debugger")
    assert "dbg-spa" in page.text
    login = browser.submit({"client_id": "dbg-spa", "scope": "openid profile", **options})
    assert 'name="password"' in login.text
    result = browser.submit({"username": "+4790000001", "password": PASSWORD}, ("action", "login"))
    if 'name="code"' in result.text:  # form_post: the auto-submitting page
        result = browser.submit()
    assert result.status_code == 200, result.text[:500]
    return str(result.text)


def test_debugger_shows_tokens_and_userinfo(debugger: Harness) -> None:
    text = _run(debugger)
    assert "Token response" in text
    assert "ID token" in text
    assert "&#34;typ&#34;: &#34;at+jwt&#34;" in text
    assert "&#34;given_name&#34;: &#34;Kari&#34;" in text
    assert "verified" in text


def test_debugger_works_with_form_post(debugger: Harness) -> None:
    assert "Userinfo" in _run(debugger, response_mode="form_post")


def test_callback_without_the_flow_cookie_is_refused(debugger: Harness) -> None:
    response = debugger.http.get("/debugger/callback?code=x&state=y")
    assert response.status_code == 400
    assert "state mismatch" in response.text


def test_start_needs_the_csrf_token(debugger: Harness) -> None:
    response = debugger.http.post("/debugger", data={"client_id": "dbg-spa"})
    assert response.status_code == 400
    assert "could not be checked" in response.text


def test_debugger_can_be_turned_off(settings: Settings, clock: FrozenClock) -> None:
    app = create_app(settings.model_copy(update={"debugger": False}), clock=clock)
    with TestClient(app) as client:
        assert client.get("/debugger").status_code == 404
