"""What `make run` does from a fresh clone, against a real server process."""

from __future__ import annotations

import json
import time

import httpx
from joserfc.jwk import KeySet

from tests.live_server import LiveServer


def test_fresh_server_publishes_discovery_and_a_key_per_algorithm(
    live_server: LiveServer,
) -> None:
    discovery = httpx.get(f"{live_server.base_url}/.well-known/openid-configuration").json()
    assert discovery["issuer"] == live_server.base_url

    jwks = httpx.get(discovery["jwks_uri"]).json()

    keys = jwks["keys"]
    assert sorted((k["kty"], k["use"], k["alg"]) for k in keys) == [
        ("EC", "sig", "ES256"),
        ("RSA", "sig", "PS256"),
        ("RSA", "sig", "RS256"),
    ]
    assert all(key["kid"] for key in keys)


def test_demo_seed_is_printed_once(live_server: LiveServer) -> None:
    clients = {c["client_id"]: c for c in live_server.seed["clients"]}
    assert clients["demo-spa"]["redirect_uri"] == f"{live_server.base_url}/debugger/callback"
    assert clients["demo-web"]["client_secret"]
    assert live_server.idplus("demo", "seed") == {"seeded": False}


def test_key_rotation_keeps_old_tokens_verifiable(live_server: LiveServer) -> None:
    before = httpx.get(f"{live_server.base_url}/.well-known/jwks.json").json()
    (old_kid,) = (k["kid"] for k in before["keys"] if k["alg"] == "RS256")
    new_kid = live_server.idplus("keys", "rotate")["kid"]
    states = {k["kid"]: k["state"] for k in live_server.idplus("keys", "list")}
    # On a slow machine the new key may already have activated (two cache periods, 2 s here).
    assert states[old_kid] in {"signing", "retiring"}
    assert states[new_kid] in {"next", "signing"}

    # The running server rereads its keys every key_cache_seconds (1 s here); the new key
    # must be published by then while the old one stays.
    after = _wait_for_key_count(live_server, 6)  # the old and the new key of each algorithm
    assert {k["kid"] for k in before["keys"]} < {k["kid"] for k in after["keys"]}
    KeySet.import_key_set(after)


def test_server_logs_are_json_lines(live_server: LiveServer) -> None:
    httpx.get(f"{live_server.base_url}/nothing-here", headers={"X-Request-ID": "flow-1"})
    # The access log line is written just after the answer: wait for it, within bounds.
    deadline = time.monotonic() + 10
    while True:
        text = live_server.log_path.read_text()
        lines = [json.loads(line) for line in text.splitlines() if line]
        if any(e.get("request_id") == "flow-1" for e in lines) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert any(e.get("request_id") == "flow-1" for e in lines)


def _wait_for_key_count(server: LiveServer, count: int) -> dict[str, list[dict[str, str]]]:
    deadline = time.monotonic() + 15
    while True:
        jwks: dict[str, list[dict[str, str]]] = httpx.get(
            f"{server.base_url}/.well-known/jwks.json"
        ).json()
        if len(jwks["keys"]) >= count or time.monotonic() > deadline:
            return jwks
        time.sleep(0.25)
