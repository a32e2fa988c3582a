"""A `--profile fapi2` client (FAPI 2.0 Security Profile) against a real `idplus serve`.

openid-client (npm) runs the whole flow as a FAPI 2.0 relying party (tests/interop/fapi2.mjs):
a pushed request with a DPoP proof, PKCE S256, state and nonce; the login in a script browser;
the code redeemed with private_key_jwt and DPoP; the ID token's alg and signature checked by
openid-client; userinfo and a refresh with DPoP. With IDPLUS_DPOP_REQUIRE_NONCE the same flow
runs through openid-client's own use_dpop_nonce retries (RFC 9449 §8).

From Python, the server refuses what the profile forbids: a plain (not pushed) authorization
request, a token request without DPoP, an assertion naming the token endpoint instead of the
issuer (FAPI 2.0 §5.3.2.1), and an RS256 assertion (§5.4.1).
"""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from idplus.protocol.authorize import PAR_REQUIRED
from tests.client_assertions import ClientKey, assertion_form
from tests.dpop_proofs import DpopKey
from tests.flows.forms import FormBrowser
from tests.flows.node import INTEROP, node_with
from tests.harness import s256
from tests.live_server import LiveServer, RelyingParty, run_live_server

SCRIPT = INTEROP / "fapi2.mjs"
USERNAME, PASSWORD = "+4795000019", "hunter2hunter"


@pytest.fixture
def node() -> str:
    return node_with("openid-client")


@pytest.fixture
def nonce_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A live server whose DPoP proofs must carry its nonces."""
    yield from run_live_server(tmp_path, dpop_require_nonce="true")


def _register(
    server: LiveServer,
    tmp_path: Path,
    relying_party: RelyingParty,
    key: ClientKey,
    *extra: str,
) -> str:
    client_id = f"bank-{key.alg.lower()}"
    jwks = tmp_path / f"{client_id}.jwks.json"
    jwks.write_text(json.dumps(key.public_jwks()))
    added = server.idplus(
        "client", "add", "--client-id", client_id, "--type", "Confidential",
        "--profile", "fapi2", "--jwks", str(jwks), "--redirect-uri", relying_party.callback,
        "--scope", "openid", "--scope", "profile", "--scope", "offline_access", *extra,
    )  # fmt: skip
    assert added["client_secret"] is None
    server.idplus("user", "add", "--username", USERNAME, "--password", PASSWORD,
                  "--given-name", "Kari")  # fmt: skip
    return client_id


def _log_in(url: str, relying_party: RelyingParty) -> str:
    """The browser's part: the login page, then the redirect back to the client."""
    with httpx.Client() as http:
        browser = FormBrowser(http, relying_party.base_url)
        browser.get(url)
        done = browser.submit({"username": USERNAME, "password": PASSWORD}, ("action", "login"))
    location: str = done.headers["location"]
    return location


def _node(node: str, mode: str, params: dict[str, Any]) -> Any:
    run = subprocess.run([node, str(SCRIPT), mode, json.dumps(params)], capture_output=True,
                         text=True, timeout=60, check=False, cwd=INTEROP)  # fmt: skip
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def _openid_client_flow(
    node: str,
    server: LiveServer,
    relying_party: RelyingParty,
    client_id: str,
    key: ClientKey,
    id_token_alg: str,
) -> tuple[dict[str, Any], dict[str, Any], DpopKey]:
    """openid-client pushes, the browser logs in, openid-client redeems: (push, redeem, key)."""
    dpop_key = DpopKey("ES256")
    params = {
        "issuer": server.base_url,
        "client_id": client_id,
        "client_jwk": dict(key.key.as_dict(private=True)),
        "client_alg": key.alg,
        "dpop_jwk": dict(dpop_key.key.as_dict(private=True)),
        "id_token_alg": id_token_alg,
        "redirect_uri": relying_party.callback,
        "verifier": secrets.token_urlsafe(32),
        "state": secrets.token_urlsafe(16),
        "nonce": secrets.token_urlsafe(16),
    }
    pushed = _node(node, "push", params)
    assert pushed["url"].startswith(f"{server.base_url}/connect/authorize?")
    assert "code_challenge" not in pushed["url"]  # the request travelled pushed, not in the URL
    callback = _log_in(pushed["url"], relying_party)
    answer = _node(node, "redeem", {**params, "callback": callback})
    assert answer["claims"]["nonce"] == params["nonce"]
    return pushed, answer, dpop_key


@pytest.mark.parametrize(
    ("client_alg", "signing_alg"),
    [("PS256", None), ("ES256", "ES256")],
    ids=["PS256-by-default", "ES256-chosen"],
)
def test_openid_client_runs_a_fapi2_client_end_to_end(
    node: str,
    live_server: LiveServer,
    relying_party: RelyingParty,
    tmp_path: Path,
    client_alg: str,
    signing_alg: str | None,
) -> None:
    key = ClientKey.rsa(kid="bank-rsa") if client_alg == "PS256" else ClientKey.ec(kid="bank-ec")
    chosen = ("--signing-alg", signing_alg) if signing_alg else ()
    client_id = _register(live_server, tmp_path, relying_party, key, *chosen)
    id_token_alg = signing_alg or "PS256"

    pushed, answer, dpop_key = _openid_client_flow(
        node, live_server, relying_party, client_id, key, id_token_alg
    )

    (par,) = [x for x in pushed["exchanges"] if x["path"] == "/connect/par"]
    assert par["dpop"] and par["status"] == 201
    # openid-client lower-cases token_type; idplus answers "DPoP" (RFC 9449 §5).
    assert answer["token_type"] == "dpop"
    assert answer["access_token_claims"]["cnf"] == {"jkt": dpop_key.jkt}
    assert answer["dpop_jkt"] == dpop_key.jkt
    # openid-client refused any other alg and checked the signature against the JWKS.
    assert answer["id_token_header"]["alg"] == id_token_alg
    assert answer["claims"]["aud"] == client_id
    assert answer["userinfo"]["given_name"] == "Kari"
    refreshed = answer["refreshed"]
    assert refreshed["token_type"] == "dpop" and refreshed["new_access_token"]
    assert refreshed["access_token_claims"]["cnf"] == {"jkt": dpop_key.jkt}
    assert all(x["dpop"] for x in answer["exchanges"] if x["path"] != "/.well-known/jwks.json")


