"""Federation with a real third-party upstream: node-oidc-provider (npm `oidc-provider`).

The upstream runs `tests/interop/oidc_provider_upstream.mjs` on 127.0.0.3 (its own cookies,
apart from idplus on 127.0.0.1) with one static confidential client: idplus. Its development
login form takes any login name; the consent page follows. A script browser walks both.
Covered: the login and SSO, cancelling at node, userinfo claims and `--link-by email` (and its
refusals), `extsub`, RP-initiated logout through node's end_session, and the native JSON
logout revoking node's refresh token (424 when node is down).
"""

from __future__ import annotations

import base64
import html
import json
import re
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.flows.forms import FormBrowser, parse_forms
from tests.flows.node import INTEROP, node_with
from tests.harness import VERIFIER, s256
from tests.live_server import LiveServer, RelyingParty

SCRIPT = INTEROP / "oidc_provider_upstream.mjs"
NODE_HOST = "127.0.0.3"
PROVIDER_ID = "node"
UPSTREAM_CLIENT_ID = "idplus-hub"
UPSTREAM_SECRET = "node-upstream-client-secret-0123456789"
RP_SECRET = "rp-client-secret-0123456789abcdef"
NODE_ACR = "urn:telenor.identity.aal.2"
NODE_AMR = ["urn:telenor.identity.amr.node_pwd", "ext"]
PASSWORD = "hunter2hunter"
PROVIDER_SCOPES = ("--scope", "email", "--scope", "phone", "--scope", "profile")


@dataclass
class NodeUpstream:
    """A running node-oidc-provider; `requests()` lists every request it has received."""

    issuer: str
    stdout: Path
    stderr: Path
    process: subprocess.Popen[bytes]

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.read_text().splitlines() if line]

    def requests(self) -> list[str]:
        return [str(e["request"]) for e in self.events() if "request" in e]

    def responses(self) -> list[tuple[str, int]]:
        """(request, HTTP status) of every request node has answered."""
        return [(str(e["response"]), int(e["status"])) for e in self.events() if "response" in e]

    def refresh_tokens(self, what: str = "saved") -> list[str]:
        """The refresh tokens node issued (`saved`) or revoked (`destroyed`)."""
        return [str(e["token"]) for e in self.events() if e.get("event") == f"refresh_token.{what}"]

    def metadata(self) -> dict[str, Any]:
        found = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=10)
        assert found.status_code == 200, found.text
        document: dict[str, Any] = found.json()
        return document

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def run_node_upstream(
    node: str,
    tmp_path: Path,
    idplus_issuer: str,
    *,
    provider_id: str = PROVIDER_ID,
    accounts: Mapping[str, Mapping[str, Any]] | None = None,
    conform_id_token_claims: bool = False,
) -> Iterator[NodeUpstream]:
    """Start the upstream with idplus's fixed return URIs registered; `accounts` maps login
    names to claims over the script's defaults (a None value removes a claim)."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    config = {
        "host": NODE_HOST,
        "port": 0,
        "client": {
            "client_id": UPSTREAM_CLIENT_ID,
            "client_secret": UPSTREAM_SECRET,
            "redirect_uris": [f"{idplus_issuer}/federation/{provider_id}/callback"],
            "post_logout_redirect_uris": [f"{idplus_issuer}/federation/{provider_id}/logged-out"],
        },
        "accounts": dict(accounts or {}),
        "conformIdTokenClaims": conform_id_token_claims,
    }
    config_path = tmp_path / "node-upstream.json"
    config_path.write_text(json.dumps(config))
    stdout, stderr = tmp_path / "node-upstream.out", tmp_path / "node-upstream.err"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [node, str(SCRIPT), str(config_path)], cwd=INTEROP, stdout=out, stderr=err
        )
    try:
        yield NodeUpstream(_wait_for_ready(process, stdout, stderr), stdout, stderr, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_ready(process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        first = stdout.read_text().partition("\n")
        if first[1]:
            ready = json.loads(first[0])
            assert ready.get("ready") is True, first[0]
            return str(ready["issuer"])
        if process.poll() is not None:
            raise RuntimeError(f"node upstream exited: {stderr.read_text()[-2000:]}")
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"node upstream did not become ready: {stderr.read_text()[-2000:]}")


@pytest.fixture
def node() -> str:
    return node_with("oidc-provider")


StartUpstream = Callable[..., NodeUpstream]


@pytest.fixture
def start_upstream(node: str, tmp_path: Path, live_server: LiveServer) -> Iterator[StartUpstream]:
    """Starts node with `run_node_upstream`'s keyword options; stopped after the test."""
    with ExitStack() as stack:

        def start(**options: Any) -> NodeUpstream:
            running = contextmanager(run_node_upstream)(
                node, tmp_path / "node", live_server.base_url, **options
            )
            return stack.enter_context(running)

        yield start


