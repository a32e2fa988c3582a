"""A real browser through the real pages: PKCE, Norwegian login, SMS code, then SSO."""

from __future__ import annotations

from urllib.parse import urlencode

from playwright.sync_api import Browser, Page, expect

from tests.harness import VERIFIER, s256
from tests.live_server import LiveServer, RelyingParty


def _authorize_url(server: LiveServer, party: RelyingParty, client_id: str, **extra: str) -> str:
    params = {
        "client_id": client_id,
        "redirect_uri": party.callback,
        "response_type": "code",
        "scope": "openid profile",
        "state": f"state-{client_id}",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{server.base_url}/connect/authorize?{urlencode(params)}"


def _register(server: LiveServer, party: RelyingParty, client_id: str, *flags: str) -> None:
    server.idplus("client", "add", "--client-id", client_id, "--type", "Public",
                  "--redirect-uri", party.callback, "--one-telenor", *flags)  # fmt: skip


def _back_at_client(page: Page, party: RelyingParty, client_id: str) -> dict[str, str]:
    page.wait_for_url(f"{party.callback}?*")
    expect(page.locator("#done")).to_be_visible()
    received = party.received[-1]
    assert received["state"] == f"state-{client_id}"
    assert len(received["code"]) >= 43
    return received


def test_pkce_login_in_norwegian_with_sms_code_then_sso(
    chromium: Browser, live_server: LiveServer, relying_party: RelyingParty
) -> None:
    _register(live_server, relying_party, "web-a")
    _register(live_server, relying_party, "web-b", "--silent-sso")
    _register(live_server, relying_party, "web-c")
    live_server.idplus("user", "add", "--username", "+4792000001", "--password", "hunter2hunter",
                       "--otp", "--given-name", "Kari")  # fmt: skip
    context = chromium.new_context()
    page = context.new_page()

    page.goto(_authorize_url(live_server, relying_party, "web-a", ui_locales="no"))
    assert page.locator("html").get_attribute("lang") == "no"
    expect(page.get_by_role("heading", name="Logg inn")).to_be_visible()
    page.get_by_label("Mobilnummer eller e-post").fill("92000001")
    page.get_by_label("Passord").fill("hunter2hunter")
    page.get_by_role("button", name="Logg inn").click()

    page.get_by_label("Engangskode").wait_for()
    code = live_server.outbox()[-1]["code"]
    page.get_by_label("Engangskode").fill(code)
    page.get_by_role("button", name="Bekreft").click()
    _back_at_client(page, relying_party, "web-a")

    # Same browser, a silent_sso client of the shared session: straight back.
    page.goto(_authorize_url(live_server, relying_party, "web-b"))
    _back_at_client(page, relying_party, "web-b")

    # Without silent_sso the user confirms first.
    page.goto(_authorize_url(live_server, relying_party, "web-c"))
    page.get_by_role("button", name="Continue", exact=True).click()
    _back_at_client(page, relying_party, "web-c")
    assert len(live_server.outbox()) == 1
    context.close()
