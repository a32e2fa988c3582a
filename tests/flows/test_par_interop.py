"""Interoperability of pushed authorization requests (RFC 9126) against a real `idplus serve`.

openid-client (npm) pushes with client_secret_basic through `buildAuthorizationUrlWithPAR`,
a script browser logs in at the URL it builds, and openid-client redeems the code. Authlib
(1.9) has no client-side PAR, so it has no test here.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from typing import Any

import httpx
import pytest

from tests.flows.forms import FormBrowser
from tests.flows.node import INTEROP, node_with
from tests.live_server import LiveServer, RelyingParty

SCRIPT = INTEROP / "openid_client_par.mjs"
SECRET = "par-interop-secret-0123456789"


@pytest.fixture
def node() -> str:
    return node_with("openid-client")


def _run(node: str, *argv: str) -> Any:
    run = subprocess.run([node, str(SCRIPT), *argv], capture_output=True, text=True,
                         timeout=60, check=False, cwd=INTEROP)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_openid_client_pushes_the_request_of_a_client_that_requires_par(
    node: str, live_server: LiveServer, relying_party: RelyingParty
) -> None:
    live_server.idplus("client", "add", "--client-id", "bank", "--type", "Confidential",
                       "--secret", SECRET, "--require-par", "--scope", "openid",
                       "--scope", "profile", "--redirect-uri", relying_party.callback)  # fmt: skip
    live_server.idplus("user", "add", "--username", "+4795000002", "--password", "hunter2hunter",
                       "--given-name", "Kari")  # fmt: skip
    verifier, state, nonce = (secrets.token_urlsafe(32) for _ in range(3))
    common = (live_server.base_url, "bank", SECRET)

    pushed = _run(node, "push", *common, relying_party.callback, verifier, state, nonce)

    assert pushed["url"].startswith(f"{live_server.base_url}/connect/authorize?")
    assert "urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A" in pushed["url"]
    assert "redirect_uri" not in pushed["url"]
    with httpx.Client() as http:
        browser = FormBrowser(http, relying_party.base_url)
        browser.get(pushed["url"])
        done = browser.submit({"username": "+4795000002", "password": "hunter2hunter"},
                              ("action", "login"))  # fmt: skip
    callback = done.headers["location"]
    answer = _run(node, "redeem", *common, callback, verifier, state, nonce)
    assert answer["claims"]["aud"] == "bank"
    assert answer["claims"]["nonce"] == nonce
    assert answer["userinfo"]["given_name"] == "Kari"
