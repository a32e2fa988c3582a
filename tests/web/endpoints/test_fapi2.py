"""A `--profile fapi2` client over HTTP (FAPI 2.0 Security Profile §5): pushed request, PKCE,
private_key_jwt naming only the issuer, DPoP-bound tokens and PS256 signatures, and a refusal
for each shortcut a client might try."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.client_assertions import ClientKey, assertion_form
from tests.dpop_proofs import DpopKey
from tests.harness import CALLBACK, VERIFIER, Harness, redirect_params, s256

REFUSED = {"error": "invalid_client", "error_description": "client authentication failed"}


@pytest.fixture(scope="module")
def client_key() -> ClientKey:
    return ClientKey.ec()


@pytest.fixture
def bank(harness: Harness, client_key: ClientKey) -> Harness:
    harness.add_client(
        "bank",
        client_type="Confidential",
        profile="fapi2",
        jwks=client_key.public_jwks(),
        scopes=["openid", "profile"],
    )
    harness.add_user()
    return harness


def _assertion(h: Harness, key: ClientKey, aud: str | list[str] | None = None) -> str:
    return key.sign("bank", h.settings.issuer if aud is None else aud, h.clock.now())


def _pushed(**overrides: str) -> dict[str, str]:
    form = {
        "redirect_uri": CALLBACK,
        "response_type": "code",
        "scope": "openid profile",
        "state": "st-f",
        "nonce": "n-f",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **overrides,
    }
    return {k: v for k, v in form.items() if v != ""}


def _push(h: Harness, key: ClientKey, dpop: DpopKey | None, **overrides: str) -> Any:
    headers = {}
    if dpop is not None:
        headers["DPoP"] = dpop.proof("POST", f"{h.settings.issuer}/connect/par", iat=h.clock.now())
    form = assertion_form(_assertion(h, key), **_pushed(**overrides))
    return h.http.post("/connect/par", data=form, headers=headers)


def _code(h: Harness, key: ClientKey, dpop: DpopKey | None) -> str:
    pushed = _push(h, key, dpop)
    assert pushed.status_code == 201, pushed.text
    browser = h.browser()
    query = urlencode({"client_id": "bank", "request_uri": pushed.json()["request_uri"]})
    assert 'name="password"' in browser.get(f"/connect/authorize?{query}").text
    return redirect_params(h.login(browser))["code"]


def _token(h: Harness, key: ClientKey, dpop: DpopKey | None, code: str, *, aud: Any = None) -> Any:
    headers = {}
    if dpop is not None:
        url = f"{h.settings.issuer}/connect/token"
        headers["DPoP"] = dpop.proof("POST", url, iat=h.clock.now())
    form = assertion_form(
        _assertion(h, key, aud),
        grant_type="authorization_code",
        code=code,
        redirect_uri=CALLBACK,
        code_verifier=VERIFIER,
    )
    return h.http.post("/connect/token", data=form, headers=headers)


def test_the_whole_fapi2_flow(bank: Harness, client_key: ClientKey) -> None:
    dpop = DpopKey()
    response = _token(bank, client_key, dpop, _code(bank, client_key, dpop))

    assert response.status_code == 200, response.text
    tokens = response.json()
    assert tokens["token_type"] == "DPoP"
    jwks = KeySet.import_key_set(bank.http.get("/.well-known/jwks.json").json())
    access = jwt.decode(tokens["access_token"], jwks, algorithms=["PS256"])
    assert access.header["alg"] == "PS256"
    assert access.claims["cnf"] == {"jkt": dpop.jkt}
    id_token = jwt.decode(tokens["id_token"], jwks, algorithms=["PS256"])
    assert (id_token.header["alg"], id_token.claims["nonce"]) == ("PS256", "n-f")

    url = f"{bank.settings.issuer}/connect/userinfo"
    proof = dpop.proof("GET", url, access_token=tokens["access_token"], iat=bank.clock.now())
    userinfo = bank.http.get(
        "/connect/userinfo",
        headers={"Authorization": f"DPoP {tokens['access_token']}", "DPoP": proof},
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == access.claims["sub"]


def test_the_code_is_bound_to_the_key_of_the_push(bank: Harness, client_key: ClientKey) -> None:
    code = _code(bank, client_key, DpopKey())
    response = _token(bank, client_key, DpopKey(), code)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_a_token_request_without_dpop_is_refused(bank: Harness, client_key: ClientKey) -> None:
    response = _token(bank, client_key, None, _code(bank, client_key, None))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_dpop_proof"


def test_the_front_channel_alone_is_refused(bank: Harness) -> None:
    query = urlencode({"client_id": "bank", **_pushed()})
    answer = redirect_params(bank.browser().get(f"/connect/authorize?{query}"))
    assert answer["error"] == "invalid_request"


def test_pkce_is_required_although_the_client_authenticates(
    bank: Harness, client_key: ClientKey
) -> None:
    response = _push(bank, client_key, None, code_challenge="", code_challenge_method="")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


@pytest.mark.parametrize("audience", ["token endpoint", "par endpoint", "list with the issuer"])
def test_the_assertion_names_only_the_issuer_as_a_string(
    bank: Harness, client_key: ClientKey, audience: str
) -> None:
    """FAPI 2.0 §5.3.2.1 item 8; a plain private_key_jwt client may use all three."""
    issuer = bank.settings.issuer
    aud: str | list[str] = {
        "token endpoint": f"{issuer}/connect/token",
        "par endpoint": f"{issuer}/connect/par",
        "list with the issuer": [issuer],
    }[audience]
    response = _token(bank, client_key, DpopKey(), "any-code", aud=aud)
    assert response.status_code == 401
    assert response.json() == REFUSED


def test_rs256_assertions_are_refused(harness: Harness) -> None:
    rs256 = ClientKey.rsa(alg="RS256")
    harness.add_client("bank", client_type="Confidential", profile="fapi2",
                       jwks=rs256.public_jwks())  # fmt: skip
    response = _token(harness, rs256, DpopKey(), "any-code")
    assert response.status_code == 401
    assert response.json() == REFUSED


def test_rs256_dpop_proofs_are_refused(bank: Harness, client_key: ClientKey) -> None:
    """FAPI 2.0 §5.4.1 holds for proofs too: PS256 or ES256, never RS256."""
    rs256 = DpopKey("RS256")
    pushed = _push(bank, client_key, rs256)
    assert pushed.status_code == 400
    assert pushed.json()["error"] == "invalid_dpop_proof"
    code = _code(bank, client_key, None)
    token = _token(bank, client_key, rs256, code)
    assert token.status_code == 400
    assert token.json()["error"] == "invalid_dpop_proof"


def test_an_es256_client_gets_es256_tokens(harness: Harness, client_key: ClientKey) -> None:
    harness.add_client("bank", client_type="Confidential", profile="fapi2", signing_alg="ES256",
                       jwks=client_key.public_jwks(), scopes=["openid", "profile"])  # fmt: skip
    harness.add_user()
    dpop = DpopKey("PS256")
    response = _token(harness, client_key, dpop, _code(harness, client_key, dpop))
    assert response.status_code == 200, response.text
    jwks = KeySet.import_key_set(harness.http.get("/.well-known/jwks.json").json())
    for name in ("access_token", "id_token"):
        token = jwt.decode(response.json()[name], jwks, algorithms=["ES256"])
        assert token.header["alg"] == "ES256"


def test_discovery_advertises_every_new_method_and_algorithm(harness: Harness) -> None:
    document = harness.http.get("/.well-known/openid-configuration").json()
    assert document["dpop_signing_alg_values_supported"] == ["ES256", "PS256", "RS256"]
    assert set(document["id_token_signing_alg_values_supported"]) == {"RS256", "PS256", "ES256"}
    assert "private_key_jwt" in document["token_endpoint_auth_methods_supported"]
    assert "pushed_authorization_request_endpoint" in document
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert document["authorization_response_iss_parameter_supported"] is True
