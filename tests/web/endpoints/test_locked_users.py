"""A user an operator locked, over HTTP: the login page says the account is locked (in the
user's language) and nothing more; a passkey is refused the same way; no refresh token works
on either front, nor the gateway's password grant, nor a session that outlived the lock; the
device and CIBA pages approve nothing. Unlocked, the same tokens work again: each refusal is
the lock itself. (The lock here is the flag alone, so that each flow's own check is tested.)"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from idplus.config import Settings
from tests.harness import (
    PASSWORD,
    Harness,
    basic,
    code_from_login,
    exchange_code,
    redirect_params,
    refresh,
)
from tests.protocol.ciba.helpers import PHONE, add_ciba_client, approve, poll, started
from tests.ui.test_device import DEVICE_GRANT, KARI, _approval_page, _authorize
from tests.ui.test_webauthn import ISSUER, PasskeyLogin, _add_passkey
from tests.webauthn_authenticator import SoftwareAuthenticator

# Who is locked is read with the user; every store test runs on both databases, so here the
# flows run on SQLite.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """Passkeys need a host name: localhost (the shared issuer, 127.0.0.1, has none)."""
    return Settings(
        issuer=ISSUER, database_url=database_url, outbox=tmp_path / "outbox.jsonl", log_json=True
    )


def lock(h: Harness, username: str = KARI, *, locked: bool = True) -> None:
    store = h.store()
    try:
        with store.transaction() as uow:
            user = uow.users.find_by_username(username)
            assert user is not None
            at = h.clock.now() if locked else None
            assert uow.users.set_disabled(user.id, at, h.clock.now())
    finally:
        store.dispose()


@pytest.mark.parametrize(
    ("locale", "message"), [("en", "This account is locked."), ("nb", "Denne kontoen er låst.")]
)
def test_the_login_page_says_the_account_is_locked_and_nothing_more(
    harness: Harness, locale: str, message: str
) -> None:
    harness.add_client("spa")
    harness.add_user(KARI)
    lock(harness)
    browser = harness.browser()
    browser.get(harness.authorize_url(ui_locales=locale))

    wrong = browser.submit({"username": KARI, "password": "not it"}, ("action", "login"))
    right = harness.login(browser, KARI)

    assert message not in wrong.text
    assert right.status_code == 400
    assert message in right.text
    assert "idplus_sso" not in right.headers.get("set-cookie", "")


def test_a_passkey_of_a_locked_user_is_refused(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user(KARI)
    authenticator = SoftwareAuthenticator(origin=ISSUER)
    assert _add_passkey(harness, authenticator).status_code == 200
    harness.http.cookies.clear()
    lock(harness)

    login = PasskeyLogin(harness)
    answer = login.verify(authenticator.get(login.options()))

    assert answer.status_code == 403, answer.text
    assert answer.json() == {
        "error": "account_locked",
        "error_description": "This account is locked.",
    }


def test_no_refresh_token_works_while_locked(harness: Harness) -> None:
    harness.add_client("app", client_type="MobileApp", scopes=["openid", "offline_access"])
    harness.add_user(KARI)
    code = code_from_login(harness, "app", KARI, scope="openid offline_access")
    tokens = exchange_code(harness, code, "app").json()
    lock(harness)

    refused = refresh(harness, tokens["refresh_token"], "app")

    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    lock(harness, locked=False)
    assert refresh(harness, tokens["refresh_token"], "app").status_code == 200


def test_a_locked_users_session_opens_nothing(harness: Harness) -> None:
    harness.add_client("spa")
    harness.add_user(KARI)
    code_from_login(harness, username=KARI)
    lock(harness)
    silent = harness.browser().get(harness.authorize_url(prompt="none"))
    assert redirect_params(silent)["error"] == "login_required"


def _gateway(h: Harness, secret: str, **form: str) -> Any:
    return h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret))


def test_the_gateway_gives_a_locked_user_nothing(harness: Harness) -> None:
    harness.add_api_products("api:tv")
    secret = harness.add_client("partner", client_type="Confidential", api_access=True,
                                grant_types=["password", "refresh_token"],
                                scopes=["api:tv"])  # fmt: skip
    assert secret is not None
    harness.add_user(KARI)
    login = {"grant_type": "password", "username": KARI, "password": PASSWORD}
    first = _gateway(harness, secret, **login).json()
    lock(harness)

    password = _gateway(harness, secret, **login)
    refreshed = _gateway(
        harness, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )

    assert password.status_code == 401 and "access_token" not in password.json()
    assert refreshed.status_code == 401 and "access_token" not in refreshed.json()
    (failed,) = harness.audit_events("login.failed")
    assert failed.detail["reason"] == "account_locked"
    lock(harness, locked=False)
    again = _gateway(
        harness, secret, grant_type="refresh_token", refresh_token=first["refresh_token"]
    )
    assert again.status_code == 200, again.text


def test_a_locked_user_approves_no_device(harness: Harness) -> None:
    tv = harness
    tv.add_client("tv", client_type="MobileApp", grant_types=[DEVICE_GRANT], redirect_uris=[])
    tv.add_user(KARI)
    device = _authorize(tv, "openid")
    browser, _ = _approval_page(tv, device["user_code"])
    lock(tv)

    answer = browser.submit(button=("action", "approve"))

    assert answer.status_code == 400  # the code form again: nothing was approved
    assert 'name="user_code"' in answer.text and 'value="approve"' not in answer.text
    tv.clock.advance(timedelta(seconds=30))
    poll_form = {"grant_type": DEVICE_GRANT, "device_code": device["device_code"],
                 "client_id": "tv"}  # fmt: skip
    assert tv.http.post("/connect/token", data=poll_form).json()["error"] == (
        "authorization_pending"
    )
    assert tv.audit_events("device.approved") == []


def test_a_locked_user_approves_no_ciba_request(harness: Harness) -> None:
    add_ciba_client(harness)
    harness.add_user(PHONE)
    request = started(harness)
    lock(harness, PHONE)

    page = approve(harness)

    assert page.status_code == 400
    assert poll(harness, request["auth_req_id"]).json()["error"] == "authorization_pending"
    assert harness.audit_events("ciba.approved") == []
