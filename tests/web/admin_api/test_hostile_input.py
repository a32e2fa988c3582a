"""What a hostile review of the admin API found: each a 4xx (never a 5xx) on both databases,
and no token coming back to life when a removed client's id is registered again."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from idplus.config import Settings
from idplus.errors import ValidationError
from idplus.policies import ADMIN_SCOPE
from tests.harness import Harness, basic, code_from_login, exchange_code
from tests.web.admin_api.conftest import (
    API,
    OPERATOR,
    OPERATOR_SECRET,
    bearer,
    client_credentials_token,
)


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: PostgreSQL refuses what SQLite stores (NUL), and races differently."""
    return settings.model_copy(update={"database_url": database_url})


def _register_operator(h: Harness, client_id: str = OPERATOR) -> None:
    h.add_client(client_id, client_type="Confidential", secret=OPERATOR_SECRET,
                 scopes=[ADMIN_SCOPE], grant_types=["client_credentials"])  # fmt: skip


def test_a_removed_operators_token_stays_dead_when_its_id_is_registered_again(
    harness: Harness, operator_token: str
) -> None:
    _register_operator(harness, "ops-2")
    other = client_credentials_token(harness, "ops-2", OPERATOR_SECRET, ADMIN_SCOPE)
    assert (
        harness.http.delete(f"{API}/clients/{OPERATOR}", headers=bearer(other)).status_code == 204
    )
    harness.clock.advance(timedelta(seconds=10))
    _register_operator(harness)

    response = harness.http.get(f"{API}/keys", headers=bearer(operator_token))

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_a_removed_clients_tokens_stay_inactive_when_its_id_is_registered_again(
    harness: Harness, operator_token: str
) -> None:
    harness.add_client("spa")
    harness.add_user()
    token = exchange_code(harness, code_from_login(harness)).json()["access_token"]
    assert (
        harness.http.delete(f"{API}/clients/spa", headers=bearer(operator_token)).status_code == 204
    )
    harness.clock.advance(timedelta(seconds=10))
    harness.add_client("spa")

    answer = harness.http.post(
        "/connect/introspect", data={"token": token}, headers=basic(OPERATOR, OPERATOR_SECRET)
    )

    assert answer.json() == {"active": False}


def test_concurrent_registrations_of_one_id_make_one_client(harness: Harness) -> None:
    def register(_: int) -> str:
        try:
            harness.add_client("twin", client_type="Confidential")
        except ValidationError:
            return "refused"
        return "registered"

    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = sorted(pool.map(register, range(6)))

    assert outcomes == ["refused"] * 5 + ["registered"]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/clients", {"client_id": "app", "client_type": "Public", "name": "a\u0000b"}),
        ("POST", "/clients", {"client_id": "app", "client_type": "Public", "name": "two\nlines"}),
        ("POST", "/clients", {"client_id": "app", "client_type": "Public", "name": "x" * 201}),
        ("POST", "/clients", {"client_id": "evil\n", "client_type": "Public"}),
        ("GET", "/clients/a%00b", None),
        ("GET", "/api-products/api:a%00b", None),
        ("GET", "/audit?actor=a%00b", None),
        ("GET", "/audit?cursor=OTk5OTk5OTk5OTk5OTk5OTk5OQ", None),
        ("GET", "/audit?since=0001-01-01T00:00%2B14:00", None),
        ("GET", "/audit?since=9999-12-31T23:59-14:00", None),
        ("POST", "/clients", {"client_id": "app", "client_type": "Public", "name": "a\u2028b"}),
        # A parameter the operation does not take is refused, not ignored.
        ("GET", "/clients/ops-console?fields=secret", None),
        ("GET", "/keys?alg=ES256", None),
        ("POST", "/keys/rotate?alg=ES256", {}),
    ],
)
def test_odd_input_is_a_400_never_a_5xx(
    harness: Harness, operator_token: str, method: str, path: str, body: object
) -> None:
    response = harness.http.request(
        method, f"{API}{path}", json=body, headers=bearer(operator_token)
    )

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"


def test_the_last_operator_client_cannot_be_removed(harness: Harness, operator_token: str) -> None:
    """Issue 20 item 4: otherwise nobody could reach the API until someone used the CLI."""
    response = harness.http.delete(f"{API}/clients/{OPERATOR}", headers=bearer(operator_token))

    assert response.status_code == 409
    assert "last" in response.json()["error_description"]
    _register_operator(harness, "ops-2")
    assert (
        harness.http.delete(f"{API}/clients/{OPERATOR}", headers=bearer(operator_token)).status_code
        == 204
    )


def test_another_method_on_an_api_path_is_a_json_405(harness: Harness, operator_token: str) -> None:
    response = harness.http.put(f"{API}/keys", headers=bearer(operator_token))

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"
    assert "GET" in response.headers["allow"]


def test_a_new_clients_first_tokens_are_not_taken_for_older_ones(
    harness: Harness, operator_token: str
) -> None:
    """An instance whose clock runs a little behind the one that registered the client."""
    harness.add_client("spa")
    harness.add_user()
    harness.clock.advance(timedelta(seconds=-3))
    token = exchange_code(harness, code_from_login(harness)).json()["access_token"]

    answer = harness.http.post(
        "/connect/introspect", data={"token": token}, headers=basic(OPERATOR, OPERATOR_SECRET)
    )

    assert answer.json()["active"] is True
