"""The developer portal and the operator console in Debian's Chromium (issue 20's walk): a
developer logs in, creates a company, invites a second developer who accepts, creates an app
and asks for an API product; an operator approves it; the app's client then gets a token for
that `api:` scope at /connect/token and at /oauth/v2/token. The pages run under their real
Content-Security-Policy, and none of it is refused.

With SCREENSHOT_DIR set, the pages the README shows are saved there:
`SCREENSHOT_DIR=docs/screenshots pytest -m e2e tests/browser/test_portal_in_chromium.py`
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.axe import assert_accessible
from tests.live_server import LiveServer, run_live_server

PASSWORD = "portal-walk-password"
DANA = "+4791100001"  # creates the company
OLE = "+4791100002"  # invited
OPERATOR = "+4791100003"
# The list and form pages of both; a company's and an app's pages are made in the test.
PAGES = ("/portal", "/portal/companies/new", "/admin", "/admin/clients", "/admin/users",
         "/admin/sessions", "/admin/api-products", "/admin/keys", "/admin/audit")  # fmt: skip
LINK = re.compile(r"https?://\S+/portal/invitations\S*")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_live_server(tmp_path_factory.mktemp("portal"))


def _add_people(server: LiveServer) -> None:
    for username, email in ((DANA, "dana@example.com"), (OLE, "ole@example.com"),
                            (OPERATOR, "ops@example.com")):  # fmt: skip
        server.idplus("user", "add", "--username", username, "--password", PASSWORD,
                      "--email", email, "--given-name", email.split("@")[0].title())  # fmt: skip
    server.idplus("user", "grant-role", OPERATOR, "operator")
    server.idplus("api-product", "add", "--scope", "api:tv")


def _context(chromium: Browser, *, bypass_csp: bool = False) -> BrowserContext:
    context = chromium.new_context(locale="en-GB", bypass_csp=bypass_csp)
    context.set_default_timeout(10_000)
    return context


def _refusals(page: Page) -> list[str]:
    """What the browser refused (a CSP violation, a failed script) as the page ran."""
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: refused.append(str(e)))
    return refused


def _log_in(page: Page, username: str) -> None:
    page.get_by_label("Mobile number or e-mail").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def _screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def _invitation_link(server: LiveServer, email: str) -> str:
    (message,) = [m for m in server.outbox() if m["channel"] == "email" and m["to"] == email]
    found = LINK.search(message["body"])
    assert found, message["body"]
    return found.group(0)


def _token(url: str, client_id: str, secret: str) -> Any:
    """client_credentials for api:tv; the approval reaches every worker within a second."""
    for _ in range(20):
        response = httpx.post(url, data={"grant_type": "client_credentials", "scope": "api:tv"},
                              auth=(client_id, secret))  # fmt: skip
        if response.status_code == 200:
            break
        time.sleep(0.1)
    return response


def test_a_company_invites_builds_an_app_and_an_operator_approves_its_api_product(
    chromium: Browser, server: LiveServer
) -> None:
    _add_people(server)
    base = server.base_url

    # Dana: a company, an invitation.
    dana = _context(chromium).new_page()
    dana_refused = _refusals(dana)
    dana.goto(f"{base}/portal?ui_locales=en")
    _log_in(dana, DANA)
    expect(dana.get_by_role("heading", name="Developer portal", exact=True)).to_be_visible()
    dana.get_by_role("link", name="Create a company").click()
    dana.get_by_label("Company name").fill("Acme TV")
    dana.get_by_role("button", name="Create the company").click()
    expect(dana.get_by_role("heading", name="Acme TV", level=1)).to_be_visible()
    dana.get_by_label("E-mail").fill("ole@example.com")
    dana.get_by_role("button", name="Send the invitation").click()
    expect(dana.get_by_text("ole@example.com")).to_be_visible()

    # Ole: the e-mailed link, a login, the acceptance.
    ole = _context(chromium).new_page()
    ole_refused = _refusals(ole)
    ole.goto(_invitation_link(server, "ole@example.com"))
    if ole.get_by_label("Password", exact=True).count():
        _log_in(ole, OLE)
    expect(ole.get_by_role("heading", name="Join Acme TV")).to_be_visible()
    ole.get_by_role("button", name="Accept the invitation").click()
    expect(ole.get_by_role("heading", name="Acme TV", level=1)).to_be_visible()

    # Dana: the app, its secret shown once, a request for the product.
    dana.reload()
    expect(dana.get_by_text("+47 91 10 00 02").or_(dana.get_by_text("Ole"))).not_to_have_count(0)
    dana.get_by_role("link", name="Create an app").click()
    dana.get_by_label("App name (shown to users when they log in)").fill("Acme TV backend")
    dana.get_by_label("Kind of app").select_option("Confidential")
    dana.get_by_label("client_credentials").check()
    dana.get_by_role("button", name="Create the app").click()
    expect(dana.get_by_role("heading", name="Acme TV backend", level=1)).to_be_visible()
    secret = dana.get_by_label("Client secret").input_value()
    client_id = dana.locator("dd code").first.inner_text()
    assert client_id.startswith("app-") and len(secret) >= 16
    _screenshot(dana, "portal-app")
    dana.get_by_label("Ask for an API product").select_option("api:tv")
    dana.get_by_role("button", name="Send the request").click()
    expect(dana.get_by_role("cell", name="api:tv")).to_be_visible()
    dana.reload()  # the app's page again: the secret is not shown twice
    expect(dana.get_by_label("Client secret")).to_have_count(0)
    before = httpx.post(f"{base}/connect/token", auth=(client_id, secret),
                        data={"grant_type": "client_credentials", "scope": "api:tv"})  # fmt: skip
    assert before.json()["error"] == "invalid_scope"

    # The operator: the console's dashboard, the approval.
    operator = _context(chromium).new_page()
    operator_refused = _refusals(operator)
    operator.goto(f"{base}/admin?ui_locales=en")
    _log_in(operator, OPERATOR)
    expect(operator.get_by_role("heading", name="Operator console")).to_be_visible()
    expect(operator.get_by_text(client_id).first).to_be_visible()
    _screenshot(operator, "console")
    operator.get_by_role("button", name="Approve").click()
    expect(operator.get_by_role("button", name="Approve")).to_have_count(0)

    # The app's client: the api: scope on both fronts.
    connect = _token(f"{base}/connect/token", client_id, secret)
    gateway = _token(f"{base}/oauth/v2/token", client_id, secret)
    assert connect.status_code == 200, connect.text
    assert connect.json()["scope"] == "api:tv"
    assert gateway.status_code == 200, gateway.text

    dana.reload()
    expect(dana.get_by_text("approved")).to_be_visible()
    assert (dana_refused, ole_refused, operator_refused) == ([], [], [])


@pytest.mark.parametrize("language", ["en", "no"])
def test_the_portal_and_console_pages_are_accessible(
    chromium: Browser, server: LiveServer, language: str
) -> None:
    username = f"+47911009{'1' if language == 'en' else '2'}0"
    server.idplus("user", "add", "--username", username, "--password", PASSWORD)
    server.idplus("user", "grant-role", username, "operator")
    page = _context(chromium, bypass_csp=True).new_page()
    page.goto(f"{server.base_url}/portal?ui_locales={language}")
    _log_in_any_language(page, username)
    for path in PAGES:
        page.goto(f"{server.base_url}{path}?ui_locales={language}")
        expect(page.locator("h1")).to_have_count(1)
        assert_accessible(page)
    # A company's page and an app's, just made (the app's with its secret shown once).
    page.goto(f"{server.base_url}/portal/companies/new?ui_locales={language}")
    page.locator("input[name=name]").fill(f"Firma {language}")
    page.locator("button[name=action][value=create]").click()
    expect(page.locator("h1")).to_have_text(f"Firma {language}")
    assert_accessible(page)
    page.locator("a[href^='/portal/apps/new']").click()
    page.locator("input[name=name]").fill(f"App {language}")
    page.locator("button[name=action][value=create]").click()
    expect(page.locator("#client_secret")).to_be_visible()
    assert_accessible(page)


def _log_in_any_language(page: Page, username: str) -> None:
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("button[name=action][value=login]").click()
    page.wait_for_url(re.compile(r".*/portal.*"))
