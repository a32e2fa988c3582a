"""`/admin/api/v1/keys`: an operator lists and rotates the signing keys; the audit trail names
who rotated them."""

from __future__ import annotations

from idplus.models import SIGNING_ALGORITHMS
from tests.harness import Harness
from tests.web.admin_api.conftest import API, OPERATOR, bearer


def test_an_operator_lists_the_signing_keys(harness: Harness, operator_token: str) -> None:
    response = harness.http.get(f"{API}/keys", headers=bearer(operator_token))

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    items = response.json()["items"]
    assert sorted(k["alg"] for k in items) == sorted(SIGNING_ALGORITHMS)
    assert {k["state"] for k in items} == {"signing"}
    assert not any("pem" in name or "private" in name for k in items for name in k)


def test_an_operator_rotates_one_algorithm_and_is_named_in_the_audit_trail(
    harness: Harness, operator_token: str
) -> None:
    response = harness.http.post(
        f"{API}/keys/rotate", json={"alg": "ES256"}, headers=bearer(operator_token)
    )

    assert response.status_code == 201, response.text
    (rotated,) = response.json()["rotated"]
    assert rotated["alg"] == "ES256"
    listed = harness.http.get(f"{API}/keys", headers=bearer(operator_token)).json()["items"]
    assert {(k["kid"], k["state"]) for k in listed if k["alg"] == "ES256"} >= {
        (rotated["kid"], "next")
    }
    (event,) = harness.audit_events("key.rotated")
    assert event.detail["actor"] == f"client:{OPERATOR}"


def test_rotating_every_algorithm_without_a_body_member(
    harness: Harness, operator_token: str
) -> None:
    response = harness.http.post(f"{API}/keys/rotate", json={}, headers=bearer(operator_token))
    assert response.status_code == 201, response.text
    assert sorted(k["alg"] for k in response.json()["rotated"]) == sorted(SIGNING_ALGORITHMS)


def test_bad_bodies_get_invalid_request(harness: Harness, operator_token: str) -> None:
    headers = bearer(operator_token)
    for body in ({"alg": "HS256"}, {"alg": "ES256", "extra": 1}, []):
        response = harness.http.post(f"{API}/keys/rotate", json=body, headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["error"] == "invalid_request"
    not_json = harness.http.post(f"{API}/keys/rotate", content=b"alg=ES256", headers=headers)
    assert not_json.status_code == 400
    assert "JSON" in not_json.json()["error_description"]
