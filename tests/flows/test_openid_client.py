"""Interoperability: openid-client (npm) redeems a code, validates the ID token and refreshes."""

from __future__ import annotations

import json
import secrets
import subprocess
from urllib.parse import urlencode

import httpx
import pytest

from idplus.protocol.pkce import s256_challenge
from tests.flows.forms import FormBrowser
from tests.flows.node import INTEROP, node_with
from tests.live_server import LiveServer, RelyingParty

SCRIPT = INTEROP / "openid_client_rp.mjs"


@pytest.fixture
def node() -> str:
    return node_with("openid-client")


def test_openid_client_code_flow_with_pkce_and_refresh(
    node: str, live_server: LiveServer, relying_party: RelyingParty
) -> None:
    scopes = ["--scope", "openid", "--scope", "offline_access", "--scope", "profile"]
    live_server.idplus("client", "add", "--client-id", "node-app", "--type", "MobileApp",
                       "--redirect-uri", relying_party.callback, *scopes)  # fmt: skip
    live_server.idplus("user", "add", "--username", "+4795000001", "--password", "hunter2hunter",
                       "--given-name", "Ola")  # fmt: skip
    verifier, nonce, state = (secrets.token_urlsafe(32) for _ in range(3))
    query = urlencode({
        "client_id": "node-app", "redirect_uri": relying_party.callback, "response_type": "code",
        "scope": "openid offline_access profile", "state": state, "nonce": nonce,
        "code_challenge": s256_challenge(verifier), "code_challenge_method": "S256",
    })  # fmt: skip
    with httpx.Client(base_url=live_server.base_url) as http:
        browser = FormBrowser(http, relying_party.base_url)
        browser.get(f"/connect/authorize?{query}")
        done = browser.submit({"username": "+4795000001", "password": "hunter2hunter"},
                              ("action", "login"))  # fmt: skip
    callback = done.headers["location"]

    run = subprocess.run(
        [node, str(SCRIPT), live_server.base_url, "node-app", callback, verifier, nonce, state],
        capture_output=True, text=True, timeout=60, check=False, cwd=INTEROP,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    answer = json.loads(run.stdout)
    assert answer["claims"]["aud"] == "node-app"
    assert answer["claims"]["iss"] == live_server.base_url
    assert answer["userinfo"]["sub"] == answer["claims"]["sub"]
    assert answer["userinfo"]["given_name"] == "Ola"
    assert answer["refreshed"] is True