def test_openid_client_answers_the_servers_dpop_nonce_challenges(
    node: str, nonce_server: LiveServer, relying_party: RelyingParty, tmp_path: Path
) -> None:
    key = ClientKey.rsa(kid="bank-nonce")
    client_id = _register(nonce_server, tmp_path, relying_party, key)

    pushed, answer, dpop_key = _openid_client_flow(
        node, nonce_server, relying_party, client_id, key, "PS256"
    )

    # Each node process starts without a nonce: its first proof is refused with
    # use_dpop_nonce and a DPoP-Nonce header, and openid-client retries once with it.
    assert _dpop_exchanges(pushed) == [
        ("/connect/par", 400, "use_dpop_nonce", True),
        ("/connect/par", 201, None, True),
    ]
    # Userinfo (a resource: 401 and a WWW-Authenticate challenge) gets its own handle; the
    # refresh reuses the nonce the token endpoint sent with its tokens.
    assert _dpop_exchanges(answer) == [
        ("/connect/token", 400, "use_dpop_nonce", True),
        ("/connect/token", 200, None, True),
        ("/connect/userinfo", 401, "use_dpop_nonce", True),
        ("/connect/userinfo", 200, None, True),
        ("/connect/token", 200, None, True),
    ]
    assert answer["access_token_claims"]["cnf"] == {"jkt": dpop_key.jkt}
    assert answer["userinfo"]["given_name"] == "Kari"


def _dpop_exchanges(report: dict[str, Any]) -> list[tuple[str, int, str | None, bool]]:
    return [
        (x["path"], x["status"], x["error"], x["dpop_nonce"])
        for x in report["exchanges"]
        if x["dpop"]
    ]


def test_the_real_server_holds_a_fapi2_client_to_the_profile(
    live_server: LiveServer, relying_party: RelyingParty, tmp_path: Path
) -> None:
    key = ClientKey.rsa(kid="bank-python")
    client_id = _register(live_server, tmp_path, relying_party, key)
    discovery = httpx.get(f"{live_server.base_url}/.well-known/openid-configuration").json()
    issuer, token_url = discovery["issuer"], discovery["token_endpoint"]
    verifier = secrets.token_urlsafe(32)
    request = {
        "client_id": client_id, "redirect_uri": relying_party.callback, "response_type": "code",
        "scope": "openid offline_access", "state": "st-1", "code_challenge": s256(verifier),
        "code_challenge_method": "S256",
    }  # fmt: skip

    plain = httpx.get(f"{discovery['authorization_endpoint']}?{urlencode(request)}")
    assert plain.headers["location"].startswith(f"{relying_party.callback}?")
    refusal = _query(plain.headers["location"])
    assert (refusal["error"], refusal["error_description"]) == ("invalid_request", PAR_REQUIRED)

    dpop_key = DpopKey("ES256")
    par_url = discovery["pushed_authorization_request_endpoint"]
    pushed = httpx.post(
        par_url,
        data=assertion_form(key.sign(client_id, issuer, datetime.now(UTC)), **request),
        headers={"DPoP": dpop_key.proof("POST", par_url)},
    )
    assert pushed.status_code == 201, pushed.text
    authorize = f"{discovery['authorization_endpoint']}?" + urlencode(
        {"client_id": client_id, "request_uri": pushed.json()["request_uri"]}
    )
    code = _query(_log_in(authorize, relying_party))["code"]

    def redeem(assertion: str, *, dpop: bool = True) -> httpx.Response:
        form = assertion_form(
            assertion,
            grant_type="authorization_code",
            code=code,
            redirect_uri=relying_party.callback,
            code_verifier=verifier,
        )
        headers = {"DPoP": dpop_key.proof("POST", token_url)} if dpop else {}
        return httpx.post(token_url, data=form, headers=headers)

    def signed(signer: ClientKey, aud: str) -> str:
        return signer.sign(client_id, aud, datetime.now(UTC))

    without_dpop = redeem(signed(key, issuer), dpop=False)
    assert (without_dpop.status_code, without_dpop.json()["error"]) == (400, "invalid_dpop_proof")
    endpoint_aud = redeem(signed(key, token_url))
    assert (endpoint_aud.status_code, endpoint_aud.json()["error"]) == (401, "invalid_client")
    rs256 = redeem(signed(ClientKey(key.key, "RS256"), issuer))
    assert (rs256.status_code, rs256.json()["error"]) == (401, "invalid_client")
    # None of the refusals spent the code: the client's correct request still redeems it.
    tokens = redeem(signed(key, issuer))
    assert tokens.status_code == 200, tokens.text
    assert tokens.json()["token_type"] == "DPoP"
    # A refresh is a token request too: without a proof it is refused the same way.
    refresh_token = tokens.json()["refresh_token"]
    refresh = assertion_form(
        signed(key, issuer), grant_type="refresh_token", refresh_token=refresh_token
    )
    unproven = httpx.post(token_url, data=refresh)
    assert (unproven.status_code, unproven.json()["error"]) == (400, "invalid_dpop_proof")


def _query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}
