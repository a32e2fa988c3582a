"""Who may call the admin API: only an access token with the idplus:admin scope, which only a
Confidential client-credentials client can hold. Anything else is refused as RFC 6750 §3.1
says — 401 without a (valid) token, 403 with one that lacks the scope — and changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from idplus.config import Settings
from idplus.errors import ValidationError
from idplus.manage.clients import list_clients
from idplus.policies import ADMIN_SCOPE
from tests.harness import Harness, basic, code_from_login, exchange_code
from tests.web.admin_api.conftest import (
    API,
    OPERATOR,
    OPERATOR_SECRET,
    bearer,
    client_credentials_token,
)

# One read and one write: a refused write must leave the registry as it was.
NEW_CLIENT = {"client_id": "intruder", "client_type": "Confidential"}
OPERATIONS = [
    pytest.param("GET", f"{API}/clients", None, id="read"),
    pytest.param("POST", f"{API}/clients", NEW_CLIENT, id="write"),
]


# Who may call is decided before any SQL of the operation: SQLite is enough here.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Revocations and the registry are in the store; the checks here are not SQL, so SQLite
    (test_hostile_input and the clients' tests run the store parts on both)."""
    return settings.model_copy(update={"database_url": database_url})


def _call(h: Harness, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return h.http.request(method, path, json=body, headers=headers)


def _registered(h: Harness) -> set[str]:
    store = h.store()
    try:
        return {c.client_id for c in list_clients(store)}
    finally:
        store.dispose()


def _assert_refused(h: Harness, response: Any, status: int, error: str | None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) <= {"error", "error_description"}
    assert body["error_description"]
    if error is not None:
        assert body["error"] == error
        assert f'error="{error}"' in response.headers["www-authenticate"]
    assert "intruder" not in _registered(h)


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_no_token_is_401_with_a_bearer_challenge(
    harness: Harness, method: str, path: str, body: Any
) -> None:
    response = _call(harness, method, path, body, {})
    _assert_refused(harness, response, 401, None)
    assert response.json()["error"]


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_a_garbage_token_is_401_invalid_token(
    harness: Harness, method: str, path: str, body: Any
) -> None:
    response = _call(harness, method, path, body, bearer("not.a.token"))
    _assert_refused(harness, response, 401, "invalid_token")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_a_client_token_without_the_admin_scope_is_403(
    harness: Harness, method: str, path: str, body: Any
) -> None:
    harness.add_api_products("api:tv")
    secret = harness.add_client("svc", client_type="Confidential", secret=OPERATOR_SECRET,
                                grant_types=["client_credentials"], scopes=["api:tv"],
                                api_access=True)  # fmt: skip
    assert secret is not None
    token = client_credentials_token(harness, "svc", secret, "api:tv")

    response = _call(harness, method, path, body, bearer(token))
    _assert_refused(harness, response, 403, "insufficient_scope")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_a_users_token_is_403(harness: Harness, method: str, path: str, body: Any) -> None:
    harness.add_client("spa")
    harness.add_user()
    answer = exchange_code(harness, code_from_login(harness)).json()

    response = _call(harness, method, path, body, bearer(answer["access_token"]))
    _assert_refused(harness, response, 403, "insufficient_scope")


@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_a_revoked_operator_token_is_401(
    harness: Harness, operator_token: str, method: str, path: str, body: Any
) -> None:
    assert harness.http.get(f"{API}/clients", headers=bearer(operator_token)).status_code == 200
    revoked = harness.http.post(
        "/connect/revocation",
        data={"token": operator_token},
        headers=basic(OPERATOR, OPERATOR_SECRET),
    )
    assert revoked.status_code == 200

    response = _call(harness, method, path, body, bearer(operator_token))
    _assert_refused(harness, response, 401, "invalid_token")


@pytest.mark.parametrize(
    ("fields", "refusal"),
    [
        pytest.param({"client_type": "Public"}, "is for Confidential clients", id="public"),
        pytest.param(
            {"client_type": "Confidential", "grant_types": ["client_credentials",
                                                            "authorization_code"]},
            "needs --grant-type client_credentials and no other grant",
            id="with-authorization-code",
        ),
        pytest.param(
            {"client_type": "Confidential"},
            "needs --grant-type client_credentials and no other grant",
            id="default-grants",
        ),
    ],
)  # fmt: skip
def test_registration_refuses_the_admin_scope_to_clients_a_user_logs_in_through(
    harness: Harness, operator_token: str, fields: dict[str, Any], refusal: str
) -> None:
    """A token a user's login gave must never carry idplus:admin: only a back end that
    authenticates itself (client_credentials) may hold it."""
    body = {"client_id": "console", "scopes": [ADMIN_SCOPE], **fields}
    response = harness.http.post(f"{API}/clients", json=body, headers=bearer(operator_token))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert refusal in response.json()["error_description"]
    with pytest.raises(ValidationError, match=refusal):
        harness.add_client("console", scopes=[ADMIN_SCOPE], **fields)
    assert "console" not in _registered(harness)


def test_the_token_of_a_removed_operator_client_opens_nothing(
    harness: Harness, operator_token: str
) -> None:
    harness.add_client("ops-2", client_type="Confidential", secret=OPERATOR_SECRET,
                       scopes=[ADMIN_SCOPE], grant_types=["client_credentials"])  # fmt: skip
    other = client_credentials_token(harness, "ops-2", OPERATOR_SECRET, ADMIN_SCOPE)
    removed = harness.http.delete(f"{API}/clients/{OPERATOR}", headers=bearer(other))
    assert removed.status_code == 204

    response = harness.http.get(f"{API}/clients", headers=bearer(operator_token))
    assert response.status_code == 401
