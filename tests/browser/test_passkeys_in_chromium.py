"""Passkeys (issue 18) in Debian's Chromium, with its virtual authenticator over CDP: add one on
the account page after a password + SMS login, log in with it through the debugger, step up
with it instead of the SMS code, and let the browser's autofill (conditional mediation) pick it.
axe-core checks the passkey pages in English and Norwegian.

Passkeys need an issuer the browser trusts as a secure context with a host name for the rp id:
the server runs as http://localhost:PORT.

With SCREENSHOT_DIR set, the passkey pages the README shows are saved there:
`SCREENSHOT_DIR=docs/screenshots pytest tests/browser/test_passkeys_in_chromium.py`
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, expect

from tests.browser.axe import assert_accessible
from tests.live_server import LiveServer, run_live_server

AMR_PASSKEY = "urn:telenor.identity.amr.passkey"
AAL_2 = "urn:telenor.identity.aal.2"
# A browser that cannot autofill passkeys: the login page then offers only the button.
# Chromium's virtual authenticator answers a conditional request at once, so without this the
# login page would log in on its own before the button could be pressed.
NO_AUTOFILL = """if (window.PublicKeyCredential) {
  PublicKeyCredential.isConditionalMediationAvailable = async () => false;
}"""
# The words a person reads and clicks, in each language (the passkey elements go by their ids).
WORDS = {
    "en": {
        "locale": "en-GB",
        "username": "Mobile number or e-mail",
        "password": "Password",
        "log_in": "Log in",
        "code": "One-time code",
        "confirm": "Confirm",
        "account": "Your account",
        "log_out": "Log out",
        "logged_out_of_all": "You are now logged out",
        "client": "Client",
        "secret": "Client secret (Confidential clients only)",
        "scopes": "Scopes",
        "show": "Show the request",
        "send": "Send the request",
        "rp_log_out": "Log out (RP-initiated, with id_token_hint)",
        "logged_out": "Logged out",
        "send_code": "Send code",
        "passkey_sign_in": "Sign in with a passkey",
        "passkey_instead": "Use a passkey instead",
        "device_only": "This device only",
        "remove": "Remove",
        "confirm_removal": "Yes, remove it",
    },
    "no": {
        "locale": "nb-NO",
        "username": "Mobilnummer eller e-post",
        "password": "Passord",
        "log_in": "Logg inn",
        "code": "Engangskode",
        "confirm": "Bekreft",
        "account": "Kontoen din",
        "log_out": "Logg ut",
        "logged_out_of_all": "Du er nå logget ut",
        "client": "Klient",
        "secret": "Klienthemmelighet (bare for Confidential-klienter)",
        "scopes": "Omfang (scopes)",
        "show": "Vis forespørselen",
        "send": "Send forespørselen",
        "rp_log_out": "Logg ut (RP-initiert, med id_token_hint)",
        "logged_out": "Logget ut",
        "send_code": "Send kode",
        "passkey_sign_in": "Logg inn med tilgangsnøkkel",
        "passkey_instead": "Bruk tilgangsnøkkel i stedet",
        "device_only": "Bare på denne enheten",
        "remove": "Fjern",
        "confirm_removal": "Ja, fjern den",
    },
}
_numbers = count(1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One served idplus for the module, as http://localhost:PORT (bound to 127.0.0.1)."""
    yield from run_live_server(tmp_path_factory.mktemp("passkeys"), host="localhost")


@dataclass(frozen=True)
class Person:
    username: str
    password: str


@dataclass(frozen=True)
class VirtualAuthenticator:
    """Chromium's platform authenticator stand-in: resident keys, user verification, and
    presence confirmed without a touch. It belongs to the page it was added to."""

    cdp: CDPSession
    id: str

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        return list(found["credentials"])


def _context(
    chromium: Browser, words: dict[str, str], *, autofill: bool = False, bypass_csp: bool = False
) -> BrowserContext:
    context = chromium.new_context(locale=words["locale"], bypass_csp=bypass_csp)
    # Every step here takes well under a second; a missing element fails fast.
    context.set_default_timeout(10_000)
    if not autofill:
        context.add_init_script(NO_AUTOFILL)
    return context


def _virtual_authenticator(context: BrowserContext, page: Page) -> VirtualAuthenticator:
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    return VirtualAuthenticator(cdp, str(added["authenticatorId"]))


def _new_person(server: LiveServer, *, sms_at_every_login: bool = True) -> Person:
    """A user with a mobile number; by default every login asks for the SMS code."""
    person = Person(f"+479200{next(_numbers):04d}", "passkeys-are-nice")
    otp = ["--otp"] if sms_at_every_login else []
    server.idplus("user", "add", "--username", person.username, "--password", person.password,
                  "--given-name", "Kari", *otp)  # fmt: skip
    return person


def _screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def _sms_to(server: LiveServer, person: Person) -> list[dict[str, str]]:
    return [m for m in server.outbox() if m["channel"] == "sms" and m["to"] == person.username]


