"""Users' tokens at the admin API: a developer's portal login opens only what developers may
do; the console's tokens open the API to operators (users given the operator role) only; a
locked user's or an ended session's token opens nothing from that moment on."""

from __future__ import annotations

from typing import Any

import pytest

from idplus.config import Settings
from idplus.models import User
from idplus.policies import CONSOLE_CLIENT_ID, OPERATOR_ROLE
from tests.harness import Harness
from tests.web.admin_api.conftest import API, bearer, make_operator, user_login_token

# Who may call is decided before any SQL of the operation: SQLite is enough here.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

DEVELOPER = "+4791000001"
OPERATOR_USER = "+4791000002"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


def _operator_console_token(h: Harness) -> tuple[str, User]:
    """An operator user logged in at the console, and their stored user."""
    h.add_user(OPERATOR_USER)
    make_operator(h, OPERATOR_USER)
    return user_login_token(h, OPERATOR_USER, CONSOLE_CLIENT_ID), h.user(OPERATOR_USER)


def _clients(h: Harness, token: str) -> Any:
    return h.http.get(f"{API}/clients", headers=bearer(token))


def test_a_developers_portal_token_does_not_open_operator_resources(harness: Harness) -> None:
    harness.add_user(DEVELOPER)
    token = user_login_token(harness, DEVELOPER)
    response = _clients(harness, token)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_the_console_opens_the_api_to_an_operator_user(harness: Harness) -> None:
    token, _ = _operator_console_token(harness)
    response = _clients(harness, token)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"


def test_the_console_refuses_a_user_who_is_not_an_operator(harness: Harness) -> None:
    harness.add_user(DEVELOPER)
    token = user_login_token(harness, DEVELOPER, CONSOLE_CLIENT_ID)
    response = _clients(harness, token)
    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"


def test_a_withdrawn_operator_role_opens_nothing_at_once(harness: Harness) -> None:
    token, user = _operator_console_token(harness)
    store = harness.store()
    try:
        with store.transaction() as uow:
            uow.users.revoke_role(user.id, OPERATOR_ROLE)
    finally:
        store.dispose()
    assert _clients(harness, token).status_code == 403


def test_a_locked_users_token_is_refused_at_once(harness: Harness) -> None:
    token, user = _operator_console_token(harness)
    store = harness.store()
    try:
        with store.transaction() as uow:
            uow.users.set_disabled(user.id, harness.clock.now(), harness.clock.now())
    finally:
        store.dispose()
    response = _clients(harness, token)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"


def test_an_ended_sessions_token_is_refused(harness: Harness) -> None:
    token, user = _operator_console_token(harness)
    store = harness.store()
    try:
        with store.transaction() as uow:
            for session in uow.sessions.active_of_user(user.id, harness.clock.now()):
                uow.sessions.end(session.id, harness.clock.now())
    finally:
        store.dispose()
    assert _clients(harness, token).status_code == 401


def test_another_clients_user_token_opens_nothing(harness: Harness, user_token: str) -> None:
    response = _clients(harness, user_token)
    assert response.status_code == 403


def test_an_operators_portal_token_is_a_developers(harness: Harness) -> None:
    """A token for scripts from the portal never carries an operator's power: only the
    console's do."""
    harness.add_user(OPERATOR_USER)
    make_operator(harness, OPERATOR_USER)
    token = user_login_token(harness, OPERATOR_USER)
    for path in ("/clients", "/users", "/audit", "/keys"):
        response = harness.http.get(f"{API}{path}", headers=bearer(token))
        assert response.status_code == 403, (path, response.text)
        assert response.json()["error"] == "insufficient_scope"
    created = harness.http.post(f"{API}/companies", json={"name": "Acme"}, headers=bearer(token))
    assert created.status_code == 201, created.text
    company_id = created.json()["id"]
    assert harness.http.get(f"{API}/companies", headers=bearer(token)).json()["items"] == [
        created.json()
    ]
    assert (
        harness.http.get(f"{API}/companies/{company_id}", headers=bearer(token)).status_code == 200
    )
