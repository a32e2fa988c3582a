"""A user logs in to an RP through an upstream OpenID provider: a second idplus process."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from idplus.models import UpstreamSessionTokens
from idplus.store.sql.uow import SqlStore
from tests.flows.forms import FormBrowser
from tests.harness import VERIFIER, s256
from tests.live_server import LiveServer, RelyingParty, run_live_server

UPSTREAM_SECRET = "upstream-client-secret-0123456789"
RP_SECRET = "rp-client-secret-0123456789abcdef"


@pytest.fixture
def upstream(tmp_path: Path) -> Iterator[LiveServer]:
    # Another loopback address: its cookies stay apart from the first server's.
    yield from run_live_server(tmp_path / "upstream", host="127.0.0.2")


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    claims: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return claims


def test_user_logs_in_to_an_rp_through_an_upstream_idplus(
    live_server: LiveServer, upstream: LiveServer, relying_party: RelyingParty
) -> None:
    upstream.idplus("client", "add", "--client-id", "hub", "--type", "Confidential",
                    "--secret", UPSTREAM_SECRET,
                    "--redirect-uri", f"{live_server.base_url}/federation/up/callback")  # fmt: skip
    upstream.idplus("user", "add", "--username", "kari@example.no", "--password", "hunter2hunter")
    added = live_server.idplus("provider", "add", "--id", "up", "--issuer", upstream.base_url,
                               "--client-id", "hub", "--client-secret", UPSTREAM_SECRET,
                               "--display-name", "Upstream", "--amr", "ext",
                               "--acr", "urn:telenor.identity.aal.1")  # fmt: skip
    assert added["redirect_uri"] == f"{live_server.base_url}/federation/up/callback"
    live_server.idplus("client", "add", "--client-id", "rp", "--type", "Confidential",
                       "--secret", RP_SECRET, "--redirect-uri", relying_party.callback,
                       "--provider", "local", "--provider", "up")  # fmt: skip
    authorize = f"{live_server.base_url}/connect/authorize?" + str(
        httpx.QueryParams(
            client_id="rp",
            redirect_uri=relying_party.callback,
            response_type="code",
            scope="openid",
            state="rp-state",
            nonce="rp-nonce",
            acr_values="idp:up",
            code_challenge=s256(VERIFIER),
            code_challenge_method="S256",
        )
    )
    with httpx.Client(timeout=10) as http:
        browser = FormBrowser(http, relying_party.callback)
        page = browser.get(authorize)
        # Straight to the upstream's own login page.
        assert str(page.url).startswith(upstream.base_url)
        assert 'name="username"' in page.text
        done = browser.submit(
            {"username": "kari@example.no", "password": "hunter2hunter"}, ("action", "login")
        )
        assert done.headers["location"].startswith(relying_party.callback)
        assert http.get(done.headers["location"]).status_code == 200
        (received,) = relying_party.received
        assert received["state"] == "rp-state"
        tokens = http.post(
            f"{live_server.base_url}/connect/token",
            auth=("rp", RP_SECRET),
            data={
                "grant_type": "authorization_code",
                "code": received["code"],
                "redirect_uri": relying_party.callback,
                "code_verifier": VERIFIER,
            },
        )
        assert tokens.status_code == 200, tokens.text
        claims = _claims(tokens.json()["id_token"])
        assert claims["iss"] == live_server.base_url
        assert claims["idp"] == "up"
        assert claims["acr"] == "urn:telenor.identity.aal.1"
        assert claims["amr"] == ["ext"]
        assert claims["nonce"] == "rp-nonce"

        # The callback's state is spent: replaying it is an error page, not a 5xx or a code.
        replay = http.get(_callback_of(done))
        assert replay.status_code == 400
        assert "code=" not in replay.headers.get("location", "")


def _callback_of(done: Any) -> str:
    """The upstream's redirect to our callback that led to `done` (the history FormBrowser
    does not keep): the request that produced `done`."""
    return str(done.request.url)


def _federate(live_server: LiveServer, upstream: LiveServer, relying_party: RelyingParty) -> None:
    """Provider "up" (the second idplus) and a confidential RP "rp" that may use it."""
    upstream.idplus("client", "add", "--client-id", "hub", "--type", "Confidential",
                    "--secret", UPSTREAM_SECRET,
                    "--redirect-uri", f"{live_server.base_url}/federation/up/callback",
                    "--post-logout-redirect-uri",
                    f"{live_server.base_url}/federation/up/logged-out")  # fmt: skip
    upstream.idplus("user", "add", "--username", "kari@example.no", "--password", "hunter2hunter")
    live_server.idplus("provider", "add", "--id", "up", "--issuer", upstream.base_url,
                       "--client-id", "hub", "--client-secret", UPSTREAM_SECRET,
                       "--display-name", "Upstream")  # fmt: skip
    live_server.idplus("client", "add", "--client-id", "rp", "--type", "Confidential",
                       "--secret", RP_SECRET, "--redirect-uri", relying_party.callback,
                       "--post-logout-redirect-uri", f"{relying_party.base_url}/bye",
                       "--scope", "openid", "--scope", "extsub",
                       "--provider", "local", "--provider", "up")  # fmt: skip


def _log_in(
    http: httpx.Client, live_server: LiveServer, relying_party: RelyingParty
) -> dict[str, Any]:
    """The RP's tokens after a login through the upstream."""
    authorize = f"{live_server.base_url}/connect/authorize?" + str(
        httpx.QueryParams(
            client_id="rp", redirect_uri=relying_party.callback, response_type="code",
            scope="openid extsub", state="s", nonce="n", acr_values="idp:up",
            code_challenge=s256(VERIFIER), code_challenge_method="S256",
        )
    )  # fmt: skip
    browser = FormBrowser(http, relying_party.callback)
    browser.get(authorize)
    done = browser.submit(
        {"username": "kari@example.no", "password": "hunter2hunter"}, ("action", "login")
    )
    code = dict(httpx.URL(done.headers["location"]).params)["code"]
    tokens = http.post(
        f"{live_server.base_url}/connect/token",
        auth=("rp", RP_SECRET),
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": relying_party.callback, "code_verifier": VERIFIER},
    )  # fmt: skip
    assert tokens.status_code == 200, tokens.text
    body: dict[str, Any] = tokens.json()
    return body


