"""Interoperability of private_key_jwt (RFC 7523) against a real `idplus serve`: Authlib's
PrivateKeyJWT client authentication and openid-client's PrivateKeyJwt."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign

from tests.client_assertions import ClientKey
from tests.flows.node import INTEROP, node_with
from tests.live_server import LiveServer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class FiveMinutePrivateKeyJWT(PrivateKeyJWT):  # type: ignore[misc]
    """Authlib's assertions live an hour by default; idplus takes at most 5 minutes (exp-iat),
    so the client asks for one minute, Authlib's documented `expires_in`."""

    def sign(self, auth: Any, token_endpoint: str) -> str:
        return str(
            private_key_jwt_sign(
                auth.client_secret, auth.client_id, token_endpoint, alg=self.alg, expires_in=60
            )
        )


def _register(server: LiveServer, tmp_path: Path, client_id: str, key: ClientKey) -> None:
    jwks = tmp_path / f"{client_id}.jwks.json"
    jwks.write_text(json.dumps(key.public_jwks()))
    added = server.idplus(
        "client", "add", "--client-id", client_id, "--type", "Confidential",
        "--grant-type", "client_credentials", "--auth-method", "private_key_jwt",
        "--jwks", str(jwks),
    )  # fmt: skip
    assert added["client_secret"] is None


def test_authlib_authenticates_with_private_key_jwt(
    live_server: LiveServer, tmp_path: Path
) -> None:
    key = ClientKey.rsa(kid="authlib-1", alg="RS256")
    _register(live_server, tmp_path, "authlib-pay", key)
    discovery = httpx.get(f"{live_server.base_url}/.well-known/openid-configuration").json()
    token_endpoint = discovery["token_endpoint"]
    # A key object, not PEM text: joserfc warns about guessing a PEM's key type.
    private_key = key.key
    with OAuth2Client(
        client_id="authlib-pay",
        client_secret=private_key,
        token_endpoint_auth_method=FiveMinutePrivateKeyJWT(token_endpoint, alg="RS256"),
    ) as client:
        token = client.fetch_token(token_endpoint, grant_type="client_credentials")
        assert token["token_type"] == "Bearer"
        # Authlib signs a new assertion (new jti) for every request.
        again = client.fetch_token(token_endpoint, grant_type="client_credentials")
        assert again["access_token"] != token["access_token"]
    # Authlib's default assertion lives an hour: more than idplus takes.
    hour_long = PrivateKeyJWT(token_endpoint, alg="RS256")
    with (
        OAuth2Client("authlib-pay", private_key, token_endpoint_auth_method=hour_long) as c,
        pytest.raises(OAuthError, match="invalid_client"),
    ):
        c.fetch_token(token_endpoint, grant_type="client_credentials")
    with (
        OAuth2Client(client_id="authlib-pay", client_secret="not-a-key-but-a-secret-1234") as c,
        pytest.raises(OAuthError, match="invalid_client"),
    ):
        c.fetch_token(token_endpoint, grant_type="client_credentials")


def test_openid_client_authenticates_with_private_key_jwt(
    live_server: LiveServer, tmp_path: Path
) -> None:
    node = node_with("openid-client")
    key = ClientKey.rsa(kid="node-1")
    _register(live_server, tmp_path, "node-pay", key)
    private_jwk = json.dumps(dict(key.key.as_dict(private=True)))
    done = subprocess.run(
        [node, str(INTEROP / "openid_client_private_key_jwt.mjs"), live_server.base_url,
         "node-pay", private_jwk],
        capture_output=True, text=True, cwd=INTEROP, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.splitlines()[-1])
    assert answer == {
        "token_type": "bearer",
        "active": True,
        "client_id": "node-pay",
        "second_grant": "ok",
    }