@pytest.fixture
def upstream(start_upstream: StartUpstream) -> NodeUpstream:
    return start_upstream()


def _add_provider(live_server: LiveServer, upstream: NodeUpstream, *flags: str) -> None:
    """Register the node upstream at idplus as provider `node`."""
    added = live_server.idplus("provider", "add", "--id", PROVIDER_ID, "--issuer", upstream.issuer,
                               "--client-id", UPSTREAM_CLIENT_ID,
                               "--client-secret", UPSTREAM_SECRET, *PROVIDER_SCOPES,
                               "--display-name", "node-oidc-provider", "--acr", NODE_ACR,
                               "--amr", NODE_AMR[0], "--amr", NODE_AMR[1],
                               "--token-auth-method", "client_secret_basic", *flags)  # fmt: skip
    assert added["redirect_uri"] == f"{live_server.base_url}/federation/{PROVIDER_ID}/callback"
    assert added["post_logout_redirect_uri"] == (
        f"{live_server.base_url}/federation/{PROVIDER_ID}/logged-out"
    )


@pytest.fixture
def federated(live_server: LiveServer, upstream: NodeUpstream) -> NodeUpstream:
    """idplus with the node upstream registered as provider `node`."""
    _add_provider(live_server, upstream)
    return upstream


class RecordingBrowser(FormBrowser):
    """A FormBrowser whose client records every URL it requests, and that can follow a link."""

    def __init__(self, http: httpx.Client, stop_prefix: str, visited: list[str]) -> None:
        super().__init__(http, stop_prefix)
        self.visited = visited

    def follow_link(self, text: str) -> Any:
        """GET the href of the page's `<a>` whose text is `text` (node's `[ Cancel ]`)."""
        found = re.search(rf'<a href="([^"]*)">\s*{re.escape(text)}\s*</a>', self.last.text)
        assert found, f"no link {text!r} on {self.last.url}"
        return self.get(urljoin(str(self.last.url), html.unescape(found[1])))


@pytest.fixture
def browser(relying_party: RelyingParty) -> Iterator[RecordingBrowser]:
    visited: list[str] = []

    def record(request: httpx.Request) -> None:
        visited.append(str(request.url))

    with httpx.Client(timeout=10, event_hooks={"request": [record]}) as http:
        yield RecordingBrowser(http, relying_party.callback, visited)


def _add_rp(
    live_server: LiveServer, relying_party: RelyingParty, client_id: str, *flags: str
) -> None:
    live_server.idplus("client", "add", "--client-id", client_id, "--type", "Confidential",
                       "--secret", RP_SECRET, "--redirect-uri", relying_party.callback,
                       "--scope", "openid", "--scope", "profile",
                       "--provider", "local", "--provider", PROVIDER_ID, *flags)  # fmt: skip


def _authorize_url(
    live_server: LiveServer,
    relying_party: RelyingParty,
    client_id: str,
    scope: str = "openid",
    **extra: str,
) -> str:
    return f"{live_server.base_url}/connect/authorize?" + str(
        httpx.QueryParams(
            client_id=client_id,
            redirect_uri=relying_party.callback,
            response_type="code",
            scope=scope,
            state=f"{client_id}-state",
            nonce=f"{client_id}-nonce",
            code_challenge=s256(VERIFIER),
            code_challenge_method="S256",
            **extra,
        )
    )


def _query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _id_token_claims(
    live_server: LiveServer, relying_party: RelyingParty, client_id: str, code: str
) -> dict[str, Any]:
    """Redeem the code at idplus (client_secret_basic) and decode the ID token's claims."""
    return _claims(_tokens(live_server, relying_party, client_id, code)["id_token"])


