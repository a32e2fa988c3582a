"""Helpers for HTTP tests: register clients and users, and drive the login pages like a
script would (an HTTP client with a cookie jar filling the forms)."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from starlette.testclient import TestClient

from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage.api_products import add_api_product
from idplus.manage.clients import ClientRegistration, add_client
from idplus.manage.users import UserRegistration, add_user
from idplus.models import AuditEvent, User
from idplus.store.sql.engine import Database
from idplus.store.sql.uow import SqlStore
from tests.flows.forms import FormBrowser

RP = "https://rp.example"
CALLBACK = f"{RP}/cb"
PASSWORD = "correct horse 42"
VERIFIER = "a-pkce-verifier-that-is-long-enough-to-be-valid-0123456789"


def s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass
class Harness:
    """Registers parties and walks the login pages against the in-process app."""

    http: TestClient
    settings: Settings
    clock: FrozenClock

    def db(self) -> Database:
        """The raw database, for tests that look at rows the store does not expose."""
        return Database(self.settings.database_url)

    def store(self) -> SqlStore:
        """A store of its own over the app's database; the caller disposes it after use."""
        return SqlStore.from_url(self.settings.database_url)

    def audit_events(self, *names: str) -> list[AuditEvent]:
        """The audit events of these names (or prefixes `x.*`; none: every event), oldest first."""
        store = self.store()
        try:
            with store.reading() as uow:
                return list(reversed(uow.audit.list_events(1000, events=names)))
        finally:
            store.dispose()

    def add_client(self, client_id: str = "spa", **fields: Any) -> str | None:
        fields.setdefault("client_type", "Public")
        fields.setdefault("redirect_uris", [CALLBACK])
        store = self.store()
        try:
            registration = ClientRegistration(client_id=client_id, **fields)
            return add_client(store, self.clock, registration).client_secret
        finally:
            store.dispose()

    def add_api_products(self, *scopes: str) -> None:
        store = self.store()
        try:
            for scope in scopes:
                add_api_product(store, self.clock, scope)
        finally:
            store.dispose()

    def add_user(self, username: str = "+4790000001", **fields: Any) -> None:
        fields.setdefault("phone_number", username if username.startswith("+") else "+4790000009")
        store = self.store()
        try:
            add_user(store, self.clock, UserRegistration(username, PASSWORD, **fields))
        finally:
            store.dispose()

    def authorize_url(self, client_id: str = "spa", **params: str) -> str:
        query = {
            "client_id": client_id,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "openid",
            "state": "st-123",
            "code_challenge": s256(VERIFIER),
            "code_challenge_method": "S256",
        }
        query.update(params)
        return "/connect/authorize?" + urlencode({k: v for k, v in query.items() if v != ""})

    def browser(self) -> FormBrowser:
        return FormBrowser(self.http, RP)

    def login(self, browser: FormBrowser, username: str = "+4790000001", **extra: str) -> Any:
        return browser.submit(
            {"username": username, "password": PASSWORD, **extra}, ("action", "login")
        )

    def user(self, username: str) -> User:
        """The stored user of this username (who must exist)."""
        store = self.store()
        try:
            with store.reading() as uow:
                user = uow.users.find_by_username(username)
        finally:
            store.dispose()
        assert user is not None, f"no user {username!r}"
        return user

    def outbox(self) -> list[dict[str, str]]:
        path = self.settings.outbox
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines()]


def redirect_params(response: Any) -> dict[str, str]:
    """The parameters the client receives at its redirect URI (query or fragment)."""
    assert response.status_code in (302, 303), response.text[:500]
    location = urlsplit(response.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    encoded = location.fragment or location.query
    return {k: v[0] for k, v in parse_qs(encoded).items()}


def basic(client_id: str, secret: str) -> dict[str, str]:
    token = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def code_from_login(
    h: Harness, client_id: str = "spa", username: str = "+4790000001", **params: str
) -> str:
    """Walk authorize + login pages (or SSO) and return the authorization code."""
    browser = h.browser()
    first = browser.get(h.authorize_url(client_id, **params))
    if first.status_code == 200 and 'name="password"' in first.text:
        answer = redirect_params(h.login(browser, username))
    elif first.status_code == 200:
        answer = redirect_params(browser.submit(button=("action", "continue")))
    else:
        answer = redirect_params(first)
    return answer["code"]


def exchange_code(
    h: Harness,
    code: str,
    client_id: str = "spa",
    secret: str | None = None,
    **overrides: str,
) -> Any:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
    }
    headers = {}
    if secret is None:
        form["client_id"] = client_id
    else:
        headers = basic(client_id, secret)
    form.update(overrides)
    return h.http.post("/connect/token", data={k: v for k, v in form.items() if v}, headers=headers)


def refresh(h: Harness, refresh_token: str, client_id: str = "spa", **extra: str) -> Any:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}
    form.update(extra)
    secret = form.pop("client_secret", None)
    headers = basic(client_id, secret) if secret else {}
    if secret:
        form.pop("client_id")
    return h.http.post("/connect/token", data=form, headers=headers)
