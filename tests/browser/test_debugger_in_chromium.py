"""The debugger in Debian's Chromium against a served, seeded idplus: every page axe-clean in
English and Norwegian, and the copy buttons working under the pages' strict CSP."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.axe import assert_accessible
from tests.live_server import LiveServer

# The words a person clicks, in each language the debugger speaks.
WORDS = {
    "en": {
        "query": "",
        "client": "Client",
        "secret": "Client secret (Confidential clients only)",
        "scopes": "Scopes",
        "show": "Show the request",
        "send": "Send the request",
        "username": "Mobile number or e-mail",
        "password": "Password",
        "log_in": "Log in",
        "refresh": "Refresh the tokens",
        "refreshed": "Token endpoint: refresh_token grant",
        "log_out": "Log out (RP-initiated, with id_token_hint)",
        "logged_out": "Logged out",
    },
    "no": {
        "query": "?ui_locales=no",
        "client": "Klient",
        "secret": "Klienthemmelighet (bare for Confidential-klienter)",
        "scopes": "Omfang (scopes)",
        "show": "Vis forespørselen",
        "send": "Send forespørselen",
        "username": "Mobilnummer eller e-post",
        "password": "Passord",
        "log_in": "Logg inn",
        "refresh": "Forny tokenene",
        "refreshed": "Token-endepunktet: refresh_token grant",
        "log_out": "Logg ut (RP-initiert, med id_token_hint)",
        "logged_out": "Logget ut",
    },
}


def _demo(server: LiveServer) -> tuple[str, dict[str, Any]]:
    web = next(c for c in server.seed["clients"] if c["client_id"] == "demo-web")
    user = next(u for u in server.seed["users"] if u["second_factor"] is None)
    return str(web["client_secret"]), user


def _preview(page: Page, server: LiveServer, words: dict[str, str], secret: str) -> None:
    page.goto(f"{server.base_url}/debugger{words['query']}")
    page.get_by_label(words["client"], exact=True).select_option("demo-web")
    page.get_by_label(words["secret"]).fill(secret)
    page.get_by_label(words["scopes"]).fill("openid profile offline_access")
    page.get_by_label("ui_locales").select_option("no" if words["query"] else "en")
    page.get_by_role("button", name=words["show"]).click()


def _log_in(page: Page, words: dict[str, str], user: dict[str, Any]) -> None:
    page.get_by_role("link", name=words["send"]).click()
    page.get_by_label(words["username"]).fill(user["username"])
    page.get_by_label(words["password"], exact=True).fill(user["password"])
    page.get_by_role("button", name=words["log_in"], exact=True).click()
    page.locator("#token-access").wait_for()


@pytest.mark.parametrize("language", ["en", "no"])
def test_every_debugger_page_is_accessible(
    chromium: Browser, live_server: LiveServer, language: str
) -> None:
    words, (secret, user) = WORDS[language], _demo(live_server)
    # axe is injected into the page, which the pages' CSP (rightly) refuses otherwise.
    context = chromium.new_context(bypass_csp=True)
    page = context.new_page()

    _preview(page, live_server, words, "not-the-secret")
    page.locator("#problem").wait_for()
    assert page.locator("html").get_attribute("lang") == language
    assert_accessible(page)

    _preview(page, live_server, words, secret)
    page.locator("#authorize-url").wait_for()
    assert_accessible(page)

    _log_in(page, words, user)
    assert_accessible(page)

    page.get_by_role("button", name=words["refresh"]).click()
    page.get_by_role("heading", name=words["refreshed"]).wait_for()
    assert_accessible(page)

    page.get_by_role("button", name=words["log_out"]).click()
    page.get_by_text(words["logged_out"]).wait_for()
    assert page.url.startswith(f"{live_server.base_url}/debugger?state=")
    assert_accessible(page)
    context.close()


def test_copy_buttons_work_under_the_strict_csp(chromium: Browser, live_server: LiveServer) -> None:
    words, (secret, user) = WORDS["en"], _demo(live_server)
    context = chromium.new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.base_url)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)

    _preview(page, live_server, words, secret)
    _log_in(page, words, user)
    page.get_by_role("button", name="Copy Access token").click()
    page.get_by_text("Access token copied.").wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == page.locator("#token-access").inner_text().strip()
    assert refused == []
    context.close()