def _tokens(
    live_server: LiveServer, relying_party: RelyingParty, client_id: str, code: str
) -> dict[str, Any]:
    """Redeem the code at idplus (client_secret_basic): the token response."""
    tokens = httpx.post(
        f"{live_server.base_url}/connect/token",
        auth=(client_id, RP_SECRET),
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": relying_party.callback,
            "code_verifier": VERIFIER,
        },
        timeout=10,
    )
    assert tokens.status_code == 200, tokens.text
    body: dict[str, Any] = tokens.json()
    return body


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def _log_in_at_node(browser: RecordingBrowser, upstream: NodeUpstream, login: str) -> Any:
    """From node's login page through its consent page; returns the response that stops at
    the RP's redirect URI."""
    page = browser.last
    assert str(page.url).startswith(f"{upstream.issuer}/interaction/"), page.url
    (form,) = parse_forms(page.text)
    assert form.fields["prompt"] == "login"
    assert {"login", "password"} <= set(form.inputs)
    consent = browser.submit({"login": login, "password": "any password works"})
    assert str(consent.url).startswith(f"{upstream.issuer}/interaction/"), consent.url
    (form,) = parse_forms(consent.text)
    assert form.fields["prompt"] == "consent"
    return browser.submit()


def test_login_through_node_oidc_provider_then_sso_at_another_client(
    live_server: LiveServer,
    federated: NodeUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
) -> None:
    _add_rp(live_server, relying_party, "rp-one", "--one-telenor")
    _add_rp(live_server, relying_party, "rp-two", "--one-telenor")

    # (1) acr_values=idp:node: straight to node's login page, then its consent page.
    browser.get(_authorize_url(live_server, relying_party, "rp-one", acr_values="idp:node"))
    done = _log_in_at_node(browser, federated, "kari")
    location = done.headers["location"]
    assert location.startswith(relying_party.callback)
    # The last hop before the RP was idplus's fixed federation callback.
    assert str(done.request.url).startswith(
        f"{live_server.base_url}/federation/{PROVIDER_ID}/callback?"
    )
    received = _query_of(location)
    assert received["state"] == "rp-one-state"
    assert "error" not in received
    # node saw the authorization request, the code exchange and the JWKS fetch.
    seen = federated.requests()
    assert any(r.startswith("GET /auth?") for r in seen)
    assert "POST /token" in seen
    assert "GET /jwks" in seen
    claims_one = _id_token_claims(live_server, relying_party, "rp-one", received["code"])
    assert claims_one["iss"] == live_server.base_url
    assert claims_one["aud"] in ("rp-one", ["rp-one"])
    assert claims_one["idp"] == PROVIDER_ID
    assert claims_one["acr"] == NODE_ACR
    assert claims_one["amr"] == NODE_AMR
    assert claims_one["nonce"] == "rp-one-nonce"
    # A pairwise sub of idplus's own user, never node's sub (the login name).
    assert claims_one["sub"] != "kari"
    assert "kari" not in claims_one["sub"]

    # (2) Another one_telenor client: the shared SSO session, no trip to node.
    node_requests = len(federated.requests())
    browser.visited.clear()
    page = browser.get(_authorize_url(live_server, relying_party, "rp-two"))
    if not page.is_redirect:
        # Without silent_sso: the "continue as …" page.
        page = browser.submit(None, ("action", "continue"))
    assert page.headers["location"].startswith(relying_party.callback)
    received = _query_of(page.headers["location"])
    assert received["state"] == "rp-two-state"
    assert browser.visited, "the browser made no request"
    assert all(urlsplit(url).hostname != NODE_HOST for url in browser.visited), browser.visited
    assert len(federated.requests()) == node_requests
    claims_two = _id_token_claims(live_server, relying_party, "rp-two", received["code"])
    assert claims_two["idp"] == PROVIDER_ID
    assert claims_two["acr"] == NODE_ACR
    assert claims_two["amr"] == NODE_AMR
    assert claims_two["sid"] == claims_one["sid"]
    # Pairwise: another client, another sub for the same user.
    assert claims_two["sub"] not in (claims_one["sub"], "kari")


