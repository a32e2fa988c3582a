"""The /oauth/v2 gateway front: tokens, logout, authorize, and every numbered error code."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from idplus.errors import GatewayError
from idplus.gateway import endpoints
from idplus.store.sql import gateway_tokens
from tests.harness import CALLBACK, PASSWORD, VERIFIER, Harness, basic, redirect_params

ALL_GRANTS = ["client_credentials", "password", "authorization_code", "refresh_token"]


@pytest.fixture
def partner(harness: Harness) -> tuple[Harness, str]:
    harness.add_api_products("api:tv", "api:radio")
    secret = harness.add_client("partner", client_type="Confidential", api_access=True,
                                grant_types=ALL_GRANTS, scopes=["openid", "api:tv"])  # fmt: skip
    assert secret is not None
    harness.add_user()
    return harness, secret


def _token(h: Harness, headers: dict[str, str], **form: str) -> Any:
    return h.http.post("/oauth/v2/token", data=form, headers=headers)


def _error(response: Any, status: int, code: int) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error_code"] == code
    assert body["error"]
    assert body["error_description"]


def test_client_credentials_then_logout_then_refused(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    answer = _token(h, basic("partner", secret), grant_type="client_credentials")
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 3599
    assert body["token_type"] == "Bearer"
    assert len(body["access_token"]) >= 43
    assert "refresh_token" not in body
    bearer = {"Authorization": f"Bearer {body['access_token']}"}

    logout = h.http.get("/oauth/v2/logout", headers=bearer)
    assert (logout.status_code, logout.text) == (200, "OK!")
    _error(h.http.get("/oauth/v2/logout", headers=bearer), 401, 2)


def test_introspection_answers_for_gateway_tokens(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    token = _token(h, basic("partner", secret), grant_type="client_credentials").json()
    seen = h.http.post("/connect/introspect", data={"token": token["access_token"]},
                       headers=basic("partner", secret)).json()  # fmt: skip
    assert seen["active"] is True
    assert seen["scope"] == "api:tv"
    h.http.get("/oauth/v2/logout", headers={"Authorization": f"Bearer {token['access_token']}"})
    gone = h.http.post("/connect/introspect", data={"token": token["access_token"]},
                       headers=basic("partner", secret)).json()  # fmt: skip
    assert gone == {"active": False}


def test_password_grant_and_refresh(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    auth = basic("partner", secret)
    first = _token(h, auth, grant_type="password", username="+4790000001", password=PASSWORD)
    assert first.status_code == 200, first.text
    refresh_token = first.json()["refresh_token"]
    second = _token(h, auth, grant_type="refresh_token", refresh_token=refresh_token)
    assert second.status_code == 200
    assert second.json()["refresh_token"] != refresh_token
    _error(_token(h, auth, grant_type="refresh_token", refresh_token=refresh_token), 401, 7)


def test_authorization_code_through_the_gateway_authorize(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    browser = h.browser()
    url = "/oauth/v2/authorize?" + h.authorize_url("partner", scope="api:tv").split("?", 1)[1]
    browser.get(url)
    code = redirect_params(h.login(browser))["code"]
    answer = _token(h, basic("partner", secret), grant_type="authorization_code", code=code,
                    redirect_uri=CALLBACK, code_verifier=VERIFIER)  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["scope"] == "api:tv"
    assert "refresh_token" in answer.json()
    _error(_token(h, basic("partner", secret), grant_type="authorization_code", code=code,
                  redirect_uri=CALLBACK, code_verifier=VERIFIER), 401, 4)  # fmt: skip


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer something"},
        {"Authorization": "Basic !!!"},
        {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
    ],
)
def test_code_6_missing_or_bad_authorization_header(
    partner: tuple[Harness, str], headers: dict[str, str]
) -> None:
    _error(_token(partner[0], headers, grant_type="client_credentials"), 401, 6)


def test_code_1_invalid_client_id(partner: tuple[Harness, str]) -> None:
    _error(_token(partner[0], basic("nobody", "x"), grant_type="client_credentials"), 401, 1)


def test_code_22_basic_authentication_failed(partner: tuple[Harness, str]) -> None:
    _error(_token(partner[0], basic("partner", "wrong"), grant_type="client_credentials"), 401, 22)


def test_code_9_invalid_client_data(partner: tuple[Harness, str]) -> None:
    h, _ = partner
    h.add_client("spa", api_access=True)
    _error(_token(h, basic("spa", "anything"), grant_type="client_credentials"), 401, 9)


def test_code_16_invalid_app_attributes(partner: tuple[Harness, str]) -> None:
    h, _ = partner
    secret = h.add_client("plain", client_type="Confidential", grant_types=["client_credentials"])
    assert secret is not None
    _error(_token(h, basic("plain", secret), grant_type="client_credentials"), 500, 16)


@pytest.mark.parametrize("grant_type", [None, "magic"])
def test_code_2_missing_or_invalid_grant_type(
    partner: tuple[Harness, str], grant_type: str | None
) -> None:
    h, secret = partner
    form = {"grant_type": grant_type} if grant_type else {}
    _error(_token(h, basic("partner", secret), **form), 400, 2)


def test_code_21_grant_type_not_permitted(partner: tuple[Harness, str]) -> None:
    h, _ = partner
    secret = h.add_client("machine", client_type="Confidential", api_access=True,
                          grant_types=["client_credentials"])  # fmt: skip
    assert secret is not None
    _error(_token(h, basic("machine", secret), grant_type="password", username="x",
                  password="y"), 401, 21)  # fmt: skip


@pytest.mark.parametrize("scope", ["api:radio", "api:unknown", "openid"])
def test_code_8_illegal_or_unauthorized_scope(partner: tuple[Harness, str], scope: str) -> None:
    h, secret = partner
    response = _token(h, basic("partner", secret), grant_type="client_credentials", scope=scope)
    _error(response, 403, 8)


def test_code_5_not_authorized_to_create_access_token(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    response = _token(h, basic("partner", secret), grant_type="password",
                      username="+4790000001", password="wrong")  # fmt: skip
    _error(response, 401, 5)


def test_code_7_invalid_refresh_token(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    response = _token(h, basic("partner", secret), grant_type="refresh_token", refresh_token="x")
    _error(response, 401, 7)


def test_code_4_invalid_authorization_code(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    response = _token(h, basic("partner", secret), grant_type="authorization_code", code="nope",
                      redirect_uri=CALLBACK)  # fmt: skip
    _error(response, 401, 4)


def test_code_12_invalid_redirect_uri(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    evil = h.authorize_url("partner", scope="api:tv", redirect_uri="https://evil.example/cb")
    _error(h.http.get("/oauth/v2/authorize?" + evil.split("?", 1)[1]), 403, 12)
    browser = h.browser()
    browser.get(h.authorize_url("partner", scope="api:tv"))
    code = redirect_params(h.login(browser))["code"]
    response = _token(h, basic("partner", secret), grant_type="authorization_code", code=code,
                      redirect_uri="https://rp.example/other", code_verifier=VERIFIER)  # fmt: skip
    _error(response, 403, 12)


def test_code_15_illegal_response_type(partner: tuple[Harness, str]) -> None:
    h, _ = partner
    query = h.authorize_url("partner", scope="api:tv", response_type="token").split("?", 1)[1]
    _error(h.http.get(f"/oauth/v2/authorize?{query}"), 403, 15)


def test_code_2_for_an_unknown_access_token_at_logout(partner: tuple[Harness, str]) -> None:
    h, _ = partner
    _error(h.http.get("/oauth/v2/logout", headers={"Authorization": "Bearer nope"}), 401, 2)
    _error(h.http.get("/oauth/v2/logout"), 401, 6)


def test_code_2_internal_server_error(
    partner: tuple[Harness, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, secret = partner

    def broken(*_args: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(gateway_tokens.SqlGatewayTokens, "insert", broken)
    response = _token(h, basic("partner", secret), grant_type="client_credentials")
    _error(response, 500, 2)
    assert "disk on fire" not in response.text


def test_connect_front_checks_api_products_too(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    form = {"grant_type": "client_credentials", "scope": "api:radio"}
    wrong = h.http.post("/connect/token", data=form, headers=basic("partner", secret))
    assert wrong.json()["error"] == "invalid_scope"


def test_code_2_for_an_oversized_parameter_at_token(
    partner: tuple[Harness, str], capsys: pytest.CaptureFixture[str]
) -> None:
    h, secret = partner
    response = _token(h, basic("partner", secret), grant_type="client_credentials",
                      scope="api:tv " + "a" * 4096)  # fmt: skip
    _error(response, 400, 2)
    assert "scope" not in response.json()["error_description"], "the reason is for the log"
    assert "parameter scope is too long" in capsys.readouterr().out


def test_code_2_for_an_oversized_parameter_at_authorize(partner: tuple[Harness, str]) -> None:
    h, _ = partner
    query = h.authorize_url("partner", scope="api:tv", state="s" * 4097).split("?", 1)[1]
    _error(h.http.get(f"/oauth/v2/authorize?{query}"), 400, 2)


def test_shed_load_503_asks_the_client_to_retry_later(
    partner: tuple[Harness, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    h, secret = partner

    def overloaded(*_args: object) -> None:
        raise GatewayError(503, 2, "service unavailable", "too many logins at once")

    monkeypatch.setattr(endpoints, "issue_gateway_tokens", overloaded)
    response = _token(h, basic("partner", secret), grant_type="password",
                      username="+4790000001", password=PASSWORD)  # fmt: skip
    _error(response, 503, 2)
    assert response.headers["retry-after"] == "1"
