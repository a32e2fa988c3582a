"""`/admin/api/v1/openapi.json`: a valid OpenAPI 3.1 document, open to anyone, that lists every
operation the API serves and describes what they answer."""

from __future__ import annotations

from typing import Any

from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from starlette.routing import Route

from idplus.web.admin_api import OPENAPI_PATH, OPERATIONS, ROUTES
from tests.harness import Harness
from tests.web.admin_api.conftest import API, bearer


def _document(harness: Harness) -> dict[str, Any]:
    response = harness.http.get(OPENAPI_PATH)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    document: dict[str, Any] = response.json()
    return document


def test_the_document_needs_no_token_and_passes_a_standard_validator(harness: Harness) -> None:
    document = _document(harness)

    validate(document)  # raises on any violation of the OpenAPI 3.1 schema
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": harness.settings.issuer}]


def test_every_operation_has_a_unique_operation_id(harness: Harness) -> None:
    operations = [entry for path in _document(harness)["paths"].values() for entry in path.values()]

    ids = [entry.get("operationId") for entry in operations]
    assert all(ids), ids
    assert len(set(ids)) == len(ids) == len(OPERATIONS)


def test_the_document_lists_every_route_the_api_serves(harness: Harness) -> None:
    paths = _document(harness)["paths"]

    served = {
        (route.path, method.lower())
        for route in ROUTES
        if isinstance(route, Route) and route.path != OPENAPI_PATH
        for method in route.methods or ()
        if method != "HEAD"  # Starlette adds it to every GET
    }
    documented = {(path, method) for path, entries in paths.items() for method in entries}
    assert served == documented


def _schema_validator(document: dict[str, Any], status: str, path: str, method: str) -> Any:
    """A JSON Schema validator for one documented answer, its $refs resolved in the document."""
    answer = document["paths"][path][method]["responses"][status]
    schema = answer["content"]["application/json"]["schema"]
    return OAS31Validator({**schema, "components": document["components"]})


def test_the_clients_answers_match_their_documented_schemas(
    harness: Harness, operator_token: str
) -> None:
    document = _document(harness)
    headers = bearer(operator_token)
    created = harness.http.post(
        f"{API}/clients",
        json={"client_id": "shop", "client_type": "Confidential", "redirect_uris": []},
        headers=headers,
    )
    listed = harness.http.get(f"{API}/clients", params={"limit": 1}, headers=headers)
    shown = harness.http.get(f"{API}/clients/shop", headers=headers)
    missing = harness.http.get(f"{API}/clients/nobody", headers=headers)

    one = f"{API}/clients/{{client_id}}"
    for response, path, method in (
        (created, f"{API}/clients", "post"),
        (listed, f"{API}/clients", "get"),
        (shown, one, "get"),
        (missing, one, "get"),
    ):
        status = str(response.status_code)
        _schema_validator(document, status, path, method).validate(response.json())
    assert listed.json()["next_cursor"] is not None
