"""The gateway's codes and refresh tokens follow the rules of /connect (issue 12, bugs 1-4):
a code burns on any failed redemption and its replay revokes what it issued, a code or a
refresh token bound to an SSO session dies with the session, and a replayed rotated refresh
token revokes its successor."""

from __future__ import annotations

from typing import Any

import pytest

from idplus.protocol.sso import end_session
from tests.harness import CALLBACK, PASSWORD, VERIFIER, Harness, basic, redirect_params

USERNAME = "+4790000001"


@pytest.fixture
def partner(harness: Harness) -> tuple[Harness, str]:
    harness.add_api_products("api:tv")
    secret = harness.add_client("partner", client_type="Confidential", api_access=True,
                                grant_types=["authorization_code", "password", "refresh_token"],
                                scopes=["api:tv"])  # fmt: skip
    assert secret is not None
    harness.add_user(USERNAME)
    return harness, secret


def _token(h: Harness, secret: str, **form: str) -> Any:
    return h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret))


def _code(h: Harness) -> str:
    browser = h.browser()
    query = h.authorize_url("partner", scope="api:tv").split("?", 1)[1]
    browser.get(f"/oauth/v2/authorize?{query}")
    return redirect_params(h.login(browser))["code"]


def _exchange(h: Harness, secret: str, code: str, redirect_uri: str = CALLBACK) -> Any:
    return _token(h, secret, grant_type="authorization_code", code=code,
                  redirect_uri=redirect_uri, code_verifier=VERIFIER)  # fmt: skip


def _refresh(h: Harness, secret: str, refresh_token: str) -> Any:
    return _token(h, secret, grant_type="refresh_token", refresh_token=refresh_token)


def _error_code(response: Any) -> tuple[int, int | None]:
    return response.status_code, response.json().get("error_code")


def _active(h: Harness, secret: str, token: str) -> bool:
    answer = h.http.post("/connect/introspect", data={"token": token},
                         headers=basic("partner", secret))  # fmt: skip
    assert answer.status_code == 200, answer.text
    return bool(answer.json()["active"])


def test_a_gateway_code_burns_on_a_failed_redemption(partner: tuple[Harness, str]) -> None:
    """On main a wrong redirect_uri answered 403 and left the code usable: 403, then 200."""
    h, secret = partner
    code = _code(h)
    assert _error_code(_exchange(h, secret, code, "https://rp.example/other")) == (403, 12)
    assert _error_code(_exchange(h, secret, code)) == (401, 4)


def test_a_replayed_gateway_code_revokes_what_the_first_exchange_issued(
    partner: tuple[Harness, str],
) -> None:
    h, secret = partner
    code = _code(h)
    first = _exchange(h, secret, code).json()
    assert _active(h, secret, first["access_token"])

    assert _error_code(_exchange(h, secret, code)) == (401, 4)
    assert not _active(h, secret, first["access_token"])
    assert _error_code(_refresh(h, secret, first["refresh_token"])) == (401, 7)


def test_a_gateway_code_issued_before_a_logout_is_refused_after_it(
    partner: tuple[Harness, str],
) -> None:
    h, secret = partner
    code = _code(h)
    _end_the_users_sessions(h)
    assert _error_code(_exchange(h, secret, code)) == (401, 4)


def test_a_gateway_refresh_token_dies_with_its_session(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    tokens = _exchange(h, secret, _code(h)).json()
    _end_the_users_sessions(h)
    assert _error_code(_refresh(h, secret, tokens["refresh_token"])) == (401, 7)


def test_a_replayed_gateway_refresh_token_revokes_its_successor(
    partner: tuple[Harness, str],
) -> None:
    h, secret = partner
    first = _token(h, secret, grant_type="password", username=USERNAME, password=PASSWORD).json()
    second = _refresh(h, secret, first["refresh_token"]).json()
    assert _active(h, secret, second["access_token"])

    assert _error_code(_refresh(h, secret, first["refresh_token"])) == (401, 7)
    assert _error_code(_refresh(h, secret, second["refresh_token"])) == (401, 7)
    assert not _active(h, secret, second["access_token"])


def test_a_password_grant_refresh_token_needs_no_session(partner: tuple[Harness, str]) -> None:
    """The password grant logs nobody into a browser: its refresh tokens outlive any logout."""
    h, secret = partner
    _code(h)  # the user also has a browser session, which then ends
    first = _token(h, secret, grant_type="password", username=USERNAME, password=PASSWORD).json()
    _end_the_users_sessions(h)
    second = _refresh(h, secret, first["refresh_token"])
    assert second.status_code == 200, second.text
    assert second.json()["expires_in"] == 3599


def test_refresh_tokens_work_only_on_the_front_that_issued_them(
    partner: tuple[Harness, str],
) -> None:
    h, secret = partner
    gateway = _token(h, secret, grant_type="password", username=USERNAME, password=PASSWORD)
    on_connect = h.http.post(
        "/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": gateway.json()["refresh_token"]},
        headers=basic("partner", secret),
    )
    assert on_connect.json()["error"] == "invalid_grant"
    assert _refresh(h, secret, gateway.json()["refresh_token"]).status_code == 200


def test_the_device_grant_is_not_served_on_the_gateway(partner: tuple[Harness, str]) -> None:
    h, secret = partner
    device = "urn:ietf:params:oauth:grant-type:device_code"
    assert _error_code(_token(h, secret, grant_type=device, device_code="x")) == (400, 2)


def _end_the_users_sessions(h: Harness) -> None:
    store = h.store()
    try:
        with store.transaction() as uow:
            user = uow.users.find_by_username(USERNAME)
            assert user is not None
            sessions = uow.sessions.active_of_user(user.id, h.clock.now())
            assert sessions
            for session in sessions:
                end_session(uow, session.id, h.clock.now())
    finally:
        store.dispose()
