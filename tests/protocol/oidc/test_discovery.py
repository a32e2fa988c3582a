"""The discovery document is built from the endpoints that exist, under the issuer."""

from __future__ import annotations

from idplus.protocol.oidc.discovery import build_discovery_document


def test_only_given_endpoints_are_listed_under_the_issuer() -> None:
    document = build_discovery_document("https://id.example", {"jwks_uri": "/jwks"})
    assert document["issuer"] == "https://id.example"
    assert document["jwks_uri"] == "https://id.example/jwks"
    assert not [k for k in document if k.endswith("_endpoint")]


def test_identity_scopes_are_advertised_and_api_scopes_are_not() -> None:
    scopes = build_discovery_document("https://id.example", {})["scopes_supported"]
    assert {"openid", "offline_access", "tnn.ids", "account.profiles"} <= set(scopes)
    assert not [s for s in scopes if s.startswith("api:")]
