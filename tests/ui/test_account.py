"""Self-service: the account page URL, personal data, sessions (browser, last activity, apps,
log out here or everywhere else), app revocation and password change."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.clock import FrozenClock
from tests.flows.forms import FormBrowser, parse_forms
from tests.harness import PASSWORD, Harness, code_from_login, exchange_code, refresh
from tests.outbound.receiver import Receiver, pending, wait_until

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_ON_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
FIREFOX_ON_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> FrozenClock:
    """The app's clock; `@pytest.mark.parametrize("clock", [instant], indirect=True)` starts
    it at that instant."""
    return FrozenClock(getattr(request, "param", None))


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


def _new_browser(h: Harness, user_agent: str) -> None:
    """The test client becomes another browser: no cookies, its own User-Agent."""
    h.http.cookies.clear()
    h.http.headers["user-agent"] = user_agent


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
    if 'name="otp"' in page.text:
        page = browser.submit({"otp": h.outbox()[-1]["code"]}, ("action", "verify"))
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


@pytest.mark.parametrize("client_id", ["no-such-app", "x" * 5000])
def test_revoking_an_app_without_tokens_changes_and_records_nothing(
    mobile: Harness, client_id: str
) -> None:
    """The form's client id is the browser's to choose: no audit row for nothing, no 500."""
    _, page = _account(mobile)
    form = next(f for f in parse_forms(page.text) if "csrf_token" in f.fields)
    fields = {"csrf_token": form.fields["csrf_token"], "action": "revoke_app"}
    done = mobile.http.post("/account", data={**fields, "client_id": client_id})
    assert done.status_code == 200
    store = mobile.store()
    try:
        with store.reading() as uow:
            assert uow.audit.list_events(events=("user.app_revoked",)) == []
    finally:
        store.dispose()


def test_this_browser_logs_out_through_the_logout_flow(mobile: Harness) -> None:
    tokens = _tokens(mobile)
    _, page = _account(mobile)
    (form,) = [f for f in parse_forms(page.text) if ("action", "logout") in f.buttons]
    assert form.action == "/logout"
    response = _post(mobile, page, "logout")
    assert response.status_code == 200
    assert "You are now logged out" in response.text
    cleared = [c for c in response.headers.get_list("set-cookie") if c.startswith("idplus_sso")]
    assert cleared, "the ended session's cookie is cleared"
    assert all("max-age=0" in c.lower() or 'idplus_sso=""' in c for c in cleared)
    assert refresh(mobile, tokens["refresh_token"], "app").json()["error"] == "invalid_grant"
    assert mobile.http.get("/account").headers["location"].startswith("/login?")


def test_ending_another_session_leaves_this_one(mobile: Harness) -> None:
    elsewhere = _tokens(mobile)
    _new_browser(mobile, FIREFOX_ON_LINUX)
    _, page = _account(mobile)
    done = _post(mobile, page, "end_session")  # the only such button: the other session's
    assert done.status_code == 200
    assert '<p class="notice" role="status">The session has ended.</p>' in done.text
    assert refresh(mobile, elsewhere["refresh_token"], "app").json()["error"] == "invalid_grant"
    assert mobile.http.get("/account").status_code == 200


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


def _session_items(page: Any) -> list[str]:
    """Each session's list item, as text without tags."""
    block = page.text.split('<ul class="sessions">', 1)[1].split("</ul>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", item).split()) for item in block.split("<li>")[1:]]


def test_sessions_name_the_browser_the_apps_and_how_they_logged_in(mobile: Harness) -> None:
    mobile.add_client("tv", name="Telenor TV", one_telenor=True)
    _new_browser(mobile, SAFARI_ON_IPHONE)
    code_from_login(mobile, "tv")
    _new_browser(mobile, CHROME_ON_WINDOWS)
    _, page = _account(mobile)
    this, other = _session_items(page)
    # This browser first, whatever the order of activity.
    assert this.startswith("Chrome 131 on Windows (This browser)")
    assert "Logged in with Password" in this and "Log out" in this
    assert other.startswith("Mobile Safari on iOS 17")
    assert "Apps Telenor TV" in other and "tv" not in other.replace("Telenor TV", "")
    assert "End session" in other
    # Times in the user's zone; a word, not letters of a random CSRF token.
    assert re.search(r"\bUTC\b", page.text) is None


def test_an_unknown_or_missing_user_agent_is_an_unknown_browser(mobile: Harness) -> None:
    _new_browser(mobile, "\x07")  # nothing but a control character: nothing is kept
    _, page = _account(mobile, "no")
    (this,) = _session_items(page)
    assert this.startswith("Ukjent nettleser (Denne nettleseren)")


@pytest.mark.parametrize(
    ("clock", "locale", "shown"),
    [
        # Winter: Oslo is UTC+1; summer: UTC+2.
        (datetime(2026, 12, 3, 20, 11, tzinfo=UTC), "en", "3 Dec 2026, 21:11"),
        (datetime(2026, 12, 3, 20, 11, tzinfo=UTC), "no", "3. des. 2026, 21:11"),
        (datetime(2026, 7, 3, 20, 11, tzinfo=UTC), "en", "3 Jul 2026, 22:11"),
        (datetime(2026, 7, 3, 20, 11, tzinfo=UTC), "no", "3. juli 2026, 22:11"),
    ],
    indirect=["clock"],
)
def test_last_activity_is_in_oslo_time_written_the_pages_way(
    mobile: Harness, locale: str, shown: str
) -> None:
    _new_browser(mobile, CHROME_ON_WINDOWS)
    _, page = _account(mobile, locale)
    (this,) = _session_items(page)
    label = "Sist aktiv" if locale == "no" else "Last active"
    assert f"{label} {shown}" in this
    offset = "+01:00" if "Dec" in shown or "des." in shown else "+02:00"
    assert f'datetime="2026-{"12" if offset == "+01:00" else "07"}-03T{shown[-5:]}{offset}"' in (
        page.text
    )


