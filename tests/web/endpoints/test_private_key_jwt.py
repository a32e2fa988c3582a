"""private_key_jwt client authentication over HTTP (RFC 7523, OIDC Core §9): what a client
registered with public keys may send, and the one invalid_client for everything else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from idplus.protocol.context import AppContext
from tests.client_assertions import JWT_BEARER, ClientKey, JwksServer, assertion_form
from tests.harness import Harness, basic
from tests.outbound.receiver import free_port
from tests.protocol.ciba.helpers import CIBA_GRANT, PHONE

REFUSED = {"error": "invalid_client", "error_description": "client authentication failed"}
CLIENT_CREDENTIALS = {"grant_type": "client_credentials"}


@pytest.fixture(scope="module")
def key() -> ClientKey:
    return ClientKey.rsa()


def _add_pay(h: Harness, client_id: str = "pay", **fields: Any) -> None:
    fields.setdefault("grant_types", ["client_credentials"])
    secret = h.add_client(
        client_id, client_type="Confidential", auth_method="private_key_jwt", **fields
    )
    assert secret is None


@pytest.fixture
def pay(harness: Harness, key: ClientKey) -> Harness:
    _add_pay(harness, jwks=key.public_jwks())
    return harness


def _token_url(h: Harness) -> str:
    return f"{h.settings.issuer}/connect/token"


def _token(h: Harness, assertion: str, **form: str) -> Any:
    return h.http.post(
        "/connect/token", data=assertion_form(assertion, **CLIENT_CREDENTIALS, **form)
    )


def _assert_refused(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert response.json() == REFUSED
    assert "www-authenticate" not in response.headers


@pytest.mark.parametrize(
    "make_key", [ClientKey.rsa, ClientKey.ec, lambda: ClientKey.rsa(alg="RS256")]
)
def test_an_assertion_signed_with_a_registered_key_gets_a_token(
    harness: Harness, make_key: Callable[[], ClientKey]
) -> None:
    client_key = make_key()
    _add_pay(harness, jwks=client_key.public_jwks())
    response = _token(harness, client_key.sign("pay", _token_url(harness), harness.clock.now()))
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


@pytest.mark.parametrize("audience", ["issuer", "token endpoint", "list"])
def test_the_issuer_or_the_token_endpoint_is_the_audience(
    pay: Harness, key: ClientKey, audience: str
) -> None:
    issuer = pay.settings.issuer
    audiences: dict[str, str | list[str]] = {
        "issuer": issuer,
        "token endpoint": _token_url(pay),
        "list": ["https://elsewhere.example", issuer],
    }
    assert _token(pay, key.sign("pay", audiences[audience], pay.clock.now())).status_code == 200


def _none_alg(key: ClientKey, client_id: str, aud: str, now: datetime) -> str:
    signed = key.sign(client_id, aud, now)
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    return f"{header.decode()}.{signed.split('.')[1]}."


def _hs256_with_the_public_key(key: ClientKey, client_id: str, aud: str, now: datetime) -> str:
    """The classic confusion: HMAC keyed with the public key a verifier has at hand."""
    header, payload, _ = key.sign(client_id, aud, now).split(".")
    header = _b64(json.dumps({"alg": "HS256", "kid": key.kid}).encode())
    mac = hmac.new(key.key.as_pem(private=False), f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64(mac.digest())}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _foreign_key(key: ClientKey, client_id: str, aud: str, now: datetime) -> str:
    # Another key pair under the registered key's kid.
    return ClientKey.rsa(kid=key.kid).sign(client_id, aud, now)


Forge = Callable[[ClientKey, str, str, datetime], str]
BAD_ASSERTIONS: dict[str, Forge] = {
    "expired": lambda k, c, a, now: k.sign(c, a, now - timedelta(minutes=10)),
    "exp more than 5 minutes after iat": lambda k, c, a, now: k.sign(c, a, now, lifetime=301),
    "iat long ago": lambda k, c, a, now: k.sign(
        c, a, now, iat=int(now.timestamp()) - 3600, exp=int(now.timestamp()) + 60
    ),
    "iat in the future": lambda k, c, a, now: k.sign(c, a, now + timedelta(minutes=5)),
    "no exp": lambda k, c, a, now: k.sign(c, a, now, exp=None),
    "no iat": lambda k, c, a, now: k.sign(c, a, now, iat=None),
    "no jti": lambda k, c, a, now: k.sign(c, a, now, jti=None),
    "jti not a string": lambda k, c, a, now: k.sign(c, a, now, jti=12),
    "wrong aud": lambda k, c, a, now: k.sign(c, "https://elsewhere.example", now),
    "another endpoint as aud": lambda k, c, a, now: k.sign(
        c, a.replace("token", "revocation"), now
    ),
    "no aud": lambda k, c, a, now: k.sign(c, None, now),
    "wrong iss": lambda k, c, a, now: k.sign(c, a, now, iss="someone-else"),
    "alg none": _none_alg,
    "HS256 keyed with the public key": _hs256_with_the_public_key,
    "foreign key": _foreign_key,
    "unknown kid": lambda k, c, a, now: ClientKey.rsa(kid="other").sign(c, a, now),
    "ES256 header on an RSA key": lambda k, c, a, now: ClientKey.ec(kid=k.kid).sign(c, a, now),
}


@pytest.mark.parametrize("forge", BAD_ASSERTIONS.values(), ids=BAD_ASSERTIONS.keys())
def test_a_bad_assertion_is_invalid_client(pay: Harness, key: ClientKey, forge: Forge) -> None:
    _assert_refused(_token(pay, forge(key, "pay", _token_url(pay), pay.clock.now())))


@pytest.mark.parametrize(
    "assertion",
    [
        "x",
        "a.b.c",
        "e30.e30.",
        "....",
        "eyJhbGciOiJQUzI1NiJ9",
        "%ED%A0%80",
        "%00.%FF.%FE",
        "x" * 4000,
    ],
)
def test_garbage_is_invalid_client_never_a_5xx(pay: Harness, assertion: str) -> None:
    body = f"grant_type=client_credentials&client_assertion_type={JWT_BEARER}"
    response = pay.http.post(
        "/connect/token",
        content=f"{body}&client_assertion={assertion}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code in (400, 401), response.text
    assert response.json()["error"] in ("invalid_client", "invalid_request")


def test_an_overlong_assertion_is_invalid_request(pay: Harness) -> None:
    response = _token(pay, "x" * 9000)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_an_assertion_with_a_certificate_chain_may_be_longer_than_other_parameters(
    pay: Harness,
) -> None:
    """x5c in the header makes real assertions longer than 4 KiB: refused as a bad signature
    (invalid_client), not as a malformed request."""
    response = _token(pay, "x" * 5000)
    assert (response.status_code, response.json()["error"]) == (401, "invalid_client")


@pytest.mark.parametrize("sub", ["a\\u0000b", "\\ud800", "x" * 300, "tab\\there"])
@pytest.mark.parametrize("path", ["/connect/token", "/connect/revocation", "/connect/introspect"])
def test_a_subject_no_client_id_can_be_is_invalid_client_never_a_5xx(
    pay: Harness, sub: str, path: str
) -> None:
    """JSON escapes carry NUL and lone surrogates past the form parser's checks."""
    header = base64.urlsafe_b64encode(b'{"alg":"PS256"}').rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(f'{{"sub":"{sub}"}}'.encode()).rstrip(b"=").decode()
    body = {**CLIENT_CREDENTIALS, "token": "t", "client_assertion_type": JWT_BEARER,
            "client_assertion": f"{header}.{payload}.c2ln"}  # fmt: skip
    response = pay.http.post(path, data=body)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def test_an_assertion_is_accepted_once(pay: Harness, key: ClientKey) -> None:
    assertion = key.sign("pay", _token_url(pay), pay.clock.now())
    assert _token(pay, assertion).status_code == 200
    _assert_refused(_token(pay, assertion))


