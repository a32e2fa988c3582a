"""An operator for the admin API's tests: a client registered with `idplus:admin`, and the
access token client_credentials gives it."""

from __future__ import annotations

import pytest

from idplus.policies import ADMIN_SCOPE, OPERATOR_ROLE, PORTAL_CLIENT_ID, PORTAL_SCOPE
from tests.harness import Harness, basic

OPERATOR = "ops-console"
OPERATOR_SECRET = "ops-console-secret-0123456789"
API = "/admin/api/v1"


def client_credentials_token(h: Harness, client_id: str, secret: str, scope: str) -> str:
    response = h.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers=basic(client_id, secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def operator_token(harness: Harness) -> str:
    harness.add_client(OPERATOR, client_type="Confidential", secret=OPERATOR_SECRET,
                       scopes=[ADMIN_SCOPE], grant_types=["client_credentials"])  # fmt: skip
    return client_credentials_token(harness, OPERATOR, OPERATOR_SECRET, ADMIN_SCOPE)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def user_token(harness: Harness) -> str:
    """A user's access token from a public client's login: it opens nothing here."""
    from tests.harness import code_from_login, exchange_code

    harness.add_client("spa")
    harness.add_user()
    response = exchange_code(harness, code_from_login(harness))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def service_token(harness: Harness) -> str:
    """A client_credentials token for an `api:` product, without idplus:admin: it opens nothing
    here."""
    from idplus.manage.api_products import add_api_product

    secret = "plain-service-secret-0123456789"
    harness.add_client("plain-service", client_type="Confidential", secret=secret,
                       grant_types=["client_credentials"], api_access=True)  # fmt: skip
    store = harness.store()
    try:
        add_api_product(store, harness.clock, "api:plain-service", ["plain-service"])
    finally:
        store.dispose()
    return client_credentials_token(harness, "plain-service", secret, "api:plain-service")


def user_login_token(h: Harness, username: str, client_id: str = PORTAL_CLIENT_ID) -> str:
    """A user's admin API token, the way a developer gets one: log in at the built-in portal
    (or console) client — authorization code + PKCE back to its callback page — and redeem the
    code. The user must exist (`h.add_user(username)`); each call logs in afresh."""
    from urllib.parse import parse_qs, urlsplit

    from tests.flows.forms import FormBrowser
    from tests.harness import exchange_code

    page, scope = (
        ("portal", PORTAL_SCOPE) if client_id == PORTAL_CLIENT_ID else ("admin", ADMIN_SCOPE)
    )
    callback = f"{h.settings.issuer}/{page}/callback"
    h.http.cookies.clear()  # another user's SSO session would answer for them
    browser = FormBrowser(h.http, callback)
    browser.get(h.authorize_url(client_id, redirect_uri=callback, scope=f"openid {scope}"))
    answer = h.login(browser, username)
    # The built-in client's own callback, not the harness's relying party (redirect_params).
    assert answer.status_code in (302, 303), answer.text[:500]
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == callback
    code = parse_qs(location.query)["code"][0]
    h.http.cookies.clear()
    response = exchange_code(h, code, client_id, redirect_uri=callback)
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def make_operator(h: Harness, username: str) -> None:
    """Give an existing user the operator role (what `idplus user grant-role U operator` does)."""
    user = h.user(username)
    store = h.store()
    try:
        with store.transaction() as uow:
            uow.users.grant_role(user.id, OPERATOR_ROLE, h.clock.now())
    finally:
        store.dispose()
