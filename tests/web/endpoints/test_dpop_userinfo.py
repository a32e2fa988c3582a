"""DPoP-bound access tokens at the resources idplus serves itself (RFC 9449 §7): userinfo and
the self-service endpoint, the proofs they need and the challenges they answer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from idplus.config import Settings
from tests.dpop_proofs import DpopKey
from tests.harness import Harness, code_from_login
from tests.web.endpoints.test_dpop import (
    TOKEN,
    USERINFO,
    bound_tokens,
    proof_for,
    redeem,
)

SELF_SERVICE = "/api/meta/v1/self-service"
DPOP_CHALLENGE = 'DPoP algs="ES256 PS256 RS256"'


@pytest.fixture
def spa(harness: Harness) -> Harness:
    harness.add_client("app", scopes=["openid", "profile"])
    harness.add_user(given_name="Kari")
    return harness


@pytest.fixture
def key() -> DpopKey:
    return DpopKey()


@pytest.fixture
def bound(spa: Harness, key: DpopKey) -> str:
    """An access token bound to `key`."""
    token: str = bound_tokens(spa, key, scope="openid profile")["access_token"]
    return token


def _userinfo(
    h: Harness,
    token: str,
    *,
    scheme: str = "DPoP",
    dpop: str | None = None,
    method: str = "GET",
) -> Any:
    headers = {"Authorization": f"{scheme} {token}"}
    if dpop is not None:
        headers["DPoP"] = dpop
    if method == "POST":
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        return h.http.post(USERINFO, headers=headers, content=b"")
    return h.http.get(USERINFO, headers=headers)


def _proof(h: Harness, key: DpopKey, token: str, method: str = "GET", **claims: Any) -> str:
    return proof_for(h, key, USERINFO, method, access_token=token, **claims)


def _challenge(response: Any, error: str) -> str:
    assert response.status_code == 401, response.text
    assert response.json()["error"] == error
    challenge: str = response.headers["www-authenticate"]
    assert challenge.startswith(DPOP_CHALLENGE + ", ")
    assert f'error="{error}"' in challenge
    return challenge


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_bound_token_with_a_proof_of_its_key_gets_the_claims(
    spa: Harness, key: DpopKey, bound: str, method: str
) -> None:
    answer = _userinfo(spa, bound, dpop=_proof(spa, key, bound, method), method=method)

    assert answer.status_code == 200, answer.text
    assert answer.json()["given_name"] == "Kari"
    assert "dpop-nonce" not in answer.headers  # nonces are off by default


def test_a_bound_token_sent_as_a_bearer_token_is_refused(
    spa: Harness, key: DpopKey, bound: str
) -> None:
    """RFC 9449 §7.1: the copy of a bound token is worthless as a bearer token."""
    answer = _userinfo(spa, bound, scheme="Bearer", dpop=_proof(spa, key, bound))

    _challenge(answer, "invalid_token")


def test_a_bound_token_without_a_proof_is_refused(spa: Harness, bound: str) -> None:
    _challenge(_userinfo(spa, bound), "invalid_dpop_proof")


def test_a_dead_token_sent_with_the_dpop_scheme_gets_a_dpop_challenge(
    spa: Harness, key: DpopKey, bound: str
) -> None:
    """RFC 9449 §7.1: whatever is wrong, a DPoP request is answered in its own scheme."""
    spa.clock.advance(timedelta(hours=2))
    _challenge(_userinfo(spa, bound, dpop=_proof(spa, key, bound)), "invalid_token")


def test_a_bound_token_in_the_form_body_is_refused(spa: Harness, key: DpopKey, bound: str) -> None:
    """RFC 6750 §2.2's form parameter is a Bearer presentation."""
    headers = {"DPoP": _proof(spa, key, bound, "POST")}
    answer = spa.http.post(USERINFO, data={"access_token": bound}, headers=headers)

    _challenge(answer, "invalid_token")


def test_a_proof_of_another_key_is_refused(spa: Harness, bound: str) -> None:
    answer = _userinfo(spa, bound, dpop=_proof(spa, DpopKey(), bound))

    _challenge(answer, "invalid_token")


def test_a_proof_without_ath_is_refused(spa: Harness, key: DpopKey, bound: str) -> None:
    """RFC 9449 §7.1, §4.3 item 12: the proof must name the token it comes with."""
    answer = _userinfo(spa, bound, dpop=proof_for(spa, key, USERINFO, "GET"))

    _challenge(answer, "invalid_dpop_proof")


def test_a_proof_for_another_token_is_refused(spa: Harness, key: DpopKey, bound: str) -> None:
    other = bound_tokens(spa, key, scope="openid")["access_token"]

    answer = _userinfo(spa, bound, dpop=_proof(spa, key, other))

    _challenge(answer, "invalid_dpop_proof")


@pytest.mark.parametrize(
    ("method", "path"), [("POST", USERINFO), ("GET", TOKEN), ("GET", SELF_SERVICE)]
)
def test_a_proof_for_another_request_is_refused(
    spa: Harness, key: DpopKey, bound: str, method: str, path: str
) -> None:
    proof = proof_for(spa, key, path, method, access_token=bound)

    _challenge(_userinfo(spa, bound, dpop=proof), "invalid_dpop_proof")


