"""GET|POST /connect/userinfo: claims by scope, RFC 6750 token transport and errors."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.harness import Harness, code_from_login, exchange_code


@pytest.fixture
def tokens(harness: Harness) -> dict[str, str]:
    harness.add_client("spa", scopes=["openid", "profile", "email", "phone", "account.profiles"])
    harness.add_user(
        email="kari@example.no",
        given_name="Kari",
        family_name="Nordmann",
        birthdate="1990-05-17",
        tnuids=["t1", "t2"],
    )
    code = code_from_login(harness, scope="openid profile email")
    body: dict[str, str] = exchange_code(harness, code).json()
    return body


def _get(h: Harness, token: str) -> object:
    return h.http.get("/connect/userinfo", headers={"Authorization": f"Bearer {token}"})


def test_claims_follow_the_scopes(harness: Harness, tokens: dict[str, str]) -> None:
    response = harness.http.get(
        "/connect/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    claims = response.json()
    assert claims["email"] == "kari@example.no"
    assert claims["given_name"] == "Kari"
    assert claims["birthdate"] == "1990-05-17"
    assert {"sub", "kurtid", "analytics_uuid"} <= set(claims)
    assert "phone_number" not in claims
    assert "profiles" not in claims


def test_post_with_the_token_in_the_body(harness: Harness, tokens: dict[str, str]) -> None:
    response = harness.http.post("/connect/userinfo", data={"access_token": tokens["access_token"]})
    assert response.status_code == 200
    assert response.json()["email"] == "kari@example.no"


def test_missing_token_gets_bare_bearer_and_dpop_challenges(
    harness: Harness, tokens: dict[str, str]
) -> None:
    """RFC 6750 §3.1 (no error code without credentials) and RFC 9449 §7.2 (both schemes)."""
    response = harness.http.get("/connect/userinfo")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == (
        'Bearer realm="idplus", DPoP algs="ES256 PS256 RS256"'
    )


@pytest.mark.parametrize("token", ["not-a-jwt", "a.b.c"])
def test_bad_token_is_invalid_token(harness: Harness, tokens: dict[str, str], token: str) -> None:
    response = harness.http.get("/connect/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert response.json()["error"] == "invalid_token"


def test_expired_token_is_invalid_token(harness: Harness, tokens: dict[str, str]) -> None:
    harness.clock.advance(timedelta(seconds=3601))
    response = harness.http.get(
        "/connect/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert response.status_code == 401


def test_id_token_is_not_an_access_token(harness: Harness, tokens: dict[str, str]) -> None:
    response = harness.http.get(
        "/connect/userinfo", headers={"Authorization": f"Bearer {tokens['id_token']}"}
    )
    assert response.status_code == 401
