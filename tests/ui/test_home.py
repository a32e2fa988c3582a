"""The front page, the not-found page, and moving a development page to the issuer's name."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from idplus.application.app import create_app
from idplus.clock import FrozenClock
from idplus.config import Settings

PUBLIC_ISSUER = "http://id.example.no"


def _links(html: str) -> list[str]:
    """The links a person can follow (`<a href>`), in page order."""
    return [part.split('"')[0] for part in html.split('<a href="')[1:]]


def test_front_page_links_to_the_account_page_portal_console_and_debugger(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="en">' in page.text
    assert "Your account" in page.text
    assert "Developer portal" in page.text
    assert "Operator console" in page.text
    assert _links(page.text) == [
        "/language?lang=nb&amp;next=%2F",
        "/account",
        "/portal",
        "/debugger",
        "/.well-known/openid-configuration",
        "/admin",
    ]


def test_front_page_in_norwegian(client: TestClient) -> None:
    page = client.get("/?ui_locales=no")
    assert '<html lang="no">' in page.text
    assert "Kontoen din" in page.text
    assert "/account?locale=nb" in _links(page.text)
    assert "Utviklerportal" in page.text
    assert "For operatører" in page.text
    # The portal and the console open in the front page's language too.
    assert {"/portal?locale=nb", "/admin?locale=nb"} <= set(_links(page.text))
    # The switch goes back to the front page without the parameter, so the choice sticks.
    assert "/language?lang=en&amp;next=%2F" in _links(page.text)


def test_front_page_follows_the_browser_language(client: TestClient) -> None:
    page = client.get("/", headers={"accept-language": "nb-NO,nb;q=0.9,en;q=0.8"})
    assert '<html lang="no">' in page.text
    assert "/account?locale=nb" in _links(page.text)


def test_front_page_of_a_public_issuer_has_no_debugger_link(
    settings: Settings, clock: FrozenClock
) -> None:
    app = create_app(settings.model_copy(update={"issuer": PUBLIC_ISSUER}), clock=clock)
    with TestClient(app, base_url=PUBLIC_ISSUER) as client:
        page = client.get("/")
    assert page.status_code == 200
    assert "/debugger" not in page.text
    assert "/account" in _links(page.text)


def test_not_found_page_leads_to_the_front_page(client: TestClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert "Page not found" in page.text
    assert _links(page.text) == ["/language?lang=nb&amp;next=%2Fno-such-page", "/"]
    norwegian = client.get("/no-such-page?ui_locales=no")
    assert "Fant ikke siden" in norwegian.text
    assert _links(norwegian.text) == [
        "/language?lang=en&amp;next=%2Fno-such-page",
        "/?ui_locales=no",
    ]


@pytest.fixture
def localhost(settings: Settings, clock: FrozenClock) -> TestClient:
    app = create_app(settings.model_copy(update={"issuer": "http://localhost:8300"}), clock=clock)
    return TestClient(app, base_url="http://localhost:8300", follow_redirects=False)


@pytest.mark.parametrize("path", ["/debugger", "/debugger?x=1", "/"])
def test_a_development_page_under_another_loopback_name_moves_to_the_issuer(
    localhost: TestClient, path: str
) -> None:
    """The debugger's cookie is set for the name it is opened under and its callback comes
    back under the issuer's: opened as 127.0.0.1, the flow would come back without it."""
    with localhost:
        for alias in ("http://127.0.0.1:8300", "http://[::1]:8300"):
            moved = localhost.get(alias + path)
            assert moved.status_code == 307
            assert moved.headers["location"] == "http://localhost:8300" + path
        assert localhost.get(path).status_code == 200


def test_a_page_on_another_port_or_a_non_loopback_name_is_not_moved(
    localhost: TestClient,
) -> None:
    with localhost:
        assert localhost.get("http://127.0.0.1:8000/debugger").status_code == 200
        assert localhost.get("http://testserver/debugger").status_code == 200
        # A program's call is never redirected.
        discovery = localhost.get("http://127.0.0.1:8300/.well-known/openid-configuration")
        assert discovery.status_code == 200
