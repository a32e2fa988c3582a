"""`/admin/api/v1/api-products`: an operator lists, creates and reads the gateway's API products
(`api:` scopes), as `idplus api-product` does; only an `idplus:admin` token opens them."""

from __future__ import annotations

from typing import Any

import pytest

from idplus.config import Settings
from idplus.web.admin_api.operations import encode_cursor
from tests.harness import Harness
from tests.web.admin_api.conftest import API, OPERATOR, bearer, user_login_token

PRODUCTS = f"{API}/api-products"
DEVELOPER = "+4791000001"


@pytest.fixture
def settings(settings: Settings, database_url: str) -> Settings:
    """Both databases: products are rows, and their order must not follow a collation."""
    return settings.model_copy(update={"database_url": database_url})


def _create(h: Harness, token: str, body: Any) -> Any:
    return h.http.post(PRODUCTS, json=body, headers=bearer(token))


def _list(h: Harness, token: str, **params: Any) -> dict[str, Any]:
    response = h.http.get(PRODUCTS, params=params, headers=bearer(token))
    assert response.status_code == 200, response.text
    listed: dict[str, Any] = response.json()
    return listed


OPERATIONS = [
    ("GET", PRODUCTS, None),
    ("POST", PRODUCTS, {"scope": "api:tv"}),
    ("GET", f"{PRODUCTS}/api:tv", None),
]


# --- who may call them ----------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_without_a_token_every_operation_is_401(
    harness: Harness, method: str, path: str, body: Any
) -> None:
    response = harness.http.request(method, path, json=body)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer ")
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize("token_of", ["user_token", "service_token"])
@pytest.mark.parametrize(("method", "path", "body"), OPERATIONS)
def test_tokens_without_the_admin_scope_are_403_and_change_nothing(
    harness: Harness,
    request: pytest.FixtureRequest,
    token_of: str,
    method: str,
    path: str,
    body: Any,
) -> None:
    token = request.getfixturevalue(token_of)

    response = harness.http.request(method, path, json=body, headers=bearer(token))

    assert response.status_code == 403
    assert 'error="insufficient_scope"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "insufficient_scope"
    assert [e.detail["scope"] for e in harness.audit_events("api_product.changed")] in (
        [],
        ["api:plain-service"],  # the service token's own product, made by the test
    )


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
def test_a_developer_lists_the_products_but_not_who_subscribes_and_creates_none(
    harness: Harness, operator_token: str
) -> None:
    """What a portal's developer needs to ask for a product — its scope and name — and not
    which other companies' apps use it."""
    harness.add_client("tv-app", client_type="Confidential", grant_types=["client_credentials"],
                       api_access=True)  # fmt: skip
    store = harness.store()
    try:
        from idplus.manage.api_products import add_api_product

        add_api_product(store, harness.clock, "api:tv", ["tv-app"])
    finally:
        store.dispose()
    harness.add_user(DEVELOPER)
    token = user_login_token(harness, DEVELOPER)

    (listed,) = _list(harness, token)["items"]
    one = harness.http.get(f"{PRODUCTS}/api:tv", headers=bearer(token)).json()
    created = _create(harness, token, {"scope": "api:radio"})

    assert (listed["scope"], listed["client_ids"]) == ("api:tv", [])
    assert one["client_ids"] == []
    assert _list(harness, operator_token)["items"][0]["client_ids"] == ["tv-app"]
    assert created.status_code == 403
    assert created.json()["error"] == "insufficient_scope"


# --- create and read ------------------------------------------------------------------------


def test_an_operator_creates_a_product_and_reads_it_back(
    harness: Harness, operator_token: str
) -> None:
    response = _create(harness, operator_token, {"scope": "api:tv", "name": "TV API"})

    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert created == {
        "scope": "api:tv",
        "name": "TV API",
        "client_ids": [],
        "created_at": harness.clock.now().isoformat().replace("+00:00", "Z"),
    }
    for path in (f"{PRODUCTS}/api:tv", f"{PRODUCTS}/api%3Atv"):
        read = harness.http.get(path, headers=bearer(operator_token))
        assert read.status_code == 200, read.text
        assert read.json() == created
    assert _list(harness, operator_token) == {"items": [created], "next_cursor": None}


