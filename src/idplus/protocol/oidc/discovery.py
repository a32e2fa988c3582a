"""The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414 §2).

It lists exactly the endpoints the server has: the route table hands over each endpoint's
metadata name and path, and only those appear.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from idplus.crypto.client_keys import ASSERTION_ALGORITHMS
from idplus.models import SIGNING_ALGORITHMS
from idplus.policies import IDENTITY_SCOPES
from idplus.protocol.dpop.proof import DPOP_ALGORITHMS

CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
CLAIMS_SUPPORTED = (
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "idp",
    "sid",
    "ibis.sid",
    "analytics_uuid",
    "given_name",
    "family_name",
    "birthdate",
    "preferred_username",
    "email",
    "phone_number",
    "kurtid",
    "tnuid",
    "extsub",
    "ial",
    "legacy_username",
    "legacy_usertype",
    "legacy_status",
    "legacy_roles",
)


def build_discovery_document(
    issuer: str, endpoints: Mapping[str, str], grant_types: Iterable[str] = ()
) -> dict[str, Any]:
    """`endpoints` maps metadata names (e.g. `jwks_uri`) to paths under the issuer;
    `grant_types` are those the token endpoint implements."""
    document: dict[str, Any] = {"issuer": issuer}
    for name, path in sorted(endpoints.items()):
        document[name] = issuer + path
    document.update(
        {
            "scopes_supported": list(IDENTITY_SCOPES),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            # RS256 first: the default, and what a client that names none expects.
            "id_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
            "claims_supported": list(CLAIMS_SUPPORTED),
            "acr_values_supported": [
                "urn:telenor.identity.aal.1",
                "urn:telenor.identity.aal.2",
                "urn:telenor.identity.aal.3",
            ],
            "ui_locales_supported": ["en", "no"],
        }
    )
    if "authorization_endpoint" in endpoints:
        document["authorization_response_iss_parameter_supported"] = True
        document["code_challenge_methods_supported"] = ["S256"]
        document["prompt_values_supported"] = ["none", "login"]
    if "token_endpoint" in endpoints:
        document["grant_types_supported"] = sorted(grant_types)
        document["token_endpoint_auth_methods_supported"] = list(CLIENT_AUTH_METHODS)
        document["token_endpoint_auth_signing_alg_values_supported"] = list(ASSERTION_ALGORITHMS)
        # RFC 9449 §5.1: DPoP proofs at the token endpoint (and userinfo, PAR).
        document["dpop_signing_alg_values_supported"] = list(DPOP_ALGORITHMS)
    if "pushed_authorization_request_endpoint" in endpoints:
        # RFC 9126 §5: PAR is per client (`idplus client add --require-par`), not server-wide.
        document["require_pushed_authorization_requests"] = False
        # A request_uri is only ever a pushed request's (OIDC Discovery's default is true).
        document["request_uri_parameter_supported"] = False
    if "backchannel_authentication_endpoint" in endpoints:
        document["backchannel_token_delivery_modes_supported"] = ["poll", "ping"]
        document["backchannel_user_code_parameter_supported"] = False
    if "end_session_endpoint" in endpoints:
        document["backchannel_logout_supported"] = True
        document["backchannel_logout_session_supported"] = True
    for name in ("revocation_endpoint", "introspection_endpoint"):
        if name in endpoints:
            prefix = name.removesuffix("_endpoint")
            document[f"{prefix}_endpoint_auth_methods_supported"] = list(CLIENT_AUTH_METHODS)
            document[f"{prefix}_endpoint_auth_signing_alg_values_supported"] = list(
                ASSERTION_ALGORITHMS
            )
    return document
