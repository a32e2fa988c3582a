"""A script with only an HTTP client and a cookie jar logs in by filling the documented forms."""

from __future__ import annotations

import httpx

from tests.flows.forms import FormBrowser
from tests.harness import VERIFIER, s256
from tests.live_server import LiveServer, RelyingParty


def test_script_logs_in_with_password_and_sms_code(
    live_server: LiveServer, relying_party: RelyingParty
) -> None:
    live_server.idplus("client", "add", "--client-id", "script", "--type", "Public",
                       "--redirect-uri", relying_party.callback)  # fmt: skip
    live_server.idplus("user", "add", "--username", "+4791000001", "--password", "hunter2hunter",
                       "--otp")  # fmt: skip
    with httpx.Client(base_url=live_server.base_url) as http:
        browser = FormBrowser(http, relying_party.base_url)
        page = browser.get(
            "/connect/authorize?"
            + str(
                httpx.QueryParams(
                    client_id="script",
                    redirect_uri=relying_party.callback,
                    response_type="code",
                    scope="openid",
                    state="script-state",
                    code_challenge=s256(VERIFIER),
                    code_challenge_method="S256",
                )
            )
        )
        assert 'name="username"' in page.text
        browser.submit(
            {"username": "+4791000001", "password": "hunter2hunter"}, ("action", "login")
        )
        code = live_server.outbox()[-1]["code"]
        done = browser.submit({"otp": code}, ("action", "verify"))
        response = http.get(done.headers["location"])
    assert response.status_code == 200
    (received,) = relying_party.received
    assert received["state"] == "script-state"
    assert received["iss"] == live_server.base_url
    assert len(received["code"]) >= 43
