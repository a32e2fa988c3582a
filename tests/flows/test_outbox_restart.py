"""The durable outbox across a restart: a logout whose back-channel token could not be delivered
before `idplus serve` stopped is delivered, once, by the next server on the same database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.flows.forms import FormBrowser
from tests.harness import VERIFIER, s256
from tests.live_server import LiveServer, RelyingParty, run_live_server
from tests.outbound.receiver import Receiver, free_port, outbox_rows, pending, wait_until

USERNAME, PASSWORD = "+4791000002", "hunter2hunter"
# Retries come quickly and never run out while the receiver is down.
OUTBOX = {
    "delivery_backoff_seconds": "0.5",
    "delivery_attempts": "50",
    "outbox_poll_seconds": "0.2",
}


@contextmanager
def serve(directory: Path, **settings: str) -> Iterator[LiveServer]:
    # run_live_server keeps each try's log in directory/server-N, which only its default
    # database URL creates; this test puts both servers on one database of its own.
    for attempt in range(3):
        (directory / f"server-{attempt}").mkdir(parents=True)
    yield from run_live_server(directory, **settings)


def _authorize(browser: FormBrowser, rp: RelyingParty, client_id: str) -> str:
    """Walk the login pages (or SSO) and return the authorization code."""
    query = httpx.QueryParams(client_id=client_id, redirect_uri=rp.callback, response_type="code",
                              scope="openid", state="s", code_challenge=s256(VERIFIER),
                              code_challenge_method="S256")  # fmt: skip
    page = browser.get(f"/connect/authorize?{query}")
    if 'name="password"' in page.text:
        page = browser.submit({"username": USERNAME, "password": PASSWORD}, ("action", "login"))
    assert page.status_code == 302, page.text[:500]
    code: str = parse_qs(urlsplit(page.headers["location"]).query)["code"][0]
    return code


def _log_in_to_app_and_tv_then_log_out_of_app(server: LiveServer, rp: RelyingParty) -> str:
    """The ID token of `app`, whose logout must reach `tv` over the back channel."""
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        browser = FormBrowser(http, rp.base_url)
        code = _authorize(browser, rp, "app")
        tokens = http.post("/connect/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": rp.callback,
            "code_verifier": VERIFIER, "client_id": "app",
        }).json()  # fmt: skip
        _authorize(browser, rp, "tv")  # SSO: the tv joins the session
        bye = http.post("/connect/logout", json={"id_token_hint": tokens["id_token"]})
        assert bye.status_code == 200, bye.text
    id_token: str = tokens["id_token"]
    return id_token


def test_a_logout_token_pending_at_a_restart_arrives_once_after_it(
    tmp_path: Path, relying_party: RelyingParty
) -> None:
    database = f"sqlite:///{tmp_path / 'idplus.db'}"
    settings = {**OUTBOX, "database_url": database}
    port = free_port()  # the tv's back-channel endpoint: down at first
    with serve(tmp_path / "first", **settings) as first:
        first.idplus("client", "add", "--client-id", "app", "--type", "Public",
                     "--redirect-uri", relying_party.callback, "--one-telenor")  # fmt: skip
        first.idplus("client", "add", "--client-id", "tv", "--type", "Public",
                     "--redirect-uri", relying_party.callback, "--one-telenor", "--silent-sso",
                     "--backchannel-logout-uri", f"http://127.0.0.1:{port}/bcl")  # fmt: skip
        first.idplus("user", "add", "--username", USERNAME, "--password", PASSWORD)
        id_token = _log_in_to_app_and_tv_then_log_out_of_app(first, relying_party)
        wait_until(lambda: outbox_rows(database)[0]["attempts"] >= 1, "a first, failed attempt")
    # The server has stopped with the delivery still to do.
    (row,) = outbox_rows(database)
    assert (row["status"], row["subject"], row["last_error"]) == ("pending", "tv", "ConnectError")

    receiver = Receiver(port=port)
    try:
        with serve(tmp_path / "second", **settings) as second:
            wait_until(lambda: pending(database) == 0, "the delivery after the restart", 180)
            jwks = KeySet.import_key_set(
                httpx.get(f"{second.base_url}/.well-known/jwks.json").json()
            )
        # Both servers have stopped: nothing else can arrive.
        (logout_token,) = receiver.tokens
    finally:
        receiver.close()
    (row,) = outbox_rows(database)
    assert row["status"] == "delivered"
    claims = jwt.decode(logout_token, jwks).claims
    session_id = jwt.decode(id_token, jwks).claims["sid"]
    assert (claims["iss"], claims["aud"], claims["sid"]) == (first.base_url, "tv", session_id)
