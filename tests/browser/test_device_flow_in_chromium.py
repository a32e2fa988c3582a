"""The device flow end to end: Authlib plays the TV, Chromium approves on the verification page."""

from __future__ import annotations

import time

import httpx
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from playwright.sync_api import Browser

from tests.live_server import LiveServer

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def test_tv_gets_tokens_after_the_user_approves_in_a_browser(
    chromium: Browser, live_server: LiveServer
) -> None:
    live_server.idplus("client", "add", "--client-id", "tv", "--type", "MobileApp",
                       "--grant-type", DEVICE_GRANT, "--grant-type", "refresh_token",
                       "--scope", "openid", "--scope", "offline_access")  # fmt: skip
    live_server.idplus("user", "add", "--username", "+4794000001", "--password", "hunter2hunter")
    discovery = httpx.get(f"{live_server.base_url}/.well-known/openid-configuration").json()
    with OAuth2Client(client_id="tv", token_endpoint_auth_method="none",
                      scope="openid offline_access") as tv:  # fmt: skip
        form = {"client_id": "tv", "scope": "openid offline_access"}
        endpoint = discovery["device_authorization_endpoint"]
        started = tv.request("POST", endpoint, withhold_token=True, data=form).json()

        with pytest.raises(OAuthError, match="authorization_pending"):
            tv.fetch_token(discovery["token_endpoint"], grant_type=DEVICE_GRANT,
                           device_code=started["device_code"])  # fmt: skip

        page = chromium.new_context().new_page()
        page.goto(started["verification_uri_complete"] + "&ui_locales=no")
        page.get_by_label("Mobilnummer eller e-post").fill("+4794000001")
        page.get_by_label("Passord").fill("hunter2hunter")
        page.get_by_role("button", name="Logg inn").click()
        page.get_by_role("button", name="Godkjenn").click()
        page.get_by_text("Enheten er koblet til.").wait_for()

        time.sleep(started["interval"])
        token = tv.fetch_token(discovery["token_endpoint"], grant_type=DEVICE_GRANT,
                               device_code=started["device_code"])  # fmt: skip
        assert {"access_token", "id_token", "refresh_token"} <= set(token)