@pytest.mark.parametrize("where", ["login", "consent"])
def test_the_user_cancels_at_node_oidc_provider(
    live_server: LiveServer,
    federated: NodeUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
    where: str,
) -> None:
    _add_rp(live_server, relying_party, "rp-one")
    page = browser.get(_authorize_url(live_server, relying_party, "rp-one", acr_values="idp:node"))
    assert str(page.url).startswith(f"{federated.issuer}/interaction/")
    if where == "consent":
        page = browser.submit({"login": "kari", "password": "any password works"})
        (form,) = parse_forms(page.text)
        assert form.fields["prompt"] == "consent"
    # node's "[ Cancel ]" link: its interaction abort answers error=access_denied.
    done = browser.follow_link("[ Cancel ]")
    assert any(
        r.startswith("GET /interaction/") and r.endswith("/abort") for r in federated.requests()
    )
    assert str(done.request.url).startswith(
        f"{live_server.base_url}/federation/{PROVIDER_ID}/callback?"
    )
    assert "error=access_denied" in str(done.request.url)
    location = done.headers["location"]
    assert location.startswith(relying_party.callback)
    received = _query_of(location)
    assert received["error"] == "access_denied"
    assert received["state"] == "rp-one-state"
    assert "code" not in received


def _log_in_through_node(
    live_server: LiveServer,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
    upstream: NodeUpstream,
    client_id: str,
    scope: str = "openid",
) -> dict[str, Any]:
    """A login of node's account `kari` at `client_id`: the RP's token response."""
    browser.get(_authorize_url(live_server, relying_party, client_id, scope, acr_values="idp:node"))
    done = _log_in_at_node(browser, upstream, "kari")
    location = done.headers["location"]
    assert location.startswith(relying_party.callback), location
    received = _query_of(location)
    assert received["state"] == f"{client_id}-state"
    assert "code" in received, received
    return _tokens(live_server, relying_party, client_id, received["code"])


def _log_in_with_password(
    live_server: LiveServer, relying_party: RelyingParty, client_id: str, username: str
) -> dict[str, Any]:
    """A password login at `client_id` in a browser of its own: the RP's token response."""
    with httpx.Client(timeout=10) as http:
        browser = FormBrowser(http, relying_party.callback)
        page = browser.get(
            _authorize_url(live_server, relying_party, client_id, acr_values="idp:local")
        )
        assert str(page.url).startswith(f"{live_server.base_url}/"), page.url
        assert 'name="password"' in page.text
        done = browser.submit({"username": username, "password": PASSWORD}, ("action", "login"))
    location = done.headers["location"]
    assert location.startswith(relying_party.callback), location
    received = _query_of(location)
    assert received["state"] == f"{client_id}-state"
    return _tokens(live_server, relying_party, client_id, received["code"])


def _silent_at_idplus(
    browser: RecordingBrowser, live_server: LiveServer, relying_party: RelyingParty, client_id: str
) -> dict[str, str]:
    """What idplus answers this browser's `prompt=none` request of `client_id`."""
    answer = browser.client.get(
        _authorize_url(live_server, relying_party, client_id, prompt="none")
    )
    assert answer.is_redirect, (answer.status_code, answer.text[:500])
    assert answer.headers["location"].startswith(relying_party.callback), answer.headers
    return _query_of(answer.headers["location"])


def _silent_at_node(
    browser: RecordingBrowser, live_server: LiveServer, upstream: NodeUpstream
) -> dict[str, str]:
    """What node answers this browser's `prompt=none` request of its client idplus (the
    redirect to idplus's callback is not followed)."""
    query = httpx.QueryParams(
        client_id=UPSTREAM_CLIENT_ID,
        redirect_uri=f"{live_server.base_url}/federation/{PROVIDER_ID}/callback",
        response_type="code",
        scope="openid",
        state="probe",
        code_challenge=s256(VERIFIER),
        code_challenge_method="S256",
        prompt="none",
    )
    answer = browser.client.get(f"{upstream.metadata()['authorization_endpoint']}?{query}")
    assert answer.is_redirect, (answer.status_code, answer.text[:500])
    location = answer.headers["location"]
    assert location.startswith(f"{live_server.base_url}/federation/{PROVIDER_ID}/callback?")
    return _query_of(location)