def test_a_replayed_proof_is_refused(spa: Harness, key: DpopKey, bound: str) -> None:
    proof = _proof(spa, key, bound)
    assert _userinfo(spa, bound, dpop=proof).status_code == 200

    _challenge(_userinfo(spa, bound, dpop=proof), "invalid_dpop_proof")


@pytest.mark.parametrize("value", ["", "garbage", "a.b.c", "x" * 20000])
def test_garbage_proofs_get_a_401_never_a_5xx(spa: Harness, bound: str, value: str) -> None:
    _challenge(_userinfo(spa, bound, dpop=value), "invalid_dpop_proof")


def test_an_unbound_token_sent_with_the_dpop_scheme_is_refused(spa: Harness, key: DpopKey) -> None:
    """A Bearer token is not made DPoP-bound by a proof at the resource (RFC 9449 §7.1)."""
    plain = redeem(spa, code_from_login(spa, "app"), "app").json()["access_token"]

    _challenge(_userinfo(spa, plain, dpop=_proof(spa, key, plain)), "invalid_token")
    # As a Bearer token it still works.
    assert _userinfo(spa, plain, scheme="Bearer").status_code == 200


def test_no_token_gets_both_challenges_and_no_error(spa: Harness) -> None:
    """RFC 6750 §3.1 (no error without credentials) and RFC 9449 §7.2 (either scheme)."""
    answer = spa.http.get(USERINFO)

    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == f'Bearer realm="idplus", {DPOP_CHALLENGE}'


def test_the_self_service_endpoint_refuses_a_bound_token_as_bearer(
    spa: Harness, key: DpopKey, bound: str
) -> None:
    as_bearer = spa.http.get(SELF_SERVICE, headers={"Authorization": f"Bearer {bound}"})
    _challenge(as_bearer, "invalid_token")

    proof = proof_for(spa, key, SELF_SERVICE, "GET", access_token=bound)
    with_proof = spa.http.get(
        SELF_SERVICE, headers={"Authorization": f"DPoP {bound}", "DPoP": proof}
    )
    assert with_proof.status_code == 200, with_proof.text
    assert "url" in with_proof.json()


class TestServerNonces:
    """RFC 9449 §9: a resource requiring nonces answers 401 use_dpop_nonce with one."""

    @pytest.fixture
    def settings(self, settings: Settings) -> Settings:
        return settings.model_copy(update={"dpop_require_nonce": True})

    @pytest.fixture
    def bound(self, spa: Harness, key: DpopKey) -> str:
        code = code_from_login(spa, "app", scope="openid profile")
        nonce = redeem(spa, code, "app", key=key).headers["dpop-nonce"]
        answer = redeem(spa, code, "app", key=key, nonce=nonce)
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def test_userinfo_without_a_nonce_is_told_the_nonce(
        self, spa: Harness, key: DpopKey, bound: str
    ) -> None:
        first = _userinfo(spa, bound, dpop=_proof(spa, key, bound))

        challenge = _challenge(first, "use_dpop_nonce")
        assert challenge.startswith("DPoP ")
        nonce = first.headers["dpop-nonce"]

        retry = _userinfo(spa, bound, dpop=_proof(spa, key, bound, nonce=nonce))
        assert retry.status_code == 200, retry.text
        assert retry.headers["dpop-nonce"]

    def test_the_self_service_endpoint_asks_for_a_nonce_and_hands_out_the_next(
        self, spa: Harness, key: DpopKey, bound: str
    ) -> None:
        def get(nonce: str | None) -> Any:
            proof = proof_for(spa, key, SELF_SERVICE, "GET", access_token=bound, nonce=nonce)
            return spa.http.get(SELF_SERVICE, headers={"Authorization": f"DPoP {bound}",
                                                       "DPoP": proof})  # fmt: skip

        first = get(None)
        _challenge(first, "use_dpop_nonce")

        retry = get(first.headers["dpop-nonce"])
        assert retry.status_code == 200, retry.text
        assert retry.headers["dpop-nonce"]

    def test_a_bearer_token_needs_no_nonce(self, spa: Harness) -> None:
        plain = redeem(spa, code_from_login(spa, "app"), "app").json()["access_token"]

        assert _userinfo(spa, plain, scheme="Bearer").status_code == 200


def test_too_few_scopes_with_the_dpop_scheme_get_a_dpop_challenge(
    spa: Harness, key: DpopKey
) -> None:
    """RFC 9449 §7.1: insufficient_scope too is answered in the scheme of the request."""
    token = bound_tokens(spa, key, scope="profile")["access_token"]

    answer = _userinfo(spa, token, dpop=_proof(spa, key, token))

    assert answer.status_code == 403, answer.text
    assert answer.headers["www-authenticate"].startswith(DPOP_CHALLENGE + ", ")
    assert 'error="insufficient_scope"' in answer.headers["www-authenticate"]
