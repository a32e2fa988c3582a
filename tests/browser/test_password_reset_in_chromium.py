"""A forgotten password in a real browser: from the login page through the SMS code and the
e-mail link to the new password and back to the login, axe-clean on every page in Norwegian
and English; the show-password toggle; "Log in again as …" and "Not you?"."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import assert_accessible
from tests.harness import VERIFIER, s256
from tests.live_server import LiveServer, RelyingParty

NEW_PASSWORD = "a brand new secret"


def _authorize_url(server: LiveServer, party: RelyingParty, **extra: str) -> str:
    params = {
        "client_id": "web",
        "redirect_uri": party.callback,
        "response_type": "code",
        "scope": "openid",
        "state": "state-web",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **extra,
    }
    return f"{server.base_url}/connect/authorize?{urlencode(params)}"


def _last(server: LiveServer, channel: str) -> dict[str, str]:
    return [m for m in server.outbox() if m["channel"] == channel][-1]


def _toggle_shows_the_password(page: Page, field: str, toggle: str) -> None:
    button = page.get_by_role("button", name=toggle)
    assert button.get_attribute("aria-pressed") == "false"
    button.click()
    assert page.get_by_label(field).get_attribute("type") == "text"
    assert button.get_attribute("aria-pressed") == "true"
    button.click()
    assert page.get_by_label(field).get_attribute("type") == "password"


def test_a_two_factor_reset_in_norwegian_returns_to_the_login(
    chromium: Browser, live_server: LiveServer, relying_party: RelyingParty
) -> None:
    live_server.idplus("client", "add", "--client-id", "web", "--type", "Public",
                       "--redirect-uri", relying_party.callback)  # fmt: skip
    live_server.idplus("user", "add", "--username", "+4792000001", "--password", "old password",
                       "--email", "kari@example.com", "--otp")  # fmt: skip
    page = chromium.new_context(bypass_csp=True).new_page()

    page.goto(_authorize_url(live_server, relying_party, ui_locales="no"))
    _toggle_shows_the_password(page, "Passord", "Vis passord")
    assert_accessible(page)
    page.get_by_role("link", name="Glemt passordet?").click()
    expect(page.get_by_role("heading", name="Glemt passord")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Mobilnummer eller e-post").fill("92000001")
    page.get_by_role("button", name="Send kode").click()

    page.get_by_label("Engangskode").wait_for()
    assert_accessible(page)
    page.get_by_label("Engangskode").fill(_last(live_server, "sms")["code"])
    page.get_by_role("button", name="Bekreft").click()
    expect(page.get_by_role("heading", name="Sjekk e-posten din")).to_be_visible()
    assert_accessible(page)

    link = re.search(r"\S+/password-reset/email\?token=\S+", _last(live_server, "email")["body"])
    assert link is not None
    page.goto(link.group(0))
    assert_accessible(page)
    page.get_by_role("button", name="Fortsett").click()
    page.get_by_label("Nytt passord").fill(NEW_PASSWORD)
    _toggle_shows_the_password(page, "Nytt passord", "Vis passord")
    assert_accessible(page)
    page.get_by_role("button", name="Lagre det nye passordet").click()
    assert page.get_by_role("status").inner_text().startswith("Passordet ditt er endret")
    assert_accessible(page)

    page.get_by_role("link", name="Logg inn med det nye passordet").click()
    page.get_by_label("Mobilnummer eller e-post").fill("92000001")
    page.get_by_label("Passord", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Logg inn").click()
    page.get_by_label("Engangskode").fill(_last(live_server, "sms")["code"])
    page.get_by_role("button", name="Bekreft").click()
    page.wait_for_url(f"{relying_party.callback}?*")
    assert relying_party.received[-1]["state"] == "state-web"


def test_an_sms_reset_and_logging_in_again_in_english(
    chromium: Browser, live_server: LiveServer, relying_party: RelyingParty
) -> None:
    live_server.idplus("client", "add", "--client-id", "web", "--type", "Public",
                       "--redirect-uri", relying_party.callback)  # fmt: skip
    live_server.idplus("user", "add", "--username", "+4792000002", "--password", "old password")
    page = chromium.new_context(bypass_csp=True).new_page()

    page.goto(f"{live_server.base_url}/password-reset?locale=en")
    assert_accessible(page)
    page.get_by_label("Mobile number or e-mail").fill("+4792000002")
    page.get_by_role("button", name="Send code").click()
    code = _last(live_server, "sms")["code"]
    page.get_by_label("One-time code").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Confirm", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("One-time code").fill(code)
    page.get_by_role("button", name="Confirm", exact=True).click()
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save the new password").click()
    expect(page.get_by_role("status")).to_be_visible()
    assert_accessible(page)

    page.goto(_authorize_url(live_server, relying_party))
    page.get_by_label("Mobile number or e-mail").fill("+4792000002")
    page.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url(f"{relying_party.callback}?*")

    page.goto(_authorize_url(live_server, relying_party, prompt="login"))
    expect(page.get_by_role("heading", name="Log in again as +47 ••• •• 002")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Not you?").click()
    expect(page.get_by_role("heading", name="Log in", exact=True)).to_be_visible()
    expect(page.get_by_label("Mobile number or e-mail")).to_have_value("")
