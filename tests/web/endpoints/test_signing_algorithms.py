"""A client's signing algorithm (RS256, PS256 or ES256): its ID tokens, access tokens, exchanged
tokens and logout tokens are signed with that algorithm's key, verify against the JWKS with
any JOSE library, and are accepted back wherever idplus reads its own tokens."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from idplus.config import Settings
from tests.harness import Harness, basic, code_from_login, exchange_code
from tests.outbound.receiver import Receiver, pending, wait_until

SECRET = "service-secret-0123456789"
EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
ALGORITHMS = ["RS256", "PS256", "ES256"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A worker that looks for due deliveries often (the clock is frozen)."""
    return settings.model_copy(update={"outbox_poll_seconds": 0.05})


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _jwks(h: Harness) -> KeySet:
    return KeySet.import_key_set(h.http.get("/.well-known/jwks.json").json())


def _verified(h: Harness, token: str, alg: str) -> jwt.Token:
    """As a relying party checks it: only the algorithm it registered, keys from the JWKS."""
    decoded = jwt.decode(token, _jwks(h), algorithms=[alg])
    published = {k["kid"]: k["alg"] for k in h.http.get("/.well-known/jwks.json").json()["keys"]}
    assert decoded.header["alg"] == published[decoded.header["kid"]] == alg
    return decoded


def _left_half_sha256(value: str) -> str:
    digest = hashlib.sha256(value.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def _tokens(h: Harness, client_id: str = "spa") -> dict[str, Any]:
    code = code_from_login(h, client_id, nonce="n-1", scope="openid profile")
    response = exchange_code(h, code, client_id, SECRET)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_id_and_access_tokens_carry_the_clients_algorithm(harness: Harness, alg: str) -> None:
    harness.add_client("spa", client_type="Confidential", secret=SECRET, signing_alg=alg)
    harness.add_user()

    body = _tokens(harness)

    id_token = _verified(harness, body["id_token"], alg)
    access = _verified(harness, body["access_token"], alg)
    assert (id_token.header["typ"], access.header["typ"]) == ("JWT", "at+jwt")
    assert id_token.claims["aud"] == "spa"
    # OIDC Core §3.1.3.6: the hash of the token's own algorithm (SHA-256 for all three).
    assert id_token.claims["at_hash"] == _left_half_sha256(body["access_token"])
    userinfo = harness.http.get(
        "/connect/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["sub"] == access.claims["sub"]


def test_each_client_gets_its_own_algorithm_from_one_server(harness: Harness) -> None:
    harness.add_user()
    for alg in ALGORITHMS:
        harness.add_client(alg.lower(), client_type="Confidential", secret=SECRET, signing_alg=alg)
    for alg in ALGORITHMS:
        harness.http.cookies.clear()
        body = _tokens(harness, alg.lower())
        assert _verified(harness, body["id_token"], alg).claims["aud"] == alg.lower()


def test_an_es256_id_token_is_accepted_as_id_token_hint(harness: Harness) -> None:
    harness.add_client("spa", client_type="Confidential", secret=SECRET, signing_alg="ES256")
    harness.add_user()
    body = _tokens(harness)

    response = harness.http.get("/connect/endsession", params={"id_token_hint": body["id_token"]})

    assert response.status_code == 200, response.text


def test_an_exchanged_token_is_signed_for_the_client_that_asked(harness: Harness) -> None:
    harness.add_api_products("api:tv")
    harness.add_client("app", client_type="Confidential", secret=SECRET)  # RS256
    harness.add_client("svc", client_type="Confidential", secret=SECRET, api_access=True,
                       scopes=["openid", "api:tv"], grant_types=[EXCHANGE],
                       signing_alg="PS256")  # fmt: skip
    harness.add_user()
    subject = _tokens(harness, "app")["access_token"]
    _verified(harness, subject, "RS256")

    answer = harness.http.post(
        "/connect/token",
        data={
            "grant_type": EXCHANGE,
            "subject_token": subject,
            "subject_token_type": ACCESS,
            "audience": "api:tv",
        },
        headers=basic("svc", SECRET),
    )

    assert answer.status_code == 200, answer.text
    exchanged = answer.json()["access_token"]
    assert _verified(harness, exchanged, "PS256").claims["act"] == {"sub": "svc"}
    introspected = harness.http.post(
        "/connect/introspect", data={"token": exchanged}, headers=basic("svc", SECRET)
    ).json()
    assert introspected["active"] is True


def test_a_logout_token_is_signed_for_the_client_that_receives_it(
    harness: Harness, receiver: Receiver
) -> None:
    harness.add_client("app", client_type="Confidential", secret=SECRET, silent_sso=True,
                       one_telenor=True)  # fmt: skip
    harness.add_client("tv", silent_sso=True, one_telenor=True, signing_alg="ES256",
                       backchannel_logout_uri=receiver.uri)  # fmt: skip
    harness.add_user()
    tokens = _tokens(harness, "app")
    code_from_login(harness, "tv")  # SSO: the tv client joins the session

    harness.http.get("/connect/endsession", params={"id_token_hint": tokens["id_token"]})

    def delivered() -> bool:
        harness.clock.advance(timedelta(seconds=60))
        return pending(harness.settings.database_url) == 0 and bool(receiver.tokens)

    wait_until(delivered, "the logout token")
    (logout_token,) = receiver.tokens
    decoded = _verified(harness, logout_token, "ES256")
    assert (decoded.header["typ"], decoded.claims["aud"]) == ("logout+jwt", "tv")
