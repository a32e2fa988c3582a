"""Error pages are no dead ends: a way back to the app where the client is known, the request
id for customer service, and the detail in the page's language (never an internal reason)."""

from __future__ import annotations

import html
import re
from contextlib import ExitStack
from typing import Any

import pytest

from idplus.manage.providers import ProviderRegistration, add_provider
from idplus.protocol.context import AppContext
from idplus.ui.language import LANGUAGE_COOKIE
from tests.harness import PASSWORD, Harness, code_from_login, exchange_code

EVIL = "https://evil.example/cb"


def _back_link(page: Any) -> tuple[str, str] | None:
    """(href, text) of the "Back to …" link, if the page has one."""
    found = re.search(r'<a href="([^"]+)">((?:Back to|Tilbake til) [^<]+)</a>', page.text)
    return (html.unescape(found.group(1)), html.unescape(found.group(2))) if found else None


@pytest.fixture
def shop(harness: Harness) -> Harness:
    harness.add_client("shop", name="Telenor Shop")
    harness.add_user()
    return harness


def test_an_unregistered_redirect_uri_leads_back_to_the_apps_registered_origin(
    shop: Harness,
) -> None:
    page = shop.http.get(shop.authorize_url("shop", redirect_uri=EVIL))
    assert page.status_code == 400
    assert _back_link(page) == ("https://rp.example/", "Back to Telenor Shop")
    assert not re.search(r'(?:href|action)="https?://evil', page.text)


def test_an_unknown_client_has_no_way_back(shop: Harness) -> None:
    page = shop.http.get(shop.authorize_url("nobody"))
    assert page.status_code == 400
    assert _back_link(page) is None


@pytest.mark.parametrize(
    ("registered", "expected"),
    [
        ("http://127.0.0.1:7000/callback", ("http://127.0.0.1:7000/", "Back to TV app")),
        ("http://localhost/cb", ("http://localhost/", "Back to TV app")),
        ("no.telenor.tv:/oauth", None),
    ],
)
def test_the_way_back_is_a_web_origin_never_a_custom_scheme(
    harness: Harness, registered: str, expected: tuple[str, str] | None
) -> None:
    harness.add_client("tv", client_type="MobileApp", name="TV app", redirect_uris=[registered])
    page = harness.http.get(harness.authorize_url("tv", redirect_uri=EVIL))
    assert page.status_code == 400
    assert _back_link(page) == expected


def test_the_page_shows_the_request_id_of_the_response(shop: Harness) -> None:
    page = shop.http.get(shop.authorize_url("nobody"))
    request_id = page.headers["x-request-id"]
    assert f'<span class="reference">{request_id}</span>' in page.text
    traced = shop.http.get(shop.authorize_url("nobody"), headers={"X-Request-Id": "support-42"})
    assert '<span class="reference">support-42</span>' in traced.text


def test_the_detail_is_in_the_pages_language_and_never_the_internal_reason(shop: Harness) -> None:
    english = shop.http.get(shop.authorize_url("shop", redirect_uri=EVIL))
    assert "an address it has not registered" in english.text
    assert "is not registered for this client" not in english.text  # the log's wording

    norwegian = shop.http.get(shop.authorize_url("shop", redirect_uri=EVIL, ui_locales="no"))
    assert '<html lang="no">' in norwegian.text
    assert "Noe gikk galt" in norwegian.text
    assert "en adresse den ikke har registrert" in norwegian.text
    assert _back_link(norwegian) == ("https://rp.example/", "Tilbake til Telenor Shop")
    assert "Oppgi denne referansen til kundeservice:" in norwegian.text


def test_a_malformed_request_gets_a_translated_detail(shop: Harness) -> None:
    shop.http.cookies.set(LANGUAGE_COOKIE, "nb")
    page = shop.http.post(
        "/connect/authorize", content="client_id=shop", headers={"content-type": "text/plain"}
    )
    assert page.status_code == 400
    assert "Forespørselen fra appen har en parameter" in page.text
    assert "url-encoded" not in page.text  # the parser's own words stay in the log


def test_a_logout_for_the_wrong_client_leads_back_to_the_app(shop: Harness) -> None:
    code = code_from_login(shop, "shop")
    tokens = exchange_code(shop, code, "shop").json()
    shop.http.cookies.set(LANGUAGE_COOKIE, "nb")
    page = shop.http.get(
        "/connect/endsession",
        params={"id_token_hint": tokens["id_token"], "client_id": "someone-else"},
    )
    assert page.status_code == 400
    assert "Appen som ba om å logge deg ut, er ikke den du logget inn på." in page.text
    assert _back_link(page) == ("https://rp.example/", "Tilbake til Telenor Shop")


def test_a_login_shed_for_load_leads_back_to_the_app(shop: Harness) -> None:
    browser = shop.browser()
    browser.get(shop.authorize_url("shop", ui_locales="no"))
    server: AppContext = shop.http.app.state.context  # type: ignore[attr-defined]
    with ExitStack() as busy:
        for _ in range(shop.settings.max_concurrent_hashes):
            busy.enter_context(server.hash_slots.slot())
        page = browser.submit(
            {"username": "+4790000001", "password": PASSWORD}, ("action", "login")
        )
    assert page.status_code == 503
    assert "Mange logger inn akkurat nå." in page.text
    assert _back_link(page) == ("https://rp.example/", "Tilbake til Telenor Shop")


@pytest.fixture
def unreachable(shop: Harness) -> Harness:
    """An upstream provider nobody answers for (the discard port), the only way in to "tv"."""
    store = shop.store()
    try:
        registration = ProviderRegistration("down", "http://127.0.0.1:9", "hub", "secret")
        add_provider(store, shop.settings, shop.clock, registration)
    finally:
        store.dispose()
    shop.add_client("tv", name="Telenor TV", providers=["down"])
    return shop


def test_an_upstream_that_cannot_be_reached_leads_back_to_the_app(unreachable: Harness) -> None:
    page = unreachable.http.get(
        unreachable.authorize_url("tv", ui_locales="no"), follow_redirects=True
    )
    assert page.status_code == 400
    assert "Innloggingstjenesten du valgte, kan ikke brukes akkurat nå." in page.text
    assert "Gå tilbake til appen og start på nytt." in page.text
    assert _back_link(page) == ("https://rp.example/", "Tilbake til Telenor TV")


@pytest.mark.parametrize(("cookie", "accept"), [("nb", None), (None, "nb-NO,nb;q=0.9,en;q=0.5")])
def test_an_upstream_callback_of_no_login_follows_the_browsers_language(
    shop: Harness, cookie: str | None, accept: str | None
) -> None:
    # No login to read the language of: the page's own rule (the switch, then the browser's).
    if cookie is not None:
        shop.http.cookies.set(LANGUAGE_COOKIE, cookie)
    headers = {"accept-language": accept} if accept else {}
    page = shop.http.get("/federation/up/callback?state=forged&code=c", headers=headers)
    assert page.status_code == 400
    assert '<html lang="no">' in page.text
    assert "Gå tilbake til appen og start på nytt." in page.text
    assert _back_link(page) is None
