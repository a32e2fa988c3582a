"""CIBA end to end against a real `idplus serve`: openid-client (npm) as the polling client,
the approval link read from the outbox and answered by a script browser, and ping mode with a
local notification endpoint."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import select
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.flows.forms import FormBrowser
from tests.flows.node import INTEROP, node_with
from tests.live_server import LiveServer, run_live_server
from tests.outbound.receiver import outbox_rows, wait_until

SCRIPT = INTEROP / "openid_client_ciba.mjs"
CIBA_GRANT = "urn:openid:params:grant-type:ciba"
SECRET = "shop-secret-0123456789"
PHONE, PASSWORD = "+4795000001", "hunter2hunter"
ACR = "urn:telenor.identity.aal."
AMR_PASSWORD = "urn:telenor.identity.amr.td_pwd"
AMR_SMS_OTP = "urn:telenor.identity.amr.td_otp"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    """Clients are told to poll every second; pings leave at once."""
    yield from run_live_server(tmp_path, ciba_poll_interval_seconds="1", outbox_poll_seconds="0.2")


@pytest.fixture
def node() -> str:
    return node_with("openid-client")


def _add_client(server: LiveServer, client_id: str, *extra: str) -> None:
    server.idplus("client", "add", "--client-id", client_id, "--type", "Confidential",
                  "--secret", SECRET, "--name", "Telenor Shop", "--ciba-enabled",
                  "--grant-type", CIBA_GRANT, "--grant-type", "refresh_token",
                  *extra)  # fmt: skip


def _add_user(server: LiveServer) -> dict[str, Any]:
    created: dict[str, Any] = server.idplus(
        "user", "add", "--username", PHONE, "--password", PASSWORD, "--given-name", "Ola"
    )
    return created


def _pairwise_sub(server: LiveServer, client_id: str, user_id: str) -> str:
    """The `sub` OIDC Core §8.1 says this client must see: computed here from the server's
    stored salt, so the test notices a public or a shared subject."""
    engine = sa.create_engine(server.env["IDPLUS_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            salt = conn.execute(
                sa.text("SELECT value FROM server_secrets WHERE name = 'pairwise_salt'")
            ).scalar_one()
    finally:
        engine.dispose()
    message = f"{client_id}\x00{user_id}".encode()
    digest = hmac.new(salt.encode(), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _sms_link(server: LiveServer, sent_before: int) -> str:
    """The approval URL of the one SMS sent to the user since `sent_before` messages."""
    new = wait_until(lambda: server.outbox()[sent_before:], "the approval SMS")
    (sms,) = new
    assert (sms["to"], sms["channel"]) == (PHONE, "sms")
    assert "Telenor Shop" in sms["body"]
    url = re.search(r"https?://\S+", sms["body"])
    assert url is not None, sms["body"]
    link = url.group(0)
    assert link.startswith(f"{server.base_url}/ciba/approve?token=")
    return link


def _answer(server: LiveServer, link: str, action: str = "approve", *, otp: bool = False) -> str:
    """Open the link in a fresh browser, log in (with the SMS code when asked), press `action`;
    the text of the last page."""
    with httpx.Client(base_url=server.base_url, timeout=60) as http:
        browser = FormBrowser(http, "https://nowhere.invalid")
        page = browser.get(link)
        assert 'name="password"' in page.text, page.text[:500]
        page = browser.submit({"username": PHONE, "password": PASSWORD}, ("action", "login"))
        if otp:
            assert 'name="otp"' in page.text, page.text[:500]
            page = browser.submit({"otp": server.outbox()[-1]["code"]}, ("action", "verify"))
        assert f'value="{action}"' in page.text, page.text[:500]
        done = browser.submit(button=("action", action))
    assert done.status_code == 200, done.text[:500]
    return str(done.text)


class NodeClient:
    """openid-client's CIBA poll flow in a node process, read one JSON line at a time."""

    def __init__(self, node: str, server: LiveServer, client_id: str, **form: str) -> None:
        self.process = subprocess.Popen(
            [node, str(SCRIPT), server.base_url, client_id, SECRET, json.dumps(form)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=INTEROP,
        )  # fmt: skip

    def started(self, timeout: float = 60) -> dict[str, Any]:
        """The backchannel authentication response, printed before polling begins."""
        assert self.process.stdout is not None
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        text = self.process.stdout.readline() if ready else ""
        if not text:
            self.process.kill()
            _, stderr = self.process.communicate(timeout=15)
            raise AssertionError(f"openid-client started nothing: {stderr[-2000:]}")
        answer: dict[str, Any] = json.loads(text)
        return answer

    def finish(self, timeout: float = 60) -> dict[str, Any]:
        """What the polling ended with: the tokens' summary or the OAuth error."""
        try:
            stdout, stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, stderr = self.process.communicate(timeout=15)
            raise AssertionError(f"openid-client still polling: {stderr[-2000:]}") from None
        assert self.process.returncode == 0, stderr[-2000:]
        answer: dict[str, Any] = json.loads(stdout)
        return answer

    def stop(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            self.process.communicate(timeout=15)


@pytest.fixture
def run_node(node: str, server: LiveServer) -> Iterator[Callable[..., NodeClient]]:
    started: list[NodeClient] = []

    def run(client_id: str, **form: str) -> NodeClient:
        started.append(NodeClient(node, server, client_id, **form))
        return started[-1]

    yield run
    for process in started:
        process.stop()


def test_openid_client_polls_until_the_user_approves_in_the_app(
    server: LiveServer, run_node: Callable[..., NodeClient]
) -> None:
    _add_client(server, "shop")
    user = _add_user(server)
    sent = len(server.outbox())
    client = run_node("shop", scope="openid vipps offline_access", login_hint="95000001")
    started = client.started()
    assert started["interval"] == 1 and started["expires_in"] == 300
    assert started["auth_req_id"]

    page = _answer(server, _sms_link(server, sent))
    assert "Du godkjente innloggingen." in page
    answer = client.finish()

    claims = answer["claims"]
    assert claims["iss"] == server.base_url and claims["aud"] == "shop"
    assert claims["sub"] == _pairwise_sub(server, "shop", user["id"])
    assert claims["sub"] not in (user["id"], user["kurtid"])
    assert claims["acr"] == f"{ACR}1" and claims["amr"] == [AMR_PASSWORD]
    assert answer["token_type"].lower() == "bearer"  # openid-client lower-cases it
    assert answer["access_token"] is True and answer["refresh_token"] is True
    assert len(server.outbox()) == sent + 1  # one SMS, and the password login sent none


def test_openid_client_bankid_style_with_a_prepared_login_hint_token(
    server: LiveServer, run_node: Callable[..., NodeClient]
) -> None:
    _add_client(server, "shop")
    user = _add_user(server)
    with httpx.Client(base_url=server.base_url, auth=("shop", SECRET)) as http:
        prepared = http.post("/connect/ciba/prepare", data={"kurtid": user["kurtid"]})
    assert prepared.status_code == 200, prepared.text
    hint = prepared.json()
    assert re.fullmatch(r"[A-Z2-9]{4}-\d{4}", hint["binding_message"])
    sent = len(server.outbox())
    client = run_node("shop", scope="openid bankid", login_hint_token=hint["login_hint_token"],
                      binding_message=hint["binding_message"])  # fmt: skip
    client.started()

    link = _sms_link(server, sent)
    assert hint["binding_message"] in server.outbox()[sent]["body"]
    page = _answer(server, link, otp=True)
    assert "Du godkjente innloggingen." in page
    answer = client.finish()

    claims = answer["claims"]
    assert claims["sub"] == _pairwise_sub(server, "shop", user["id"])
    assert claims["acr"] == f"{ACR}2"
    assert sorted(claims["amr"]) == sorted([AMR_PASSWORD, AMR_SMS_OTP])
    assert answer["refresh_token"] is False  # offline_access was not asked for


def test_openid_client_hears_a_denial_as_access_denied(
    server: LiveServer, run_node: Callable[..., NodeClient]
) -> None:
    _add_client(server, "shop")
    _add_user(server)
    sent = len(server.outbox())
    client = run_node("shop", scope="openid vipps", login_hint=PHONE)
    client.started()
    assert "Du avviste innloggingen." in _answer(server, _sms_link(server, sent), "deny")
    assert client.finish()["error"] == "access_denied"


class NotificationEndpoint:
    """The client's CIBA notification endpoint: records every POST (headers and JSON body)."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                endpoint.received.append({
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "content_type": self.headers.get("Content-Type"),
                    "body": json.loads(self.rfile.read(length)),
                })  # fmt: skip
                self.send_response(204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.uri = f"http://127.0.0.1:{self.server.server_address[1]}/ciba-notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def endpoint() -> Iterator[NotificationEndpoint]:
    receiver = NotificationEndpoint()
    yield receiver
    receiver.close()


def test_ping_mode_notifies_once_then_the_client_fetches_the_tokens(
    server: LiveServer, endpoint: NotificationEndpoint
) -> None:
    _add_client(server, "shop-ping", "--backchannel-client-notification-endpoint", endpoint.uri)
    _add_user(server)
    sent = len(server.outbox())
    notification_token = "notify-8d2f0b6e-Ping.Token_1"
    with httpx.Client(base_url=server.base_url, auth=("shop-ping", SECRET), timeout=60) as http:
        started = http.post("/connect/ciba", data={
            "scope": "openid vipps offline_access", "login_hint": PHONE,
            "client_notification_token": notification_token,
        })  # fmt: skip
        assert started.status_code == 200, started.text
        auth_req_id = started.json()["auth_req_id"]
        assert endpoint.received == []

        assert "Du godkjente innloggingen." in _answer(server, _sms_link(server, sent))
        wait_until(lambda: endpoint.received, "the ping")
        tokens = http.post(
            "/connect/token", data={"grant_type": CIBA_GRANT, "auth_req_id": auth_req_id}
        )
    assert tokens.status_code == 200, tokens.text
    assert {"access_token", "id_token", "refresh_token"} <= set(tokens.json())
    # The outbox holds one delivery, done: there is nothing left to retry or send again.
    database = server.env["IDPLUS_DATABASE_URL"]
    (delivery,) = wait_until(
        lambda: [r for r in outbox_rows(database) if r["status"] != "pending"], "the ping's end"
    )
    assert (delivery["kind"], delivery["subject"], delivery["status"]) == (
        "ciba_ping", "shop-ping", "delivered"
    )  # fmt: skip
    assert len(outbox_rows(database)) == 1
    (ping,) = endpoint.received
    assert ping["path"] == "/ciba-notify"
    assert ping["authorization"] == f"Bearer {notification_token}"
    assert ping["content_type"].startswith("application/json")
    assert ping["body"] == {"auth_req_id": auth_req_id}


def test_ping_mode_without_a_client_notification_token_is_invalid_request(
    server: LiveServer, endpoint: NotificationEndpoint
) -> None:
    _add_client(server, "shop-ping", "--backchannel-client-notification-endpoint", endpoint.uri)
    _add_user(server)
    sent = len(server.outbox())
    started = httpx.post(
        f"{server.base_url}/connect/ciba",
        data={"scope": "openid vipps", "login_hint": PHONE},
        auth=("shop-ping", SECRET),
    )
    assert started.status_code == 400, started.text
    assert started.json()["error"] == "invalid_request"
    assert len(server.outbox()) == sent  # nobody was asked