def _refresh_at_idplus(live_server: LiveServer, client_id: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{live_server.base_url}/connect/token",
        auth=(client_id, RP_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": token},
        timeout=10,
    )


def _refresh_at_node(upstream: NodeUpstream, token: str) -> httpx.Response:
    """Use a refresh token node issued to idplus, as idplus would."""
    return httpx.post(
        upstream.metadata()["token_endpoint"],
        auth=(UPSTREAM_CLIENT_ID, UPSTREAM_SECRET),
        data={"grant_type": "refresh_token", "refresh_token": token},
        timeout=10,
    )


def _native_logout(live_server: LiveServer, id_token: str, state: str) -> httpx.Response:
    return httpx.post(
        f"{live_server.base_url}/connect/logout",
        json={"id_token_hint": id_token, "state": state},
        timeout=30,
    )


def test_userinfo_email_links_the_node_account_to_the_local_user(
    live_server: LiveServer,
    start_upstream: StartUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
) -> None:
    # node puts email / email_verified only in its userinfo, not in the ID token.
    upstream = start_upstream(conform_id_token_claims=True)
    _add_provider(live_server, upstream, "--link-by", "email")
    live_server.idplus("user", "add", "--username", "kari@example.no", "--password", PASSWORD)
    _add_rp(live_server, relying_party, "rp-one")

    federated = _claims(
        _log_in_through_node(live_server, relying_party, browser, upstream, "rp-one")["id_token"]
    )
    # idplus read node's userinfo with node's access token, and node answered it.
    userinfo_path = urlsplit(upstream.metadata()["userinfo_endpoint"]).path
    assert (f"GET {userinfo_path}", 200) in upstream.responses()
    assert federated["idp"] == PROVIDER_ID
    assert federated["amr"] == NODE_AMR

    # The same user by password, in another browser: the same pairwise sub at this client.
    local = _claims(
        _log_in_with_password(live_server, relying_party, "rp-one", "kari@example.no")["id_token"]
    )
    assert local["idp"] != PROVIDER_ID
    assert local["sub"] == federated["sub"]


@pytest.mark.parametrize(
    ("claims", "local_users", "message"),
    [
        ({"email_verified": False}, [], "has not confirmed your e-mail address"),
        ({"email": None}, [], "did not give us the contact details"),
        ({}, ["+4791234567"], "More than one account"),
    ],
    ids=["unverified", "missing", "ambiguous"],
)
def test_link_by_email_refusals_show_a_403_page_and_the_rp_gets_nothing(
    live_server: LiveServer,
    start_upstream: StartUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
    claims: dict[str, Any],
    local_users: list[str],
    message: str,
) -> None:
    upstream = start_upstream(conform_id_token_claims=True, accounts={"kari": claims})
    _add_provider(live_server, upstream, "--link-by", "email")
    live_server.idplus("user", "add", "--username", "kari@example.no", "--password", PASSWORD)
    for username in local_users:  # another local user with kari's e-mail
        live_server.idplus("user", "add", "--username", username, "--password", PASSWORD,
                           "--email", "kari@example.no")  # fmt: skip
    _add_rp(live_server, relying_party, "rp-one")

    browser.get(_authorize_url(live_server, relying_party, "rp-one", acr_values="idp:node"))
    page = _log_in_at_node(browser, upstream, "kari")
    assert str(page.request.url).startswith(
        f"{live_server.base_url}/federation/{PROVIDER_ID}/callback?"
    )
    assert page.status_code == 403
    assert message in html.unescape(page.text)
    assert "code=" not in page.headers.get("location", "")
    assert not any(url.startswith(relying_party.base_url) for url in browser.visited)
    assert relying_party.received == []


def test_extsub_in_the_access_token_is_nodes_subject(
    live_server: LiveServer,
    federated: NodeUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
) -> None:
    _add_rp(live_server, relying_party, "rp-one", "--scope", "extsub")
    tokens = _log_in_through_node(
        live_server, relying_party, browser, federated, "rp-one", "openid extsub"
    )
    access = _claims(tokens["access_token"])
    # node's sub is the login name.
    assert access["extsub"] == "kari"
    assert "extsub" in access["scope"]
    assert access["sub"] == _claims(tokens["id_token"])["sub"] != "kari"
    assert access["idp"] == PROVIDER_ID


def test_rp_initiated_logout_goes_through_nodes_end_session(
    live_server: LiveServer,
    federated: NodeUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
) -> None:
    bye = f"{relying_party.base_url}/bye"
    _add_rp(live_server, relying_party, "rp-one", "--post-logout-redirect-uri", bye)
    tokens = _log_in_through_node(live_server, relying_party, browser, federated, "rp-one")
    assert "code" in _silent_at_node(browser, live_server, federated)  # node's session lives

    logout = f"{live_server.base_url}/connect/endsession?" + str(
        httpx.QueryParams(
            id_token_hint=tokens["id_token"], post_logout_redirect_uri=bye, state="bye-state"
        )
    )
    to_node = browser.client.get(logout)
    assert to_node.status_code == 302, to_node.text[:500]
    end_session = federated.metadata()["end_session_endpoint"]
    assert to_node.headers["location"].startswith(f"{end_session}?")
    hop = _query_of(to_node.headers["location"])
    assert hop["client_id"] == UPSTREAM_CLIENT_ID
    assert hop["post_logout_redirect_uri"] == (
        f"{live_server.base_url}/federation/{PROVIDER_ID}/logged-out"
    )
    assert hop["state"]
    upstream_id_token = _claims(hop["id_token_hint"])  # node's own ID token for this login
    assert (upstream_id_token["iss"], upstream_id_token["sub"]) == (federated.issuer, "kari")
    assert upstream_id_token["aud"] in (UPSTREAM_CLIENT_ID, [UPSTREAM_CLIENT_ID])

    # node asks "Do you want to sign-out?"; its buttons sit outside the form (form= attribute).
    browser.stop_prefix = bye
    page = browser.get(to_node.headers["location"])
    assert str(page.url).startswith(end_session), page.url
    assert ("logout", "yes") in parse_forms(page.text)[0].buttons
    done = browser.submit(None, ("logout", "yes"))
    assert str(done.request.url).startswith(
        f"{live_server.base_url}/federation/{PROVIDER_ID}/logged-out?"
    )
    assert done.headers["location"] == f"{bye}?state=bye-state"
    assert {"event": "end_session.success"} in federated.events()

    # Both sessions are over: node and idplus each answer login_required.
    assert _silent_at_node(browser, live_server, federated).get("error") == "login_required"
    silent = _silent_at_idplus(browser, live_server, relying_party, "rp-one")
    assert silent.get("error") == "login_required"


def _log_in_with_refresh_tokens(
    live_server: LiveServer,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
    upstream: NodeUpstream,
) -> tuple[dict[str, Any], str]:
    """Provider `node` with offline_access and a login at rp-one asking for offline_access:
    the RP's tokens and the refresh token node gave idplus."""
    _add_provider(live_server, upstream, "--scope", "offline_access")
    _add_rp(live_server, relying_party, "rp-one", "--scope", "offline_access")
    tokens = _log_in_through_node(
        live_server, relying_party, browser, upstream, "rp-one", "openid offline_access"
    )
    assert tokens.get("refresh_token"), tokens
    (node_refresh_token,) = upstream.refresh_tokens("saved")
    return tokens, node_refresh_token


def test_native_logout_revokes_nodes_refresh_token(
    live_server: LiveServer,
    upstream: NodeUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
) -> None:
    tokens, node_refresh_token = _log_in_with_refresh_tokens(
        live_server, relying_party, browser, upstream
    )
    assert _refresh_at_node(upstream, node_refresh_token).status_code == 200  # alive

    answer = _native_logout(live_server, tokens["id_token"], "native-state")
    assert (answer.status_code, answer.json()) == (200, "native-state")
    revocation = urlsplit(upstream.metadata()["revocation_endpoint"]).path
    assert (f"POST {revocation}", 200) in upstream.responses()
    assert upstream.refresh_tokens("destroyed") == [node_refresh_token]
    refused = _refresh_at_node(upstream, node_refresh_token)
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    # idplus's own session ended too.
    refused = _refresh_at_idplus(live_server, "rp-one", tokens["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")


def test_native_logout_with_node_down_is_424_and_ends_the_idplus_session(
    live_server: LiveServer,
    upstream: NodeUpstream,
    relying_party: RelyingParty,
    browser: RecordingBrowser,
) -> None:
    tokens, _ = _log_in_with_refresh_tokens(live_server, relying_party, browser, upstream)
    upstream.stop()

    answer = _native_logout(live_server, tokens["id_token"], "native-state")
    assert (answer.status_code, answer.json()) == (424, "Upstream logout failed")
    refused = _refresh_at_idplus(live_server, "rp-one", tokens["refresh_token"])
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_grant")
    silent = _silent_at_idplus(browser, live_server, relying_party, "rp-one")
    assert silent.get("error") == "login_required"
    # Logging out again finds no session.
    again = _native_logout(live_server, tokens["id_token"], "native-state")
    assert (again.status_code, again.json()) == (200, "Already logged out")