def test_a_private_key_jwt_client_cannot_use_a_secret(pay: Harness) -> None:
    body = pay.http.post(
        "/connect/token",
        data={**CLIENT_CREDENTIALS, "client_id": "pay", "client_secret": "a-guessed-secret-1234"},
    )
    _assert_refused(body)
    header = pay.http.post(
        "/connect/token", data=CLIENT_CREDENTIALS, headers=basic("pay", "a-guessed-secret-1234")
    )
    assert (header.status_code, header.json()) == (401, REFUSED)
    no_credentials = pay.http.post(
        "/connect/token", data={**CLIENT_CREDENTIALS, "client_id": "pay"}
    )
    _assert_refused(no_credentials)


def test_a_client_with_a_secret_cannot_use_an_assertion(harness: Harness, key: ClientKey) -> None:
    harness.add_client("shop", client_type="Confidential", grant_types=["client_credentials"])
    _assert_refused(_token(harness, key.sign("shop", _token_url(harness), harness.clock.now())))


def test_client_id_and_assertion_type_must_fit(pay: Harness, key: ClientKey) -> None:
    assertion = key.sign("pay", _token_url(pay), pay.clock.now())
    _assert_refused(_token(pay, assertion, client_id="other"))
    wrong_type = {
        **assertion_form(assertion),
        "client_assertion_type": "urn:x",
        **CLIENT_CREDENTIALS,
    }
    _assert_refused(pay.http.post("/connect/token", data=wrong_type))
    both = pay.http.post(
        "/connect/token", data=assertion_form(assertion, **CLIENT_CREDENTIALS, client_secret="x")
    )
    assert (both.status_code, both.json()["error"]) == (400, "invalid_request")
    assert _token(pay, assertion, client_id="pay").status_code == 200