def test_the_name_defaults_to_the_scope_s_name(harness: Harness, operator_token: str) -> None:
    response = _create(harness, operator_token, {"scope": "api:mobile-product-v2"})

    assert response.status_code == 201, response.text
    assert response.json()["name"] == "mobile-product-v2"


def test_the_audit_trail_names_the_operator_who_created_it(
    harness: Harness, operator_token: str
) -> None:
    assert _create(harness, operator_token, {"scope": "api:tv"}).status_code == 201

    (event,) = harness.audit_events("api_product.changed")

    assert event.detail == {
        "scope": "api:tv",
        "created": True,
        "subscribed": [],
        "actor": f"client:{OPERATOR}",
    }


def test_creating_an_existing_scope_is_409_and_changes_nothing(
    harness: Harness, operator_token: str
) -> None:
    assert _create(harness, operator_token, {"scope": "api:tv", "name": "TV"}).status_code == 201

    again = _create(harness, operator_token, {"scope": "api:tv", "name": "Television"})

    assert again.status_code == 409
    assert again.json() == {
        "error": "conflict",
        "error_description": "API product api:tv already exists",
    }
    read = harness.http.get(f"{PRODUCTS}/api:tv", headers=bearer(operator_token))
    assert read.json()["name"] == "TV"
    assert len(harness.audit_events("api_product.changed")) == 1


def test_an_unknown_product_is_404(harness: Harness, operator_token: str) -> None:
    response = harness.http.get(f"{PRODUCTS}/api:nothing", headers=bearer(operator_token))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"scope": "tv"}, "scope: "),
        ({"scope": "api:TV"}, "scope: "),
        ({"scope": "api:tv\n"}, "scope: "),
        ({"scope": "api:"}, "scope: "),
        ({"scope": 7}, "scope: "),
        ({}, "scope: "),
        ({"scope": "api:tv", "name": ""}, "name: "),
        ({"scope": "api:tv", "name": "x" * 201}, "name: "),
        ({"scope": "api:tv", "name": "TV\nAPI"}, "an API product's name is"),
        ({"scope": "api:tv", "name": "   "}, "an API product's name is"),
        ({"scope": "api:tv", "client_ids": ["partner"]}, "client_ids: "),
        ([], "body: "),
    ],
)
def test_bad_bodies_are_400_and_create_nothing(
    harness: Harness, operator_token: str, body: Any, problem: str
) -> None:
    response = _create(harness, operator_token, body)

    assert response.status_code == 400, response.text
    refused = response.json()
    assert refused["error"] == "invalid_request"
    assert refused["error_description"].startswith(problem)
    assert _list(harness, operator_token)["items"] == []


# --- listing and paging ---------------------------------------------------------------------

# Punctuation sorts differently under a database collation: the order is by code point.
SCOPES = ["api:a-b", "api:a.c", "api:a0", "api:a_b", "api:ab", "api:b", "api:tv"]


def test_paging_walks_every_product_once_by_scope(harness: Harness, operator_token: str) -> None:
    for scope in reversed(SCOPES):
        assert _create(harness, operator_token, {"scope": scope}).status_code == 201

    walked: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = _list(harness, operator_token, **params)
        assert len(page["items"]) <= 3
        walked += [item["scope"] for item in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]

    assert walked == sorted(SCOPES)
    assert [item["scope"] for item in _list(harness, operator_token)["items"]] == walked


def test_a_full_last_page_says_there_is_no_next_one(harness: Harness, operator_token: str) -> None:
    for scope in ("api:a", "api:b"):
        assert _create(harness, operator_token, {"scope": scope}).status_code == 201

    assert _list(harness, operator_token, limit=2)["next_cursor"] is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # no SQL involved
@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "***"}, "cursor"),
        ({"cursor": encode_cursor("tv")}, "cursor"),
        ({"cursor": encode_cursor("api:tv\n")}, "cursor"),
        ({"page": "2"}, "page"),
    ],
)
def test_bad_list_queries_are_400(
    harness: Harness, operator_token: str, query: dict[str, str], problem: str
) -> None:
    response = harness.http.get(PRODUCTS, params=query, headers=bearer(operator_token))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith(f"{problem}: ")