def test_log_out_everywhere_else_ends_the_others_and_keeps_this_one(mobile: Harness) -> None:
    receiver = Receiver()
    try:
        mobile.add_client("tv", silent_sso=True, one_telenor=True,
                          backchannel_logout_uri=receiver.uri)  # fmt: skip
        _new_browser(mobile, SAFARI_ON_IPHONE)
        phone = _tokens(mobile)
        code_from_login(mobile, "tv")  # the tv joins the phone's session
        _new_browser(mobile, FIREFOX_ON_LINUX)
        laptop = _tokens(mobile)
        _new_browser(mobile, CHROME_ON_WINDOWS)
        here = _tokens(mobile)
        _, page = _account(mobile)
        assert len(_session_items(page)) == 3
        done = _post(mobile, page, "logout_others")
        assert done.status_code == 200
        assert '<p class="notice" role="status">Your other sessions have ended.</p>' in done.text
        (left,) = _session_items(done)
        assert left.startswith("Chrome 131 on Windows (This browser)")
        assert 'value="logout_others"' not in done.text  # nothing else to log out
        wait_until(lambda: pending(mobile.settings.database_url) == 0, "the logout token")
        (logout_token,) = receiver.tokens
    finally:
        receiver.close()
    for elsewhere in (phone, laptop):
        assert refresh(mobile, elsewhere["refresh_token"], "app").json()["error"] == "invalid_grant"
    assert "access_token" in refresh(mobile, here["refresh_token"], "app").json()
    jwks = KeySet.import_key_set(mobile.http.get("/.well-known/jwks.json").json())
    claims = jwt.decode(logout_token, jwks).claims
    assert (claims["aud"], claims["sid"]) == (
        "tv",
        jwt.decode(phone["id_token"], jwks).claims["sid"],
    )
    assert mobile.http.get("/account").status_code == 200


def test_log_out_everywhere_else_needs_the_csrf_token(mobile: Harness) -> None:
    elsewhere = _tokens(mobile)
    _new_browser(mobile, CHROME_ON_WINDOWS)
    _, page = _account(mobile)
    (form,) = [f for f in parse_forms(page.text) if ("action", "logout_others") in f.buttons]
    forged = {**form.fields, "csrf_token": "forged", "action": "logout_others"}
    assert mobile.http.post(form.action, data=forged).status_code == 403
    without = {k: v for k, v in forged.items() if k != "csrf_token"}
    assert mobile.http.post(form.action, data=without).status_code == 403
    assert "access_token" in refresh(mobile, elsewhere["refresh_token"], "app").json()


def test_personal_data_and_the_second_factor_are_shown(harness: Harness) -> None:
    harness.add_user(given_name="Kari", family_name="Nordmann", email="kari@example.no",
                     otp_required=True)  # fmt: skip
    _, page = _account(harness)
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert "Name Kari Nordmann" in text
    assert "E-mail kari@example.no" in text
    assert "Mobile number +4790000001" in text
    assert "SMS code required at login Yes, sent to +47 ••• •• 001" in text
    assert "Logged in with Password and SMS code" in text


def test_without_a_second_factor_or_e_mail_the_page_says_so_in_norwegian(
    harness: Harness,
) -> None:
    harness.add_user()
    _, page = _account(harness, "no")
    text = " ".join(re.sub(r"<[^>]+>", " ", page.text).split())
    assert "Personopplysninger" in text
    assert "E-post Ikke oppgitt" in text
    assert "SMS-kode kreves ved innlogging Nei" in text


def test_done_is_a_status_and_a_refusal_an_alert(mobile: Harness) -> None:
    _tokens(mobile)
    _, page = _account(mobile)
    done = _post(mobile, page, "revoke_app", client_id="app")
    assert '<p class="notice" role="status">The app no longer has access.</p>' in done.text
    assert 'class="error"' not in done.text
    wrong = _post(mobile, page, "change_password", current_password="nope",
                  new_password="brand new secret")  # fmt: skip
    assert '<div class="error" role="alert">The current password is wrong.</div>' in wrong.text
    assert 'class="notice"' not in wrong.text


def test_a_password_change_is_recorded_without_either_password(mobile: Harness) -> None:
    _, page = _account(mobile)
    refused = _post(mobile, page, "change_password", current_password="a wrong guess",
                    new_password="brand new secret")  # fmt: skip
    assert refused.status_code == 400
    assert mobile.audit_events("user.password_changed") == []
    done = _post(mobile, page, "change_password", current_password=PASSWORD,
                 new_password="brand new secret")  # fmt: skip
    assert "password is changed" in done.text
    (event,) = mobile.audit_events("user.password_changed")
    (login,) = mobile.audit_events("login.succeeded")
    assert (event.client_id, event.user_id, event.detail) == (None, login.user_id, {})
    written = repr(mobile.audit_events())  # every event the day left
    for secret in (PASSWORD, "a wrong guess", "brand new secret", "+4790000001"):
        assert secret not in written


def test_a_locked_users_surviving_session_does_not_open_the_account_page(
    mobile: Harness,
) -> None:
    """A session that outlived its user's lock (a login racing the lock) is no login here."""
    from tests.ui.staff_browser import lock_in_store

    _tokens(mobile)
    lock_in_store(mobile, "+4790000001")
    page = mobile.http.get("/account", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")