def test_revocation_and_introspection_take_an_assertion_for_their_own_url(
    pay: Harness, key: ClientKey
) -> None:
    issuer, now = pay.settings.issuer, pay.clock.now()
    revoked = pay.http.post(
        "/connect/revocation",
        data=assertion_form(key.sign("pay", f"{issuer}/connect/revocation", now), token="x"),
    )
    assert revoked.status_code == 200, revoked.text
    introspected = pay.http.post(
        "/connect/introspect",
        data=assertion_form(key.sign("pay", f"{issuer}/connect/introspect", now), token="x"),
    )
    assert (introspected.status_code, introspected.json()) == (200, {"active": False})


def test_ciba_takes_an_assertion(harness: Harness, key: ClientKey) -> None:
    _add_pay(
        harness,
        "shop",
        jwks=key.public_jwks(),
        grant_types=[CIBA_GRANT],
        scopes=["openid", "vipps", "bankid"],
        ciba_enabled=True,
        redirect_uris=[],
    )
    harness.add_user(PHONE)
    aud = f"{harness.settings.issuer}/connect/ciba"
    form = {"scope": "openid vipps", "login_hint": "90000001"}
    response = harness.http.post(
        "/connect/ciba", data=assertion_form(key.sign("shop", aud, harness.clock.now()), **form)
    )
    assert response.status_code == 200, response.text
    assert "auth_req_id" in response.json()


@pytest.fixture
def jwks_server(key: ClientKey) -> Iterator[JwksServer]:
    server = JwksServer(key.public_jwks())
    yield server
    server.close()


def _client_jwks(h: Harness) -> Any:
    context: AppContext = h.http.app.state.context  # type: ignore[attr-defined]
    return context.client_jwks


def test_keys_at_a_jwks_uri_are_fetched_once_and_refetched_for_a_new_kid(
    harness: Harness, key: ClientKey, jwks_server: JwksServer
) -> None:
    _add_pay(harness, jwks_uri=jwks_server.uri)
    now, aud = harness.clock.now(), _token_url(harness)
    assert _token(harness, key.sign("pay", aud, now)).status_code == 200
    assert _token(harness, key.sign("pay", aud, now)).status_code == 200
    assert jwks_server.fetches == 1

    rotated = ClientKey.ec(kid="rotated")
    jwks_server.jwks = rotated.public_jwks()
    # Right after a fetch an unknown kid does not make idplus fetch again …
    _assert_refused(_token(harness, rotated.sign("pay", aud, now)))
    assert jwks_server.fetches == 1
    # … a little later it does, once.
    cache = _client_jwks(harness)
    started = cache.monotonic()
    cache.monotonic = lambda: started + 31
    assert _token(harness, rotated.sign("pay", aud, now)).status_code == 200
    _assert_refused(_token(harness, ClientKey.ec(kid="made-up").sign("pay", aud, now)))
    assert jwks_server.fetches == 2


def test_a_jwks_uri_that_does_not_answer_is_invalid_client(
    harness: Harness, key: ClientKey
) -> None:
    _add_pay(harness, jwks_uri=f"http://127.0.0.1:{free_port()}/jwks")
    _assert_refused(_token(harness, key.sign("pay", _token_url(harness), harness.clock.now())))


def test_discovery_advertises_private_key_jwt(harness: Harness) -> None:
    document = harness.http.get("/.well-known/openid-configuration").json()
    for endpoint in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        assert "private_key_jwt" in document[f"{endpoint}_auth_methods_supported"]
        assert document[f"{endpoint}_auth_signing_alg_values_supported"] == [
            "PS256",
            "ES256",
            "RS256",
        ]
