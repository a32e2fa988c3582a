"""Self-service: the account page URL, sessions, app revocation and password change."""

from __future__ import annotations

from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, Harness, code_from_login, exchange_code, refresh
from tests.outbound.receiver import Receiver, pending, wait_until


@pytest.fixture
def mobile(harness: Harness) -> Harness:
    harness.add_client("app", client_type="MobileApp", scopes=["openid", "offline_access"],
                       one_telenor=True)  # fmt: skip
    harness.add_user()
    return harness


def _tokens(h: Harness) -> dict[str, Any]:
    code = code_from_login(h, "app", scope="openid offline_access")
    body: dict[str, Any] = exchange_code(h, code, "app").json()
    return body


def test_self_service_url_needs_a_valid_access_token(mobile: Harness) -> None:
    tokens = _tokens(mobile)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    answer = mobile.http.get("/api/meta/v1/self-service", headers=bearer)
    assert answer.json() == {"url": f"{mobile.settings.issuer}/account"}
    norwegian = mobile.http.get("/api/meta/v1/self-service?locale=no", headers=bearer)
    assert norwegian.json()["url"].endswith("/account?locale=no")
    assert mobile.http.get("/api/meta/v1/self-service").status_code == 401
    bad = mobile.http.get("/api/meta/v1/self-service", headers={"Authorization": "Bearer x.y.z"})
    assert bad.status_code == 401


def _account(h: Harness, locale: str = "en") -> tuple[FormBrowser, Any]:
    browser = FormBrowser(h.http, "https://nowhere.invalid")
    page = browser.get(f"/account?locale={locale}")
    if 'name="password"' in page.text:
        page = browser.submit({"username": "+4790000001", "password": PASSWORD},
                              ("action", "login"))  # fmt: skip
    return browser, page


def _post(h: Harness, page: Any, action: str, **fields: str) -> Any:
    form = next(f for f in parse_forms(page.text) if ("action", action) in f.buttons)
    return h.http.post(form.action, data={**form.fields, **fields, "action": action})


def test_account_page_lists_sessions_and_apps_in_norwegian(mobile: Harness) -> None:
    _tokens(mobile)
    _, page = _account(mobile, "no")
    assert "Kontoen din" in page.text
    assert "Aktive økter" in page.text
    assert "app" in page.text
    assert 'value="revoke_app"' in page.text


def test_revoking_an_app_kills_its_refresh_tokens(mobile: Harness) -> None:
    tokens = _tokens(mobile)
    _, page = _account(mobile)
    done = _post(mobile, page, "revoke_app", client_id="app")
    assert "no longer has access" in done.text
    assert refresh(mobile, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"


def test_ending_the_current_session_logs_out(mobile: Harness) -> None:
    tokens = _tokens(mobile)
    _, page = _account(mobile)
    response = _post(mobile, page, "end_session")
    assert response.status_code == 303
    cleared = [c for c in response.headers.get_list("set-cookie") if c.startswith("idplus_sso")]
    assert cleared, "the ended session's cookie is cleared"
    assert all("max-age=0" in c.lower() or 'idplus_sso=""' in c for c in cleared)
    assert refresh(mobile, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"
    assert mobile.http.get("/account").headers["location"].startswith("/login?")


def test_password_change_ends_the_other_sessions(mobile: Harness) -> None:
    other_browser_tokens = _tokens(mobile)
    mobile.http.cookies.clear()
    _, page = _account(mobile)
    wrong = _post(mobile, page, "change_password", current_password="nope",
                  new_password="brand new secret")  # fmt: skip
    assert wrong.status_code == 400
    assert "wrong" in wrong.text
    done = _post(mobile, page, "change_password", current_password=PASSWORD,
                 new_password="brand new secret")  # fmt: skip
    assert "password is changed" in done.text
    answer = refresh(mobile, other_browser_tokens["refresh_token"], "app")
    assert answer.json()["error"] == "invalid_grant"
    assert mobile.http.get("/account").status_code == 200  # this browser stays logged in


def test_account_forms_need_the_csrf_token(mobile: Harness) -> None:
    _account(mobile)
    assert mobile.http.post("/account", data={"action": "revoke_app"}).status_code == 403


def test_current_password_guessing_on_the_account_page_is_throttled(mobile: Harness) -> None:
    """A borrowed session must not become a password oracle: 12 guesses in 3.4 s on main."""
    _, page = _account(mobile)
    # The login spent nothing (it succeeded); five wrong guesses use up the username's budget.
    for _ in range(5):
        wrong = _post(mobile, page, "change_password", current_password="guess",
                      new_password="brand new secret")  # fmt: skip
        assert wrong.status_code == 400
    locked = _post(mobile, page, "change_password", current_password=PASSWORD,
                   new_password="brand new secret")  # fmt: skip
    assert locked.status_code == 429
    assert "Too many wrong passwords" in locked.text


def test_password_change_tells_the_other_sessions_clients_over_the_back_channel(
    mobile: Harness,
) -> None:
    receiver = Receiver()
    try:
        mobile.add_client("tv", silent_sso=True, one_telenor=True,
                          backchannel_logout_uri=receiver.uri)  # fmt: skip
        other_browser_tokens = _tokens(mobile)
        code_from_login(mobile, "tv")  # the tv joins the other browser's session
        mobile.http.cookies.clear()
        _, page = _account(mobile)
        done = _post(mobile, page, "change_password", current_password=PASSWORD,
                     new_password="brand new secret")  # fmt: skip
        assert "password is changed" in done.text
        wait_until(lambda: pending(mobile.settings.database_url) == 0, "the logout token")
        (logout_token,) = receiver.tokens
    finally:
        receiver.close()
    jwks = KeySet.import_key_set(mobile.http.get("/.well-known/jwks.json").json())
    claims = jwt.decode(logout_token, jwks).claims
    other_sid = jwt.decode(other_browser_tokens["id_token"], jwks).claims["sid"]
    assert (claims["aud"], claims["sid"]) == ("tv", other_sid)


def test_linked_upstream_accounts_are_listed_and_can_be_disconnected(mobile: Harness) -> None:
    _tokens(mobile)
    store = mobile.store()
    try:
        with store.transaction() as uow:
            user = uow.users.find_by_username("+4790000001")
            assert user is not None
            uow.upstream_accounts.insert_if_absent("tid", "up-sub", user.id, mobile.clock.now())
        _, page = _account(mobile, "no")
        assert "Måter å logge inn på" in page.text and "tid" in page.text
        # The password stays a way in: the upstream account may go.
        answer = _post(mobile, page, "unlink_account")
        assert answer.status_code == 200
        assert "Innloggingen er ikke lenger koblet til kontoen din." in answer.text
        assert "Måter å logge inn på" not in answer.text
        with store.reading() as uow:
            assert uow.upstream_accounts.find_user_id("tid", "up-sub") is None
    finally:
        store.dispose()
