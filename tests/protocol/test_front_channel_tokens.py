"""Hybrid and implicit response types for clients registered for them (OIDC Core §3.2-3.3)."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.clock import FrozenClock
from idplus.errors import ValidationError
from idplus.manage.clients import ClientRegistration, build_client
from idplus.protocol.oidc.id_token import left_half_hash
from tests.harness import Harness, exchange_code, redirect_params


def _hybrid(h: Harness, response_type: str) -> dict[str, str]:
    h.add_client("hyb", response_types=[response_type])
    h.add_user()
    browser = h.browser()
    browser.get(h.authorize_url("hyb", response_type=response_type, nonce="n-1"))
    return redirect_params(h.login(browser))


def _claims(h: Harness, token: str) -> dict[str, object]:
    jwks = KeySet.import_key_set(h.http.get("/.well-known/jwks.json").json())
    return dict(jwt.decode(token, jwks).claims)


def test_code_id_token_returns_both_in_the_fragment_with_c_hash_and_s_hash(
    harness: Harness,
) -> None:
    answer = _hybrid(harness, "code id_token")
    claims = _claims(harness, answer["id_token"])
    assert claims["c_hash"] == left_half_hash(answer["code"])
    assert claims["s_hash"] == left_half_hash("st-123")
    assert claims["nonce"] == "n-1"
    assert exchange_code(harness, answer["code"], "hyb").status_code == 200


def test_implicit_id_token_token(harness: Harness) -> None:
    answer = _hybrid(harness, "id_token token")
    assert "code" not in answer
    assert answer["token_type"] == "Bearer"
    claims = _claims(harness, answer["id_token"])
    assert claims["at_hash"] == left_half_hash(answer["access_token"])


def test_front_channel_tokens_are_counted_under_the_implicit_grant(harness: Harness) -> None:
    _hybrid(harness, "id_token token")
    metrics = harness.http.get("/metrics").text
    for token in ("access_token", "id_token"):
        assert (
            f'idplus_tokens_issued_total{{client_type="Public",grant_type="implicit",'
            f'token="{token}"}} 1.0'
        ) in metrics


def test_unregistered_hybrid_is_unauthorized_and_needs_a_nonce(harness: Harness) -> None:
    harness.add_client("spa")
    answer = redirect_params(
        harness.http.get(harness.authorize_url(response_type="code id_token", nonce="n"))
    )
    assert answer["error"] == "unauthorized_client"
    harness.add_client("hyb", response_types=["code id_token"])
    answer = redirect_params(
        harness.http.get(harness.authorize_url("hyb", response_type="code id_token"))
    )
    assert answer["error"] == "invalid_request"


def test_registration_normalises_and_checks_response_types() -> None:
    registered = build_client(
        ClientRegistration("c", "Public", response_types=["id_token code"]), FrozenClock()
    ).client
    assert registered.response_types == ("code", "code id_token")
    with pytest.raises(ValidationError, match="unknown response type"):
        build_client(ClientRegistration("c", "Public", response_types=["magic"]), FrozenClock())
