"""POST /connect/token: client authentication, the grants, and the RFC 6749 §5.2 errors."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from structlog.testing import capture_logs

from tests.harness import (
    CALLBACK,
    Harness,
    basic,
    code_from_login,
    exchange_code,
)


@pytest.fixture
def spa(harness: Harness) -> Harness:
    harness.add_client("spa", scopes=["openid", "profile", "tnn.ids"])
    harness.add_user(given_name="Kari", family_name="Nordmann", ial=2)
    return harness


def _jwks(h: Harness) -> KeySet:
    return KeySet.import_key_set(h.http.get("/.well-known/jwks.json").json())


def test_code_exchange_returns_tokens_that_verify_against_the_jwks(spa: Harness) -> None:
    code = code_from_login(spa, nonce="n-0S6", scope="openid profile tnn.ids")
    response = exchange_code(spa, code)

    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "openid profile tnn.ids"
    assert "refresh_token" not in body  # Public: NoRefresh

    access = jwt.decode(body["access_token"], _jwks(spa))
    assert access.header["typ"] == "at+jwt"
    claims = access.claims
    assert claims["iss"] == spa.settings.issuer
    assert claims["client_id"] == "spa"
    assert claims["scope"] == ["openid", "profile", "tnn.ids"]
    assert claims["exp"] - claims["iat"] == 3600
    assert claims["amr"] == ["urn:telenor.identity.amr.td_pwd"]
    assert claims["acr"] == "urn:telenor.identity.aal.1"
    assert claims["idp"] == "local"
    assert claims["sid"] == claims["ibis.sid"]
    assert claims["kurtid"]
    assert claims["tnuid"]
    assert {"jti", "nbf", "auth_time", "sub"} <= set(claims)

    id_token = jwt.decode(body["id_token"], _jwks(spa))
    assert id_token.header["typ"] == "JWT"
    idc = id_token.claims
    assert idc["aud"] == "spa"
    assert idc["sub"] == claims["sub"]
    assert idc["nonce"] == "n-0S6"
    assert idc["preferred_username"] == "+4790000001"
    assert idc["given_name"] == "Kari"
    assert idc["family_name"] == "Nordmann"
    assert idc["ial"] == "telenor.identity.ial2"
    assert idc["sid"] == claims["sid"]
    assert {"at_hash", "auth_time", "analytics_uuid", "iat", "nbf", "exp"} <= set(idc)


def test_sub_is_pairwise_stable_per_client_and_different_between_clients(
    spa: Harness,
) -> None:
    spa.add_client("other", silent_sso=True)
    first = exchange_code(spa, code_from_login(spa)).json()
    again = exchange_code(spa, code_from_login(spa, prompt="login")).json()
    other = exchange_code(spa, code_from_login(spa, "other"), "other").json()
    jwks = _jwks(spa)

    def sub(body: dict[str, str]) -> str:
        return str(jwt.decode(body["id_token"], jwks).claims["sub"])

    assert sub(first) == sub(again)
    assert sub(first) != sub(other)


def test_a_code_works_once_and_a_replay_revokes_what_it_issued(harness: Harness) -> None:
    secret = harness.add_client("bff", client_type="Confidential")
    assert secret is not None
    harness.add_user()
    code = code_from_login(harness, "bff", scope="openid offline_access", code_challenge="",
                           code_challenge_method="")  # fmt: skip
    first = exchange_code(harness, code, "bff", secret, code_verifier="").json()
    replay = exchange_code(harness, code, "bff", secret, code_verifier="")
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"

    refreshed = harness.http.post(
        "/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": first["refresh_token"]},
        headers=basic("bff", secret),
    )
    assert refreshed.json()["error"] == "invalid_grant"
    userinfo = harness.http.get(
        "/connect/userinfo", headers={"Authorization": f"Bearer {first['access_token']}"}
    )
    assert userinfo.status_code == 401


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"redirect_uri": CALLBACK + "/other"}, "redirect_uri"),
        ({"redirect_uri": ""}, "redirect_uri"),
        ({"code_verifier": ""}, "code_verifier is required"),
        ({"code_verifier": "x" * 50}, "does not match"),
    ],
)
def test_bad_exchanges_are_invalid_grant_and_the_reason_is_only_logged(
    spa: Harness, overrides: dict[str, str], reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    response = exchange_code(spa, code_from_login(spa), **overrides)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "grant request is invalid",
    }
    logged = [line for line in capsys.readouterr().out.splitlines() if '"oauth_error"' in line]
    assert reason in logged[-1]
    assert '"request_id"' in logged[-1]


def test_an_unknown_code_is_invalid_grant(spa: Harness) -> None:
    response = exchange_code(spa, "not-a-code-we-issued")
    assert response.json()["error"] == "invalid_grant"


def test_an_expired_code_is_invalid_grant(spa: Harness) -> None:
    code = code_from_login(spa)
    spa.clock.advance(timedelta(seconds=61))
    assert exchange_code(spa, code).json()["error"] == "invalid_grant"


def test_another_clients_code_is_invalid_grant(spa: Harness) -> None:
    spa.add_client("other")
    code = code_from_login(spa)
    assert exchange_code(spa, code, "other").json()["error"] == "invalid_grant"


def test_basic_and_body_credentials_together_are_refused(harness: Harness) -> None:
    secret = harness.add_client(
        "bff", client_type="Confidential", grant_types=["client_credentials"]
    )
    assert secret is not None
    response = harness.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "client_secret": secret},
        headers=basic("bff", secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize(
    "headers",
    [
        basic("bff", "wrong-secret-of-some-length"),
        basic("nobody", "whatever-secret-value"),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
)
def test_failed_basic_authentication_is_401_with_a_challenge(
    harness: Harness, headers: dict[str, str]
) -> None:
    harness.add_client("bff", client_type="Confidential", grant_types=["client_credentials"])
    response = harness.http.post(
        "/connect/token", data={"grant_type": "client_credentials"}, headers=headers
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


def test_failed_body_authentication_is_invalid_client(harness: Harness) -> None:
    harness.add_client("bff", client_type="Confidential", grant_types=["client_credentials"])
    response = harness.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "client_id": "bff", "client_secret": "nope"},
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    missing = harness.http.post("/connect/token", data={"grant_type": "client_credentials"})
    assert missing.json()["error"] == "invalid_client"


def test_public_client_sending_a_secret_is_invalid_client(spa: Harness) -> None:
    response = spa.http.post(
        "/connect/token",
        data={"grant_type": "authorization_code", "client_id": "spa", "client_secret": "x" * 20},
    )
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize(
    ("grant_type", "error"),
    [
        (None, "invalid_request"),
        ("magic", "unsupported_grant_type"),
        ("client_credentials", "unauthorized_client"),
    ],
)
def test_grant_type_errors(spa: Harness, grant_type: str | None, error: str) -> None:
    data = {"client_id": "spa"}
    if grant_type:
        data["grant_type"] = grant_type
    response = spa.http.post("/connect/token", data=data)
    assert response.status_code == 400
    assert response.json()["error"] == error


def test_repeated_parameters_are_invalid_request(spa: Harness) -> None:
    response = spa.http.post(
        "/connect/token",
        content="grant_type=authorization_code&client_id=spa&code=a&code=b",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.json()["error"] == "invalid_request"


def test_json_body_is_invalid_request(spa: Harness) -> None:
    response = spa.http.post("/connect/token", json={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_client_credentials_gives_an_access_token_limited_to_the_clients_scopes(
    harness: Harness,
) -> None:
    harness.add_api_products("api:tv", "api:mobile", "api:other")
    secret = harness.add_client(
        "svc",
        client_type="Confidential",
        grant_types=["client_credentials"],
        scopes=["api:tv", "api:mobile"],
        api_access=True,
    )
    assert secret is not None
    answer = harness.http.post(
        "/connect/token", data={"grant_type": "client_credentials"}, headers=basic("svc", secret)
    ).json()
    assert answer["scope"] == "api:mobile api:tv"
    assert "id_token" not in answer
    assert "refresh_token" not in answer
    claims = jwt.decode(answer["access_token"], _jwks(harness)).claims
    assert claims["sub"] == "svc"
    assert claims["aud"] == ["api:mobile", "api:tv"]

    narrowed = harness.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "api:tv"},
        headers=basic("svc", secret),
    ).json()
    assert narrowed["scope"] == "api:tv"
    wider = harness.http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "scope": "api:other"},
        headers=basic("svc", secret),
    )
    assert wider.json()["error"] == "invalid_scope"


def test_client_credentials_with_a_rotated_secret(harness: Harness) -> None:
    from idplus.manage.clients import rotate_client_secret
    from idplus.store.sql.uow import SqlStore

    old = harness.add_client("svc", client_type="Confidential", grant_types=["client_credentials"])
    assert old is not None
    store = SqlStore.from_url(harness.settings.database_url)
    try:
        harness.clock.advance(timedelta(seconds=10))
        new = rotate_client_secret(store, harness.clock, "svc").client_secret
    finally:
        store.dispose()
    assert new is not None
    for secret in (old, new):
        response = harness.http.post(
            "/connect/token",
            data={"grant_type": "client_credentials"},
            headers=basic("svc", secret),
        )
        assert response.status_code == 200


def test_token_lifetimes_are_configurable_per_client(harness: Harness) -> None:
    harness.add_client("short", access_token_lifetime=600, id_token_lifetime=300)
    harness.add_user()
    body = exchange_code(harness, code_from_login(harness, "short"), "short").json()
    assert body["expires_in"] == 600
    access = jwt.decode(body["access_token"], _jwks(harness)).claims
    id_token = jwt.decode(body["id_token"], _jwks(harness)).claims
    assert access["exp"] - access["iat"] == 600
    assert id_token["exp"] - id_token["iat"] == 300


def test_a_code_burns_on_a_failed_redemption(spa: Harness) -> None:
    code = code_from_login(spa)
    wrong = exchange_code(spa, code, redirect_uri=CALLBACK + "/other")
    assert wrong.json()["error"] == "invalid_grant"
    assert exchange_code(spa, code).json()["error"] == "invalid_grant"


def test_the_password_grant_is_not_served_here(harness: Harness) -> None:
    """RFC 9700 §2.4: only the gateway front keeps the resource-owner password grant."""
    secret = harness.add_client("bff", client_type="Confidential", grant_types=["password"])
    assert secret is not None
    harness.add_user()
    response = harness.http.post(
        "/connect/token",
        data={"grant_type": "password", "username": "+4790000001", "password": "x"},
        headers=basic("bff", secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_a_refused_token_request_is_logged_with_its_grant_and_client(harness: Harness) -> None:
    """For the operator: which grant and which client (as claimed); never the secret."""
    harness.add_client("bff", client_type="Confidential", grant_types=["client_credentials"])
    basic = base64.b64encode(b"bff:not-the-secret").decode()
    with capture_logs() as logs:
        response = harness.http.post(
            "/connect/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        harness.http.post("/connect/token", data={"client_id": "spa"})
    assert response.status_code == 401
    first, second = [entry for entry in logs if entry["event"] == "token_refused"]
    assert (first["error"], first["grant_type"], first["client_id"]) == (
        "invalid_client",
        "client_credentials",
        "bff",
    )
    # No grant_type at all: logged as none, with the client id the body claims.
    assert (second["grant_type"], second["client_id"]) == (None, "spa")
    assert "not-the-secret" not in repr(logs)
