"""Discovery lists exactly the endpoints that exist; the JWKS publishes the signing keys (one
per algorithm: RS256, PS256, ES256)."""

from __future__ import annotations

from joserfc import jwt
from joserfc.jwk import KeySet
from starlette.testclient import TestClient

from idplus.application.routes import ENDPOINTS
from idplus.clock import FrozenClock
from idplus.config import Settings
from idplus.manage.keys import KeyRingCache, activation_delay, rotate_signing_key
from idplus.store.sql.uow import SqlStore


def test_discovery_document_names_the_issuer_and_its_jwks(
    client: TestClient, settings: Settings
) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    document = response.json()
    assert document["issuer"] == settings.issuer
    assert document["jwks_uri"] == f"{settings.issuer}/.well-known/jwks.json"
    assert document["subject_types_supported"] == ["pairwise"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256", "PS256", "ES256"]
    assert "openid" in document["scopes_supported"]
    assert not any(s.startswith("api:") for s in document["scopes_supported"])


def test_every_advertised_endpoint_is_served(client: TestClient, settings: Settings) -> None:
    document = client.get("/.well-known/openid-configuration").json()
    advertised = {k: v for k, v in document.items() if k.endswith(("_uri", "_endpoint"))}
    served = {settings.issuer + e.path for e in ENDPOINTS}
    assert advertised
    assert set(advertised.values()) <= served


def test_jwks_publishes_a_signing_key_per_algorithm(client: TestClient) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    keys = response.json()["keys"]
    assert sorted((k["kty"], k["use"], k["alg"]) for k in keys) == [
        ("EC", "sig", "ES256"),
        ("RSA", "sig", "PS256"),
        ("RSA", "sig", "RS256"),
    ]
    assert all(key["kid"] for key in keys)
    assert not any("d" in key for key in keys)


def test_token_of_the_old_key_verifies_against_the_jwks_after_rotation(
    client: TestClient, settings: Settings, clock: FrozenClock
) -> None:
    store = SqlStore.from_url(settings.database_url)
    try:
        old_token = KeyRingCache(store, settings, clock).current().sign({"sub": "alice"})
        rotate_signing_key(store, settings, clock)
    finally:
        store.dispose()
    clock.advance(activation_delay(settings))

    jwks = client.get("/.well-known/jwks.json").json()

    assert len(jwks["keys"]) == 6  # three algorithms, the old and the new key of each
    assert jwt.decode(old_token, KeySet.import_key_set(jwks)).claims == {"sub": "alice"}