def test_extsub_is_the_upstreams_subject_and_logout_ends_the_upstream_session_too(
    live_server: LiveServer, upstream: LiveServer, relying_party: RelyingParty
) -> None:
    _federate(live_server, upstream, relying_party)
    with httpx.Client(timeout=10) as http:
        tokens = _log_in(http, live_server, relying_party)
        upstream_claims = _kept_upstream_id_token(live_server, _claims(tokens["id_token"])["sid"])
        assert (upstream_claims["iss"], upstream_claims["aud"]) == (upstream.base_url, "hub")
        upstream_sub = upstream_claims["sub"]
        assert _claims(tokens["access_token"])["extsub"] == upstream_sub
        assert _claims(tokens["id_token"])["sub"] != upstream_sub  # idplus's own pairwise sub

        logout = f"{live_server.base_url}/connect/endsession?" + str(
            httpx.QueryParams(id_token_hint=tokens["id_token"], state="bye-state",
                              post_logout_redirect_uri=f"{relying_party.base_url}/bye")
        )  # fmt: skip
        to_upstream = http.get(logout)
        assert to_upstream.status_code == 302
        assert to_upstream.headers["location"].startswith(f"{upstream.base_url}/connect/endsession")
        back = http.get(to_upstream.headers["location"])
        assert back.headers["location"].startswith(
            f"{live_server.base_url}/federation/up/logged-out?"
        )
        to_rp = http.get(back.headers["location"])
        assert to_rp.headers["location"] == f"{relying_party.base_url}/bye?state=bye-state"
        # The upstream's session is over: logging in again asks for the password there.
        at_upstream = f"{upstream.base_url}/connect/authorize?" + str(
            httpx.QueryParams(client_id="hub", response_type="code", scope="openid", state="x",
                              redirect_uri=f"{live_server.base_url}/federation/up/callback")
        )  # fmt: skip
        again = FormBrowser(http, relying_party.callback).get(at_upstream)
        assert 'name="password"' in again.text
        # Its ID token is no longer kept once the session has ended.
        assert _kept_upstream_tokens(live_server, _claims(tokens["id_token"])["sid"]) is None


def _kept_upstream_id_token(live_server: LiveServer, session_id: str) -> dict[str, Any]:
    kept = _kept_upstream_tokens(live_server, session_id)
    assert kept is not None
    return _claims(kept.id_token)


def _kept_upstream_tokens(live_server: LiveServer, session_id: str) -> UpstreamSessionTokens | None:
    """What idplus keeps of the upstream login (to log out there), read from its database."""
    store = SqlStore.from_url(live_server.env["IDPLUS_DATABASE_URL"])
    try:
        with store.reading() as uow:
            return uow.upstream_session_tokens.find(session_id)
    finally:
        store.dispose()


def test_a_logout_from_another_browser_never_hands_out_the_upstream_id_token(
    live_server: LiveServer, upstream: LiveServer, relying_party: RelyingParty
) -> None:
    """Anyone holding an idplus ID token (every RP has one; an expired one will do) may end its
    session, but only the browser that logged in goes through the upstream's logout."""
    _federate(live_server, upstream, relying_party)
    with httpx.Client(timeout=10) as victim:
        tokens = _log_in(victim, live_server, relying_party)
    with httpx.Client(timeout=10) as elsewhere:
        answer = elsewhere.get(
            f"{live_server.base_url}/connect/endsession?"
            + str(httpx.QueryParams(id_token_hint=tokens["id_token"]))
        )
    assert answer.status_code == 200  # the logged-out page, no redirect anywhere
    assert "id_token_hint" not in answer.headers.get("location", "")
    assert _kept_upstream_tokens(live_server, _claims(tokens["id_token"])["sid"]) is None
