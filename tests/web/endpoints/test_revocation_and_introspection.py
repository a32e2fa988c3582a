"""RFC 7009 revocation and RFC 7662 introspection over HTTP."""

from __future__ import annotations

import pytest

from tests.harness import PASSWORD, Harness, basic, code_from_login, exchange_code


@pytest.fixture
def bff(harness: Harness) -> tuple[Harness, str, dict[str, str]]:
    secret = harness.add_client(
        "bff",
        client_type="Confidential",
        scopes=["openid", "offline_access", "tnn.ids"],
        silent_sso=True,
    )
    assert secret is not None
    harness.add_user()
    code = code_from_login(harness, "bff", scope="openid offline_access tnn.ids")
    tokens: dict[str, str] = exchange_code(harness, code, "bff", secret).json()
    return harness, secret, tokens


def _introspect(h: Harness, secret: str, token: str, client_id: str = "bff") -> dict[str, object]:
    response = h.http.post(
        "/connect/introspect", data={"token": token}, headers=basic(client_id, secret)
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_introspection_of_an_access_token(bff: tuple[Harness, str, dict[str, str]]) -> None:
    h, secret, tokens = bff
    answer = _introspect(h, secret, tokens["access_token"])
    assert answer["active"] is True
    assert answer["token_type"] == "access_token"
    assert answer["client_id"] == "bff"
    assert answer["scope"] == "openid offline_access tnn.ids"
    assert {"sub", "exp", "iat", "jti", "kurtid", "tnuid"} <= set(answer)


def test_introspection_of_a_refresh_token_reports_its_exp(
    bff: tuple[Harness, str, dict[str, str]],
) -> None:
    h, secret, tokens = bff
    answer = _introspect(h, secret, tokens["refresh_token"])
    assert answer["active"] is True
    assert answer["token_type"] == "refresh_token"
    assert isinstance(answer["exp"], int)


def test_unknown_tokens_are_inactive(bff: tuple[Harness, str, dict[str, str]]) -> None:
    h, secret, _ = bff
    assert _introspect(h, secret, "nonsense") == {"active": False}
    assert _introspect(h, secret, "a.b.c") == {"active": False}


def test_introspection_needs_an_authenticated_confidential_client(
    bff: tuple[Harness, str, dict[str, str]],
) -> None:
    h, _, tokens = bff
    anonymous = h.http.post("/connect/introspect", data={"token": tokens["access_token"]})
    assert anonymous.status_code == 401
    h.add_client("spa")
    public = h.http.post(
        "/connect/introspect", data={"token": tokens["access_token"], "client_id": "spa"}
    )
    assert public.json()["error"] == "unauthorized_client"


def test_a_revoked_access_token_is_refused_until_it_expires(
    bff: tuple[Harness, str, dict[str, str]],
) -> None:
    h, secret, tokens = bff
    revoked = h.http.post(
        "/connect/revocation", data={"token": tokens["access_token"]}, headers=basic("bff", secret)
    )
    assert revoked.status_code == 200
    assert _introspect(h, secret, tokens["access_token"]) == {"active": False}
    userinfo = h.http.get(
        "/connect/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert userinfo.status_code == 401


def test_revoking_a_refresh_token(bff: tuple[Harness, str, dict[str, str]]) -> None:
    h, secret, tokens = bff
    h.http.post(
        "/connect/revocation",
        data={"token": tokens["refresh_token"], "token_type_hint": "refresh_token"},
        headers=basic("bff", secret),
    )
    assert _introspect(h, secret, tokens["refresh_token"]) == {"active": False}
    refreshed = h.http.post(
        "/connect/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
        headers=basic("bff", secret),
    )
    assert refreshed.json()["error"] == "invalid_grant"


def test_revoking_unknown_or_foreign_tokens_answers_200_and_changes_nothing(
    bff: tuple[Harness, str, dict[str, str]],
) -> None:
    h, secret, tokens = bff
    other = h.add_client("other", client_type="Confidential")
    assert other is not None
    for token in ("nonsense", tokens["refresh_token"], tokens["access_token"]):
        response = h.http.post(
            "/connect/revocation", data={"token": token}, headers=basic("other", other)
        )
        assert response.status_code == 200
    assert _introspect(h, secret, tokens["refresh_token"])["active"] is True
    assert _introspect(h, secret, tokens["access_token"])["active"] is True


def test_revocation_without_a_token_is_invalid_request(
    bff: tuple[Harness, str, dict[str, str]],
) -> None:
    h, secret, _ = bff
    response = h.http.post("/connect/revocation", data={}, headers=basic("bff", secret))
    assert response.json()["error"] == "invalid_request"


@pytest.fixture
def partner(harness: Harness) -> tuple[Harness, str, dict[str, str]]:
    """Tokens of the gateway front: a reference access token and a session-less refresh token."""
    harness.add_api_products("api:tv")
    secret = harness.add_client("partner", client_type="Confidential", api_access=True,
                                grant_types=["password", "refresh_token"],
                                scopes=["api:tv"])  # fmt: skip
    assert secret is not None
    harness.add_user()
    form = {"grant_type": "password", "username": "+4790000001", "password": PASSWORD}
    answer = harness.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret))
    assert answer.status_code == 200, answer.text
    return harness, secret, answer.json()


def test_gateway_refresh_tokens_are_introspected_until_rotated(
    partner: tuple[Harness, str, dict[str, str]],
) -> None:
    h, secret, tokens = partner
    answer = _introspect(h, secret, tokens["refresh_token"], "partner")
    assert answer["active"] is True
    assert answer["token_type"] == "refresh_token"
    assert answer["scope"] == "api:tv"
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    h.http.post("/oauth/v2/token", data=form, headers=basic("partner", secret))
    assert _introspect(h, secret, tokens["refresh_token"], "partner") == {"active": False}


def test_revoking_a_gateway_access_token(partner: tuple[Harness, str, dict[str, str]]) -> None:
    h, secret, tokens = partner
    revoked = h.http.post("/connect/revocation", data={"token": tokens["access_token"]},
                          headers=basic("partner", secret))  # fmt: skip
    assert revoked.status_code == 200
    assert _introspect(h, secret, tokens["access_token"], "partner") == {"active": False}
    logout = h.http.get(
        "/oauth/v2/logout", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )
    assert logout.status_code == 401


def test_an_access_token_is_inactive_once_its_session_ended(
    bff: tuple[Harness, str, dict[str, str]],
) -> None:
    """SPEC §2, §7: a token bound to an SSO session dies with it, as userinfo already says."""
    h, secret, tokens = bff
    assert _introspect(h, secret, tokens["access_token"])["active"] is True
    h.http.get("/connect/endsession", params={"id_token_hint": tokens["id_token"]})
    assert _introspect(h, secret, tokens["access_token"]) == {"active": False}
