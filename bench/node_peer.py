"""node-oidc-provider as the bench's peer: bench/peer/provider.mjs run by Node.

The npm package is the one the interoperability tests install in tests/interop (`npm ci`,
as .ci/run does); the bench installs nothing itself and skips the peer when Node or the
package is absent.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from common import REPO, SERVER_CORE, free_port, wait_ready

SCRIPT = Path(__file__).resolve().parent / "peer" / "provider.mjs"
PACKAGE = REPO / "tests" / "interop" / "node_modules" / "oidc-provider"
# The resource whose tokens are RS256 JWTs (provider.mjs); without it a token is opaque.
JWT_RESOURCE = "urn:idplus-bench:api"
SCOPE = "api:read"


@dataclass(frozen=True)
class Peer:
    """A running node-oidc-provider with one confidential client and one opaque token."""

    base_url: str
    pid: int
    client_id: str
    client_secret: str
    opaque_token: str


def peer_reason() -> str | None:
    """Why the peer cannot run, or None."""
    if shutil.which("node") is None:
        return "node is not installed"
    if not (PACKAGE / "package.json").is_file():
        return "oidc-provider is not installed (cd tests/interop && npm ci)"
    return None


def peer_name() -> str:
    version = json.loads((PACKAGE / "package.json").read_text())["version"]
    return f"node-oidc-provider {version}"


@contextlib.contextmanager
def running_peer(log_path: Path, core: str = SERVER_CORE) -> Iterator[Peer]:
    """provider.mjs pinned to `core`, checked to answer both paths as the bench expects."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    client_id, client_secret = "idplus-bench", secrets.token_urlsafe(32)
    env = dict(os.environ, BENCH_CLIENT_ID=client_id, BENCH_CLIENT_SECRET=client_secret)
    node = shutil.which("node") or "node"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            ["taskset", "-c", core, node, str(SCRIPT), str(port)],
            env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        try:
            wait_ready(base_url, process, path="/.well-known/openid-configuration")
            token = _check_paths(base_url, client_id, client_secret)
        except BaseException:
            # The log lives in the bench's temporary directory: show it before it goes.
            sys.stderr.write(log_path.read_text(errors="replace")[-4000:])
            raise
        yield Peer(base_url, process.pid, client_id, client_secret, token)
    finally:
        process.terminate()
        process.wait(timeout=15)


def _check_paths(base_url: str, client_id: str, client_secret: str) -> str:
    """Fail loudly unless the token endpoint signs RS256 JWTs for the resource and the opaque
    token introspects as active; return that opaque token."""
    with httpx.Client(base_url=base_url, auth=(client_id, client_secret)) as http:
        signed = _token(http, {"resource": JWT_RESOURCE})
        header = json.loads(_b64url_decode(signed.split(".")[0]))
        if header.get("alg") != "RS256":
            raise RuntimeError(f"peer: the access token is not an RS256 JWT: {header}")
        opaque = _token(http, {})
        if opaque.count(".") != 0:
            raise RuntimeError("peer: the token without a resource is not opaque")
        answer = http.post("/token/introspection", data={"token": opaque})
        answer.raise_for_status()
        if answer.json().get("active") is not True:
            raise RuntimeError(f"peer: its own token introspects as {answer.text}")
        return opaque


def _token(http: httpx.Client, extra: dict[str, str]) -> str:
    answer = http.post("/token", data={"grant_type": "client_credentials", "scope": SCOPE, **extra})
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def _b64url_decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
