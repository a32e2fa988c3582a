"""The durable outbox on two instances (issue 21 §3, INTERFACE "Running several instances"):
every instance drains it, and a back-channel logout whose instance is killed in the middle of
the attempt still arrives, from the other instance, with the same logout token, so an RP that
deduplicates by `jti` (Back-Channel Logout 1.0 §2.6) acts on it once.

Which instance sent a logout token is read the way an RP could if it shared the host: the
sending socket's owner (/proc), whose process group is an instance."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from deploy.cluster import Cluster
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tests.flows.cluster import cluster_on
from tests.flows.consistency import find_half_written_rows
from tests.flows.forms import FormBrowser
from tests.harness import VERIFIER, s256
from tests.live_server import RelyingParty
from tests.outbound.receiver import wait_until

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        not Path("/proc/net/tcp").exists(), reason="tells a token's sender by Linux's /proc"
    ),
]

SESSIONS = 20
# A new delivery goes at once (its instance's worker is woken), a due one within 0.2 s from
# either instance. An attempt gets 3 s: far longer than the test needs to kill its sender,
# and short, since a dead sender's claim lasts this plus the lease margin (2 s here; 30 s by
# default, time for a slow store to record the outcome).
OUTBOX = {
    "outbox_poll_seconds": "0.2",
    "delivery_backoff_seconds": "0.5",
    "delivery_attempts": "10",
    "delivery_timeout_seconds": "3",
    "delivery_lease_margin_seconds": "2",
}


@dataclass(frozen=True, slots=True)
class Arrival:
    jti: str
    sid: str
    sender: str | None  # the instance whose socket posted it


class DeduplicatingRp:
    """An RP's back-channel logout endpoint: verifies each logout token, logs its session out
    the first time its `jti` arrives (`acted`), and answers 200 to every copy. With
    `hold_first`, it acts on the first token and then holds that request unanswered until
    `release` is set (`held` says when it is holding)."""

    def __init__(self, jwks: KeySet, senders: Mapping[int, str], hold_first: bool = False) -> None:
        self.arrivals: list[Arrival] = []
        self.acted: list[str] = []  # the sessions logged out, one entry per action
        self.held = threading.Event()
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._hold_first = hold_first
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                (token,) = parse_qs(self.rfile.read(length).decode())["logout_token"]
                sender = sending_instance(self.client_address[1], rp.port, senders)
                try:
                    hold = rp.receive(token, sender)
                except JoseError:  # §2.8: an invalid logout request is answered 400
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if hold:
                    rp.release.wait(timeout=120)
                    return  # no answer at all: the sender was killed meanwhile
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port: int = self._server.server_address[1]
        self.uri = f"http://127.0.0.1:{self.port}/bcl"
        self.jwks = jwks
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def receive(self, token: str, sender: str | None) -> bool:
        """Record and act on a token; whether to hold this request."""
        claims = jwt.decode(token, self.jwks).claims
        with self._lock:
            first_of_all = not self.arrivals
            if claims["jti"] not in {arrival.jti for arrival in self.arrivals}:
                self.acted.append(claims["sid"])
            self.arrivals.append(Arrival(claims["jti"], claims["sid"], sender))
        hold = self._hold_first and first_of_all
        if hold:
            self.held.set()
        return hold

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()


def sending_instance(peer_port: int, own_port: int, senders: Mapping[int, str]) -> str | None:
    """The instance owning the loopback socket peer_port → own_port, while it is open:
    `senders` maps each instance's process group (its pid) to its name."""
    inode = _socket_inode(peer_port, own_port)
    if inode is None:
        return None
    target = f"socket:[{inode}]"
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            name = senders.get(os.getpgid(int(process.name)))
            if name is not None and any(
                os.readlink(fd) == target for fd in (process / "fd").iterdir()
            ):
                return name
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None


def _socket_inode(local_port: int, remote_port: int) -> str | None:
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1].rsplit(":", 1)[1], fields[2].rsplit(":", 1)[1]
            if (int(local, 16), int(remote, 16)) == (local_port, remote_port):
                return fields[9]
    return None


@contextmanager
def deduplicating_rp(cluster: Cluster, hold_first: bool = False) -> Iterator[DeduplicatingRp]:
    jwks = KeySet.import_key_set(httpx.get(f"{cluster.url}/.well-known/jwks.json").json())
    senders = {i.process.pid: i.name for i in cluster.instances if i.process is not None}
    rp = DeduplicatingRp(jwks, senders, hold_first)
    try:
        yield rp
    finally:
        rp.close()


def _register_app_and_tv(cluster: Cluster, rp: RelyingParty, backchannel_uri: str) -> None:
    """`app` logs users in; `tv` joins their sessions by SSO and hears of their end."""
    app = ("client", "add", "--client-id", "app", "--type", "Public",
           "--redirect-uri", rp.callback, "--one-telenor")  # fmt: skip
    tv = ("client", "add", "--client-id", "tv", "--type", "Public",
          "--redirect-uri", rp.callback, "--one-telenor", "--silent-sso",
          "--backchannel-logout-uri", backchannel_uri)  # fmt: skip
    with ThreadPoolExecutor(2) as pool:  # two CLI starts at once: seconds saved
        list(pool.map(lambda argv: cluster.idplus(*argv), (app, tv)))


