"""Interoperability: Authlib's OAuth 2.0 / OIDC client against a real idplus process."""

from __future__ import annotations

import secrets

import httpx
import pytest
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client

from tests.flows.forms import FormBrowser
from tests.live_server import LiveServer, RelyingParty

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_authlib_runs_code_flow_with_pkce_refresh_and_validates_the_id_token(
    live_server: LiveServer, relying_party: RelyingParty
) -> None:
    from authlib.jose import JsonWebKey, jwt
    from authlib.oidc.core import CodeIDToken

    scopes = ["--scope", "openid", "--scope", "offline_access", "--scope", "profile"]
    live_server.idplus("client", "add", "--client-id", "mobile", "--type", "MobileApp",
                       "--redirect-uri", relying_party.callback, *scopes)  # fmt: skip
    live_server.idplus("user", "add", "--username", "+4793000001", "--password", "hunter2hunter")
    discovery = httpx.get(f"{live_server.base_url}/.well-known/openid-configuration").json()
    with OAuth2Client(
        client_id="mobile",
        redirect_uri=relying_party.callback,
        scope="openid offline_access profile",
        code_challenge_method="S256",
        token_endpoint_auth_method="none",
    ) as client:
        verifier = generate_token(64)
        nonce = secrets.token_urlsafe(16)
        url, state = client.create_authorization_url(
            discovery["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )

        with httpx.Client() as http:
            browser = FormBrowser(http, relying_party.base_url)
            browser.get(url)
            done = browser.submit({"username": "+4793000001", "password": "hunter2hunter"},
                                  ("action", "login"))  # fmt: skip
        token = client.fetch_token(
            discovery["token_endpoint"],
            authorization_response=done.headers["location"],
            code_verifier=verifier,
            state=state,
        )

        jwks = JsonWebKey.import_key_set(httpx.get(discovery["jwks_uri"]).json())
        claims = jwt.decode(
            token["id_token"],
            jwks,
            claims_cls=CodeIDToken,
            claims_options={"iss": {"essential": True, "value": live_server.base_url}},
            claims_params={
                "nonce": nonce,
                "client_id": "mobile",
                "access_token": token["access_token"],
            },
        )
        claims.validate()
        assert claims["aud"] == "mobile"

        refreshed = client.refresh_token(
            discovery["token_endpoint"], refresh_token=token["refresh_token"]
        )
        assert refreshed["refresh_token"] != token["refresh_token"]
        userinfo = client.get(discovery["userinfo_endpoint"]).json()
        assert userinfo["sub"] == claims["sub"]
