"""The device flow (RFC 8628) over HTTP: authorization, verification page, polling errors."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.flows.forms import FormBrowser
from tests.harness import PASSWORD, Harness, basic

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def tv(harness: Harness) -> Harness:
    harness.add_client(
        "tv",
        client_type="MobileApp",
        grant_types=[DEVICE_GRANT, "refresh_token"],
        scopes=["openid", "offline_access", "profile"],
        redirect_uris=[],
    )
    harness.add_user()
    return harness


def _authorize(h: Harness, **form: str) -> dict[str, Any]:
    data = {"client_id": "tv", "scope": "openid offline_access", **form}
    response = h.http.post("/connect/deviceauthorization", data=data)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _poll(h: Harness, device_code: str, client_id: str = "tv") -> Any:
    data = {"grant_type": DEVICE_GRANT, "device_code": device_code, "client_id": client_id}
    return h.http.post("/connect/token", data=data)


def _approve(h: Harness, uri: str, action: str = "approve") -> Any:
    browser = FormBrowser(h.http, "https://nowhere.invalid")
    page = browser.get(uri)
    if 'value="continue"' in page.text:  # the code to check before the login
        code = parse_qs(urlsplit(uri).query)["user_code"][0]
        page = browser.submit({"user_code": code}, ("action", "continue"))
    if 'name="password"' in page.text:
        page = browser.submit(
            {"username": "+4790000001", "password": PASSWORD}, ("action", "login")
        )
    assert 'value="approve"' in page.text, page.text[:400]
    return browser.submit(button=("action", action))


def test_device_authorization_answer(tv: Harness) -> None:
    body = _authorize(tv)
    assert set(body) == {"device_code", "user_code", "verification_uri",
                         "verification_uri_complete", "expires_in", "interval"}  # fmt: skip
    assert body["expires_in"] == 1800
    assert body["interval"] == 5
    digits = body["user_code"].replace("-", "")
    assert len(digits) == 9
    assert digits.isdigit()
    assert body["user_code"][3] == body["user_code"][7] == "-"
    assert body["verification_uri"] == f"{tv.settings.issuer}/device"
    assert body["user_code"] in body["verification_uri_complete"]


def test_json_body_and_basic_credentials_are_accepted(harness: Harness) -> None:
    secret = harness.add_client("box", client_type="Confidential", grant_types=[DEVICE_GRANT])
    assert secret is not None
    response = harness.http.post("/connect/deviceauthorization", json={"scope": "openid"},
                                 headers=basic("box", secret))  # fmt: skip
    assert response.status_code == 200
    assert "device_code" in response.json()


def test_clients_without_the_device_grant_are_refused(harness: Harness) -> None:
    harness.add_client("spa")
    response = harness.http.post("/connect/deviceauthorization", data={"client_id": "spa"})
    assert response.json()["error"] == "unauthorized_client"


def test_full_flow_with_polling_errors(tv: Harness) -> None:
    body = _authorize(tv)
    assert _poll(tv, body["device_code"]).json()["error"] == "authorization_pending"
    tv.clock.advance(timedelta(seconds=2))
    assert _poll(tv, body["device_code"]).json()["error"] == "slow_down"
    tv.clock.advance(timedelta(seconds=6))
    assert _poll(tv, body["device_code"]).json()["error"] == "slow_down"  # 6 s < 10 s
    tv.clock.advance(timedelta(seconds=15))  # each slow_down added 5 s: now 15 s
    assert _poll(tv, body["device_code"]).json()["error"] == "authorization_pending"

    done = _approve(tv, body["verification_uri_complete"])
    assert "The device is connected." in done.text
    tv.clock.advance(timedelta(seconds=15))
    tokens = _poll(tv, body["device_code"])
    assert tokens.status_code == 200, tokens.text
    assert {"access_token", "id_token", "refresh_token"} <= set(tokens.json())
    tv.clock.advance(timedelta(seconds=15))
    assert _poll(tv, body["device_code"]).json()["error"] == "invalid_grant"


def test_denied_expired_and_unknown_codes(tv: Harness) -> None:
    denied = _authorize(tv)
    assert "denied" in _approve(tv, denied["verification_uri_complete"], "deny").text
    assert _poll(tv, denied["device_code"]).json()["error"] == "access_denied"

    expired = _authorize(tv)
    tv.clock.advance(timedelta(seconds=1801))
    assert _poll(tv, expired["device_code"]).json()["error"] == "expired_token"
    assert _poll(tv, "no-such-code").json()["error"] == "invalid_grant"


def test_user_code_is_accepted_with_or_without_separators(tv: Harness) -> None:
    body = _authorize(tv)
    digits = body["user_code"].replace("-", "")
    page = tv.browser().get(f"/device?user_code={digits[:4]}+{digits[4:]}")
    assert 'name="password"' in page.text
    browser = tv.browser()
    browser.get("/device")
    typed = browser.submit({"user_code": f"{digits[:4]} {digits[4:]}"}, ("action", "continue"))
    assert 'name="password"' in typed.text


def test_the_approval_page_shows_client_scopes_and_the_code(tv: Harness) -> None:
    body = _authorize(tv)
    browser = FormBrowser(tv.http, "https://nowhere.invalid")
    browser.get(body["verification_uri_complete"])
    page = browser.submit({"username": "+4790000001", "password": PASSWORD}, ("action", "login"))
    assert "keep you logged in" in page.text
    assert body["user_code"] in page.text


def test_wrong_user_codes_are_throttled(tv: Harness) -> None:
    for _ in range(10):
        assert tv.http.get("/device?user_code=000-000-000").status_code == 400
    assert tv.http.get("/device?user_code=000-000-000").status_code == 429


def test_code_form_without_a_code(tv: Harness) -> None:
    page = tv.http.get("/device?ui_locales=no")
    assert 'name="user_code"' in page.text
    assert "Koble til en enhet" in page.text