def _password(page: Page, words: dict[str, str], person: Person) -> None:
    username = page.get_by_label(words["username"])
    username.wait_for()
    if not username.input_value():
        username.fill(person.username)
    page.get_by_label(words["password"], exact=True).fill(person.password)
    page.get_by_role("button", name=words["log_in"], exact=True).click()


def _password_and_sms(
    page: Page, server: LiveServer, words: dict[str, str], person: Person
) -> None:
    _password(page, words, person)
    _sms_code(page, server, words, person)


def _sms_code(page: Page, server: LiveServer, words: dict[str, str], person: Person) -> None:
    page.get_by_label(words["code"]).wait_for()
    page.get_by_label(words["code"]).fill(_sms_to(server, person)[-1]["code"])
    page.get_by_role("button", name=words["confirm"]).click()


def _account_page(page: Page, server: LiveServer, words: dict[str, str], person: Person) -> None:
    """Logged out, the account page sends the browser through the login first."""
    page.goto(f"{server.base_url}/account")
    _password_and_sms(page, server, words, person)
    expect(page.get_by_role("heading", level=1)).to_have_text(words["account"])


def _add_passkey(page: Page, name: str) -> None:
    """The "Add a passkey" button: the browser makes the key, the page names it and reloads
    with the passkey listed under its name."""
    page.locator("#passkey-name").fill(name)
    page.locator("#passkey-add").click()
    page.wait_for_url("**notice=passkey_added#passkeys")
    expect(page.get_by_role("heading", level=3, name=name, exact=True)).to_be_visible()


