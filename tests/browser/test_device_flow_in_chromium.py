"""The device flow end to end: Authlib plays the TV, Chromium approves on the verification page,
and axe-core checks every page of it in Norwegian and English."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from playwright.sync_api import Browser, expect

from tests.browser.axe import assert_accessible
from tests.live_server import LiveServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
PHONE = "+4794000001"


def _register_tv(server: LiveServer) -> None:
    server.idplus("client", "add", "--client-id", "tv", "--type", "MobileApp",
                  "--name", "Telenor TV", "--grant-type", DEVICE_GRANT,
                  "--grant-type", "refresh_token",
                  "--scope", "openid", "--scope", "offline_access")  # fmt: skip
    server.idplus("user", "add", "--username", PHONE, "--password", "hunter2hunter",
                  "--given-name", "Kari")  # fmt: skip


def _start(server: LiveServer, tv: OAuth2Client) -> dict[str, Any]:
    discovery = httpx.get(f"{server.base_url}/.well-known/openid-configuration").json()
    form = {"client_id": "tv", "scope": "openid offline_access"}
    endpoint = discovery["device_authorization_endpoint"]
    started: dict[str, Any] = tv.request("POST", endpoint, withhold_token=True, data=form).json()
    return started


def test_tv_gets_tokens_after_the_user_approves_in_a_browser(
    chromium: Browser, live_server: LiveServer
) -> None:
    _register_tv(live_server)
    token_endpoint = f"{live_server.base_url}/connect/token"
    with OAuth2Client(client_id="tv", token_endpoint_auth_method="none",
                      scope="openid offline_access") as tv:  # fmt: skip
        started = _start(live_server, tv)
        with pytest.raises(OAuthError, match="authorization_pending"):
            tv.fetch_token(token_endpoint, grant_type=DEVICE_GRANT,
                           device_code=started["device_code"])  # fmt: skip

        page = chromium.new_context(bypass_csp=True).new_page()
        page.goto(started["verification_uri_complete"] + "&ui_locales=no")
        qr = page.get_by_role("img", name=f"QR-kode som åpner denne siden med koden "
                              f"{started['user_code']}")  # fmt: skip
        # The link goes straight to the login, which offers the code's QR for a phone.
        expect(qr).to_be_visible()
        assert_accessible(page)
        page.get_by_label("Mobilnummer eller e-post").fill(PHONE)
        page.get_by_label("Passord").fill("hunter2hunter")
        page.get_by_role("button", name="Logg inn").click()
        page.get_by_text("vite hvem du er").wait_for()
        expect(page.get_by_text("holde deg innlogget")).to_be_visible()
        expect(page.get_by_text("Logget inn som Kari.")).to_be_visible()
        assert_accessible(page)
        page.get_by_role("button", name="Godkjenn").click()
        page.get_by_text("Enheten er koblet til.").wait_for()
        assert_accessible(page)

        time.sleep(started["interval"])
        token = tv.fetch_token(token_endpoint, grant_type=DEVICE_GRANT,
                               device_code=started["device_code"])  # fmt: skip
        assert {"access_token", "id_token", "refresh_token"} <= set(token)


def test_the_pages_in_english_and_not_you_on_a_phone_sized_screen(
    chromium: Browser, live_server: LiveServer
) -> None:
    _register_tv(live_server)
    with OAuth2Client(client_id="tv", token_endpoint_auth_method="none") as tv:
        started = _start(live_server, tv)
    context = chromium.new_context(bypass_csp=True, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{live_server.base_url}/device?ui_locales=en")
    assert_accessible(page)
    page.get_by_label("Code").fill(started["user_code"])
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Mobile number or e-mail").fill(PHONE)
    page.get_by_label("Password").fill("hunter2hunter")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Telenor TV will be able to:").wait_for()
    assert_accessible(page)

    page.get_by_role("button", name="Not you?").click()
    page.get_by_label("Password").wait_for()
    # A phone needs no QR code of the page it already shows.
    assert page.locator("figure.qr img").count() == 1
    expect(page.locator("figure.qr img")).to_be_hidden()
    assert_accessible(page)
    context.close()