def _authorize(browser: FormBrowser, rp: RelyingParty, client_id: str, user: Any) -> str:
    """Walk the login pages (or SSO) and return the authorization code."""
    query = httpx.QueryParams(client_id=client_id, redirect_uri=rp.callback, response_type="code",
                              scope="openid", state="s", code_challenge=s256(VERIFIER),
                              code_challenge_method="S256")  # fmt: skip
    page = browser.get(f"/connect/authorize?{query}")
    if 'name="password"' in page.text:
        credentials = {"username": user["username"], "password": user["password"]}
        page = browser.submit(credentials, ("action", "login"))
    assert page.status_code == 302, page.text[:500]
    code: str = parse_qs(urlsplit(page.headers["location"]).query)["code"][0]
    return code


def _session_of_app_and_tv(cluster: Cluster, rp: RelyingParty) -> str:
    """A new browser's session, every request through HAProxy; `app`'s ID token for it."""
    with httpx.Client(base_url=cluster.url, timeout=60) as http:
        browser = FormBrowser(http, rp.base_url)
        code = _authorize(browser, rp, "app", cluster.seed["user"])
        tokens = http.post("/connect/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": rp.callback,
            "code_verifier": VERIFIER, "client_id": "app",
        })  # fmt: skip
        assert tokens.status_code == 200, tokens.text
        _authorize(browser, rp, "tv", cluster.seed["user"])
    id_token: str = tokens.json()["id_token"]
    return id_token


def _log_out_of_app(cluster: Cluster, id_token: str) -> None:
    """The native JSON logout: `tv`, the session's other client, is told over the back channel."""
    bye = httpx.post(f"{cluster.url}/connect/logout", json={"id_token_hint": id_token})
    assert bye.status_code == 200, bye.text


class Outbox:
    """The deliveries table as an operator reads it, over one connection the test keeps."""

    def __init__(self, database_url: str) -> None:
        self._engine = sa.create_engine(
            database_url.replace("postgresql://", "postgresql+psycopg://")
        )

    def rows(self) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            query = "SELECT subject, status, attempts FROM deliveries ORDER BY created_at, id"
            return [dict(row._mapping) for row in conn.execute(sa.text(query))]

    def settled(self, count: int) -> list[dict[str, Any]]:
        """The rows once there are `count` and none is pending (else an empty list)."""
        rows = self.rows()
        done = len(rows) == count and all(row["status"] != "pending" for row in rows)
        return rows if done else []

    def close(self) -> None:
        self._engine.dispose()


@contextmanager
def outbox_of(cluster: Cluster) -> Iterator[Outbox]:
    outbox = Outbox(cluster.database_url)
    try:
        yield outbox
    finally:
        outbox.close()


def test_every_instance_drains_the_outbox_and_each_logout_token_arrives_once(
    tmp_path: Path, empty_postgres_url: str, relying_party: RelyingParty
) -> None:
    with (
        cluster_on(tmp_path, empty_postgres_url, settings=OUTBOX) as cluster,
        deduplicating_rp(cluster) as rp,
        outbox_of(cluster) as outbox,
    ):
        _register_app_and_tv(cluster, relying_party, rp.uri)
        id_tokens = [_session_of_app_and_tv(cluster, relying_party) for _ in range(SESSIONS)]
        for id_token in id_tokens:
            _log_out_of_app(cluster, id_token)
        rows = wait_until(lambda: outbox.settled(SESSIONS), "every delivery's outcome")
        # Only pending deliveries are ever sent: nothing else can arrive from here on.
        arrivals = list(rp.arrivals)
    assert {row["status"] for row in rows} == {"delivered"}, rows
    sessions = {jwt.decode(token, rp.jwks).claims["sid"] for token in id_tokens}
    assert len(sessions) == SESSIONS
    assert len({arrival.jti for arrival in arrivals}) == len(arrivals) == SESSIONS
    assert sorted(rp.acted) == sorted(sessions)
    assert {arrival.sender for arrival in arrivals} == {"idplus1", "idplus2"}
    assert find_half_written_rows(empty_postgres_url) == []


def test_a_logout_whose_instance_dies_mid_delivery_arrives_from_another_and_acts_once(
    tmp_path: Path, empty_postgres_url: str, relying_party: RelyingParty
) -> None:
    with (
        cluster_on(tmp_path, empty_postgres_url, settings=OUTBOX) as cluster,
        deduplicating_rp(cluster, hold_first=True) as rp,
        outbox_of(cluster) as outbox,
    ):
        _register_app_and_tv(cluster, relying_party, rp.uri)
        _log_out_of_app(cluster, _session_of_app_and_tv(cluster, relying_party))
        assert rp.held.wait(timeout=60), "no logout token arrived"
        (first,) = rp.arrivals
        assert first.sender is not None, "no instance owns the socket that posted the token"
        (claimer,) = [i for i in cluster.instances if i.name == first.sender]
        claimer.kill()  # holding the claim, before the receiver answered
        rp.release.set()
        # The claim's lease runs out (the attempt's timeout and the lease margin), then the
        # surviving instance claims the delivery again.
        (row,) = wait_until(lambda: outbox.settled(1), "the second attempt's outcome", 120)
    assert row["status"] == "delivered", row
    first, again = rp.arrivals
    assert (again.jti, again.sid) == (first.jti, first.sid)  # the token stored at logout
    assert again.sender not in (None, first.sender)
    assert rp.acted == [first.sid]
    assert find_half_written_rows(empty_postgres_url) == []
    # The killed attempt stored nothing; the delivered one counts as the first.
    assert (row["subject"], row["attempts"]) == ("tv", 1)