def _log_out_of_account(page: Page, words: dict[str, str]) -> None:
    """The account page's "Log out" ends every session this browser holds."""
    page.get_by_role("button", name=words["log_out"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(words["logged_out_of_all"])


def _debugger_request(
    page: Page,
    server: LiveServer,
    words: dict[str, str],
    acr_values: str = "",
    *,
    wait_for_login: bool = True,
) -> None:
    """The demo web app's login, started from the debugger; ends on the login page."""
    web = next(c for c in server.seed["clients"] if c["client_id"] == "demo-web")
    page.goto(f"{server.base_url}/debugger")
    page.get_by_label(words["client"], exact=True).select_option("demo-web")
    page.get_by_label(words["secret"]).fill(str(web["client_secret"]))
    page.get_by_label(words["scopes"]).fill("openid profile")
    page.get_by_label("acr_values").fill(acr_values)
    page.get_by_role("button", name=words["show"]).click()
    page.get_by_role("link", name=words["send"]).click()
    if wait_for_login:
        page.wait_for_url(f"{server.base_url}/login?*")


def _id_token_claims(page: Page, server: LiveServer) -> dict[str, Any]:
    """The ID token the debugger received (its result page shows the raw token)."""
    page.locator("#token-id").wait_for()
    assert page.url.startswith(f"{server.base_url}/debugger")
    payload = page.locator("#token-id").inner_text().strip().split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _csp_refusals(page: Page) -> list[str]:
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    return refused


def test_a_passkey_added_on_the_account_page_logs_in_and_steps_up(
    chromium: Browser, server: LiveServer
) -> None:
    """The journey of issue 18, in Norwegian as most users see it, under the pages' real CSP."""
    words, person = WORDS["no"], _new_person(server)
    context = _context(chromium, words)
    page = context.new_page()
    refused = _csp_refusals(page)
    authenticator = _virtual_authenticator(context, page)

    _account_page(page, server, words, person)
    texts_before = len(_sms_to(server, person))
    _add_passkey(page, "Jobb-PC")
    assert len(authenticator.credentials()) == 1
    # Chromium's virtual authenticator keeps its keys to itself (no backup flags).
    expect(page.get_by_text(words["device_only"])).to_be_visible()
    # An SMS tells the owner, so that a passkey someone else added does not go unnoticed.
    assert len(_sms_to(server, person)) == texts_before + 1
    _screenshot(page, "passkey-account")
    _log_out_of_account(page, words)

    # A login with the passkey alone: two factors in one.
    _debugger_request(page, server, words)
    expect(page.locator("#username")).to_have_attribute("autocomplete", "username webauthn")
    expect(page.locator("#passkey-login")).to_have_text(words["passkey_sign_in"])
    _screenshot(page, "passkey-login")
    page.locator("#passkey-login").click()
    claims = _id_token_claims(page, server)
    assert AMR_PASSKEY in claims["amr"]
    assert claims["acr"] == AAL_2

    # Logged out again, a password login asking for level 2 takes the passkey, not the code.
    page.get_by_role("button", name=words["rp_log_out"]).click()
    page.get_by_text(words["logged_out"]).wait_for()
    _debugger_request(page, server, words, acr_values=AAL_2)
    _password(page, words, person)
    expect(page.locator("#passkey-login")).to_have_text(words["passkey_instead"])
    page.locator("#passkey-login").click()
    claims = _id_token_claims(page, server)
    assert AMR_PASSKEY in claims["amr"]
    assert claims["acr"] == AAL_2
    assert refused == []
    context.close()


def test_a_user_without_sms_at_login_confirms_by_sms_to_add_a_passkey_then_steps_up_with_it(
    chromium: Browser, server: LiveServer
) -> None:
    """A password alone is level 1: adding a passkey first asks for a fresh login with the SMS
    code (and comes back to the account page), and an app that later asks for level 2 gets
    the passkey instead of a second SMS code."""
    words, person = WORDS["en"], _new_person(server, sms_at_every_login=False)
    context = _context(chromium, words)
    page = context.new_page()
    refused = _csp_refusals(page)
    _virtual_authenticator(context, page)

    page.goto(f"{server.base_url}/account")
    _password(page, words, person)
    expect(page.get_by_role("heading", level=1)).to_have_text(words["account"])
    # Too weak a login to add a passkey: the page sends the browser to log in again, with the
    # password and then the SMS code, and back.
    page.locator("#passkey-add").click()
    page.wait_for_url(f"{server.base_url}/login?*")
    _password_and_sms(page, server, words, person)
    page.wait_for_url(f"{server.base_url}/account*#passkeys")
    _add_passkey(page, "Laptop")

    _debugger_request(page, server, words)
    _password(page, words, person)
    first = _id_token_claims(page, server)
    assert AMR_PASSKEY not in first["amr"]
    assert first["acr"] != AAL_2
    texts_before = len(_sms_to(server, person))
    _debugger_request(page, server, words, acr_values=AAL_2, wait_for_login=False)
    page.get_by_role("button", name=words["send_code"]).wait_for()
    expect(page.locator("#passkey-login")).to_have_text(words["passkey_instead"])
    page.locator("#passkey-login").click()
    claims = _id_token_claims(page, server)
    assert AMR_PASSKEY in claims["amr"]
    assert claims["acr"] == AAL_2
    assert len(_sms_to(server, person)) == texts_before
    assert refused == []
    context.close()


def test_the_browser_offers_the_passkey_itself_on_the_login_page(
    chromium: Browser, server: LiveServer
) -> None:
    """Conditional mediation: the login page asks the browser for a passkey as it opens, and
    Chromium's virtual authenticator answers at once (a person would pick it in the username
    field's autofill list). Then the passkey is removed on the account page it logged into."""
    words, person = WORDS["en"], _new_person(server)
    context = _context(chromium, words, autofill=True)
    page = context.new_page()
    refused = _csp_refusals(page)
    _virtual_authenticator(context, page)
    # Without a passkey yet, the password login works as before. (Chromium's virtual
    # authenticator refuses the login page's request at once here, where a browser would keep
    # it waiting: the page then shows "The passkey was not used" though nobody asked.)
    _account_page(page, server, words, person)
    assert page.evaluate("PublicKeyCredential.isConditionalMediationAvailable()") is True
    _add_passkey(page, "Laptop")
    _log_out_of_account(page, words)

    verified: list[str] = []
    page.on("request", lambda r: verified.append(r.url) if "/webauthn/login/" in r.url else None)
    _debugger_request(page, server, words, wait_for_login=False)
    claims = _id_token_claims(page, server)
    assert AMR_PASSKEY in claims["amr"]
    assert claims["acr"] == AAL_2
    assert f"{server.base_url}/webauthn/login/verify" in verified

    # The account page logs in with it by itself too; removing it there (after a confirmation)
    # ends the sessions it made, the page's own included, and it no longer logs in.
    page.goto(f"{server.base_url}/account")
    expect(page.get_by_role("heading", level=1)).to_have_text(words["account"])
    page.get_by_role("button", name=words["remove"], exact=True).click()
    page.get_by_role("button", name=words["confirm_removal"]).click()
    page.wait_for_url(f"{server.base_url}/login?*")
    assert server.idplus("user", "passkeys", person.username) == []
    # The browser still offers the key; the page says why it does not work.
    expect(page.locator("#passkey-problem")).to_contain_text("not registered")
    assert refused == []
    context.close()


@pytest.mark.parametrize("language", ["en", "no"])
def test_the_passkey_pages_are_accessible(
    chromium: Browser, server: LiveServer, language: str
) -> None:
    words, person = WORDS[language], _new_person(server)
    # axe is injected into the page, which the pages' CSP (rightly) refuses otherwise.
    context = _context(chromium, words, bypass_csp=True)
    page = context.new_page()
    _virtual_authenticator(context, page)

    _account_page(page, server, words, person)
    assert page.locator("html").get_attribute("lang") == language
    expect(page.locator("#passkey-add")).to_be_visible()
    assert_accessible(page)
    _add_passkey(page, "Telefon")
    assert_accessible(page)
    _log_out_of_account(page, words)

    page.goto(f"{server.base_url}/account")
    expect(page.locator("#passkey-login")).to_be_visible()
    assert_accessible(page)
    _password(page, words, person)
    expect(page.locator("#passkey-login")).to_be_visible()
    assert_accessible(page)
    context.close()
