"""A newcomer's first minutes, as the README tells them: `make run` on a port that is not the
default, the landing page, the Norwegian switch, the debugger through a login with an SMS code,
then the account page. axe-core checks every page in both languages on the way.

With SCREENSHOT_DIR set, the pages the README shows are saved there:
`SCREENSHOT_DIR=docs/screenshots pytest tests/browser/test_newcomer_journey_in_chromium.py`
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import assert_accessible
from tests.browser.newcomer import MadeRun, run_make_run

OTHER_LANGUAGE = {"en": "Norsk", "no": "English"}


@pytest.fixture
def made_run(tmp_path: Path) -> Iterator[MadeRun]:
    yield from run_make_run(tmp_path)


def _screenshot(page: Page, name: str) -> None:
    directory = os.environ.get("SCREENSHOT_DIR")
    if directory:
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / f"{name}.png"), full_page=True)


def _language(page: Page) -> str:
    return page.locator("html").get_attribute("lang") or ""


def _switch_language(page: Page) -> None:
    before = _language(page)
    switch = page.get_by_role("navigation").get_by_role("link", name=OTHER_LANGUAGE[before])
    switch.click()
    expect(page.locator("html")).not_to_have_attribute("lang", before)


def _accessible_in_both_languages(page: Page) -> None:
    """axe on the page, then on the same page after the switch, then switched back: the switch
    comes back to the page it was pressed on."""
    url = _without_language(page.url)
    assert_accessible(page)
    _switch_language(page)
    assert _without_language(page.url) == url
    assert_accessible(page)
    _switch_language(page)
    assert _without_language(page.url) == url


def _without_language(url: str) -> str:
    """The switch drops a language the URL asked for, so that the choice sticks."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k not in {"ui_locales", "locale"}]
    return urlunsplit(parts._replace(query=urlencode(query)))


def _log_in(page: Page, made_run: MadeRun, check: Callable[[Page], None] | None = None) -> None:
    """The demo user with a second factor, in Norwegian; the code comes from the outbox."""
    page.get_by_label("Mobilnummer eller e-post").fill("+4799999998")
    page.get_by_label("Passord", exact=True).fill("demo-password")
    page.get_by_role("button", name="Logg inn", exact=True).click()
    page.get_by_label("Engangskode").wait_for()
    if check is not None:
        check(page)
    page.get_by_label("Engangskode").fill(made_run.last_code())
    page.get_by_role("button", name="Bekreft").click()


def test_a_newcomer_logs_in_through_the_debugger_and_finds_the_account_page(
    chromium: Browser, made_run: MadeRun
) -> None:
    base = made_run.base_url
    assert re.search(r":\d+$", base) and not base.endswith(":8000")
    printed = made_run.output()
    assert f"idplus is starting at {base}" in printed
    assert f"{base}/debugger" in printed
    assert "+4799999998  password demo-password, then the SMS code" in printed

    context = chromium.new_context(bypass_csp=True, locale="en-GB")
    page = context.new_page()
    page.goto(f"{base}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Log in with idplus")
    _accessible_in_both_languages(page)

    # The user picks Norwegian once; every page after follows, whatever the browser asks for.
    _switch_language(page)
    expect(page.get_by_role("heading", level=1)).to_have_text("Logg inn med idplus")
    page.get_by_role("link", name="OIDC-feilsøker").click()
    assert _language(page) == "no"
    _accessible_in_both_languages(page)
    _screenshot(page, "debugger-start")

    page.get_by_label("Klient", exact=True).select_option("demo-spa")
    page.get_by_role("button", name="Vis forespørselen").click()
    expect(page.get_by_text("code_challenge_method=S256").first).to_be_visible()
    # The preview answers a POST: the switch would go back to the form (the debugger's own
    # tests check this page in both languages).
    assert_accessible(page)
    page.get_by_role("link", name="Send forespørselen").click()

    page.get_by_label("Mobilnummer eller e-post").wait_for()
    assert page.url.startswith(f"{base}/login?")
    assert _language(page) == "no"
    _accessible_in_both_languages(page)
    _screenshot(page, "login")
    _log_in(page, made_run, check=_accessible_in_both_languages)

    page.locator("#token-access").wait_for()
    assert page.url.startswith(f"{base}/debugger")
    access_token = page.locator("#token-access").inner_text()
    assert_accessible(page)
    # The switch on the result page comes back to the same tokens, not to a second callback.
    _switch_language(page)
    assert page.url == f"{base}/debugger/result"
    expect(page.locator("#token-access")).to_have_text(access_token)
    assert_accessible(page)
    _switch_language(page)
    assert _language(page) == "no"
    _screenshot(page, "debugger-result")

    # The demo apps are not `one_telenor`: the account page keeps its own SSO session.
    page.goto(f"{base}/account")
    _log_in(page, made_run)
    expect(page.get_by_role("heading", level=1)).to_have_text("Kontoen din")
    # The session this browser holds: Chromium on Linux, the demo app by its name.
    expect(page.get_by_role("heading", level=3).first).to_contain_text("Chrom")
    expect(page.get_by_text("Demo single-page app").first).to_be_visible()
    expect(page.get_by_text("Demo Totrinn").first).to_be_visible()
    _accessible_in_both_languages(page)
    _screenshot(page, "account")
    context.close()
