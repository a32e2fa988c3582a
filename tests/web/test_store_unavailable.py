"""A database that stops taking connections while the app runs: every front answers 503 with
Retry-After at once, in its own format (RFC 6749 §5.2 JSON with `temporarily_unavailable`, an
HTML page for a browser, the gateway's numbered JSON), never a 500 or a traceback; /readyz
says 503 so that a load balancer stops routing here; and the app serves again by itself once
the database is back, with no restart."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from idplus.config import Settings
from tests.conftest import ISSUER, POSTGRES_ADMIN_URL
from tests.flows.forms import FormBrowser
from tests.harness import CALLBACK, PASSWORD, RP, Harness, basic, code_from_login, exchange_code

pytestmark = pytest.mark.postgres

WEB_SECRET = "a-web-secret-0123456789"
DEVICE_CODE = "urn:ietf:params:oauth:grant-type:device_code"
HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture
def settings(postgres_url: str, tmp_path: Path) -> Settings:
    """The app on its own PostgreSQL database (the suite's default is SQLite)."""
    return Settings(
        issuer=ISSUER,
        database_url=postgres_url,
        outbox=tmp_path / "outbox.jsonl",
        log_json=True,
        # The background workers notice an outage within the test's short one.
        registry_poll_seconds=0.05,
        outbox_poll_seconds=0.05,
    )


@contextmanager
def database_refusing_connections(database_url: str) -> Iterator[None]:
    """The server stops letting anyone into this database and drops who is in, as a restart
    or a failover does; on the way out it lets them in again."""
    name = sa.make_url(database_url).database
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'.encode())
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'.encode())


@dataclass(frozen=True)
class Parties:
    """What a client, a user and a partner hold before the database goes away."""

    access_token: str
    refresh_token: str
    gateway_secret: str
    gateway_refresh_token: str
    gateway_access_token: str


def _parties(h: Harness) -> Parties:
    h.add_client(
        "web",
        client_type="Confidential",
        secret=WEB_SECRET,
        grant_types=["authorization_code", "refresh_token", "client_credentials", DEVICE_CODE],
        scopes=["openid", "profile", "offline_access"],
    )
    h.add_api_products("api:tv")
    gateway_secret = h.add_client(
        "partner", client_type="Confidential", api_access=True,
        grant_types=["password", "refresh_token"], scopes=["api:tv"],
    )  # fmt: skip
    assert gateway_secret is not None
    h.add_user("+4790000001")
    code = code_from_login(h, "web", scope="openid profile offline_access")
    tokens = exchange_code(h, code, "web", WEB_SECRET).json()
    gateway = h.http.post(
        "/oauth/v2/token",
        data={"grant_type": "password", "username": "+4790000001", "password": PASSWORD},
        headers=basic("partner", gateway_secret),
    ).json()
    return Parties(
        access_token=tokens["access_token"],
        refresh_token=tokens["refresh_token"],
        gateway_secret=gateway_secret,
        gateway_refresh_token=gateway["refresh_token"],
        gateway_access_token=gateway["access_token"],
    )


@pytest.fixture
def http(settings: Settings, client: TestClient) -> TestClient:
    """The app as a client sees it: a 500 is an answer, not an exception in the test."""
    return TestClient(client.app, base_url=settings.issuer, follow_redirects=False,
                      raise_server_exceptions=False)  # fmt: skip


def _connect_requests(p: Parties) -> dict[str, tuple[str, str, dict[str, Any]]]:
    web = basic("web", WEB_SECRET)
    return {
        "refresh": ("POST", "/connect/token", {"headers": web, "data": {
            "grant_type": "refresh_token", "refresh_token": p.refresh_token}}),
        "code exchange": ("POST", "/connect/token", {"headers": web, "data": {
            "grant_type": "authorization_code", "code": "a-code", "redirect_uri": CALLBACK}}),
        "userinfo": ("GET", "/connect/userinfo", {
            "headers": {"Authorization": f"Bearer {p.access_token}"}}),
        "revocation": ("POST", "/connect/revocation", {"headers": web, "data": {
            "token": p.refresh_token}}),
        "device authorization": ("POST", "/connect/deviceauthorization", {
            "data": {"client_id": "web", "client_secret": WEB_SECRET, "scope": "openid"}}),
    }  # fmt: skip


def _gateway_requests(p: Parties) -> dict[str, tuple[str, str, dict[str, Any]]]:
    partner = basic("partner", p.gateway_secret)
    return {
        "password grant": ("POST", "/oauth/v2/token", {"headers": partner, "data": {
            "grant_type": "password", "username": "+4790000001", "password": PASSWORD}}),
        "refresh": ("POST", "/oauth/v2/token", {"headers": partner, "data": {
            "grant_type": "refresh_token", "refresh_token": p.gateway_refresh_token}}),
        "logout": ("GET", "/oauth/v2/logout", {
            "headers": {"Authorization": f"Bearer {p.gateway_access_token}"}}),
    }  # fmt: skip


def _assert_unavailable(response: Any, what: str) -> None:
    assert response.status_code == 503, (what, response.status_code, response.text[:300])
    assert response.headers["retry-after"] == "1", what
    assert response.headers["cache-control"] == "no-store", what
    assert "Traceback" not in response.text, what


def test_every_front_answers_503_with_retry_after_in_its_own_format(
    harness: Harness, http: TestClient, settings: Settings
) -> None:
    parties = _parties(harness)
    # A login page is open in a browser, which asks for HTML as browsers do.
    browser_http = TestClient(http.app, base_url=settings.issuer, follow_redirects=False,
                              raise_server_exceptions=False, headers=HTML)  # fmt: skip
    login = FormBrowser(browser_http, RP)
    assert 'name="password"' in login.get(harness.authorize_url("web")).text
    with database_refusing_connections(settings.database_url):
        for what, (method, path, options) in _connect_requests(parties).items():
            answer = http.request(method, path, **options)
            _assert_unavailable(answer, what)
            assert answer.json()["error"] == "temporarily_unavailable", what
        for what, (method, path, options) in _gateway_requests(parties).items():
            answer = http.request(method, path, **options)
            _assert_unavailable(answer, f"gateway {what}")
            assert answer.json() == {
                "error_code": 2,
                "error": "temporarily overloaded, retry later",
                "error_description": "temporarily overloaded, retry later",
            }
        pages = {
            "authorize": browser_http.get(harness.authorize_url("web")),
            "login form": login.submit(
                {"username": "+4790000001", "password": PASSWORD}, ("action", "login")
            ),
            "account": http.get("/account", headers=HTML),  # with a session cookie
        }
        for what, page in pages.items():
            _assert_unavailable(page, what)
            assert page.headers["content-type"].startswith("text/html"), what
            assert "Try again in a moment" in page.text


def test_readiness_fails_while_the_database_refuses_and_recovers_after(
    harness: Harness, http: TestClient, settings: Settings
) -> None:
    assert http.get("/readyz").status_code == 200
    with database_refusing_connections(settings.database_url):
        down = http.get("/readyz")
    assert down.status_code == 503
    assert down.json()["status"] == "unavailable"
    assert http.get("/readyz").status_code == 200


def test_the_app_serves_again_once_the_database_is_back(
    harness: Harness, http: TestClient, settings: Settings
) -> None:
    """No restart: the pool drops the connections the server closed and opens new ones."""
    parties = _parties(harness)
    refresh = _connect_requests(parties)["refresh"]
    gateway_refresh = _gateway_requests(parties)["refresh"]
    with database_refusing_connections(settings.database_url):
        assert http.request(refresh[0], refresh[1], **refresh[2]).status_code == 503
        assert (
            http.request(gateway_refresh[0], gateway_refresh[1], **gateway_refresh[2]).status_code
            == 503
        )

    renewed = http.request(refresh[0], refresh[1], **refresh[2])
    assert renewed.status_code == 200, renewed.text
    # The rotating gateway token was not spent by the refused attempt: it still works, once.
    rotated = http.request(gateway_refresh[0], gateway_refresh[1], **gateway_refresh[2])
    assert rotated.status_code == 200, rotated.text
    assert code_from_login(harness, "web")


def test_the_log_says_the_store_is_unavailable_once_without_a_traceback(
    harness: Harness, http: TestClient, settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The request and the background workers (registry watch, outbox) each log a warning, not
    an error with a traceback: an outage is an expected state, and the workers say it once."""
    parties = _parties(harness)
    capsys.readouterr()
    method, path, options = _connect_requests(parties)["userinfo"]
    logged: list[dict[str, Any]] = []
    wanted = {"store_unavailable", "registry_watch_store_unavailable", "outbox_store_unavailable"}
    with database_refusing_connections(settings.database_url):
        assert http.request(method, path, **options).status_code == 503
        for _ in range(100):  # the workers poll every 0.05 s
            logged += [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]
            if wanted <= {event["event"] for event in logged}:
                break
            time.sleep(0.05)
    events = [event["event"] for event in logged]
    assert wanted <= set(events), events
    assert events.count("registry_watch_store_unavailable") == 1
    assert events.count("outbox_store_unavailable") == 1
    assert not any("exception" in event for event in logged), "no traceback in the log"
