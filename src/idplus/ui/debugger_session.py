"""What the debugger remembers between requests: two encrypted, short-lived cookies.

`idplus_debugger` carries one flow from its preview to the callback (state, nonce, PKCE
verifier, client secret); `idplus_debugger_tokens` carries what the code exchange gave, for
the result page's buttons. Both are Fernet tokens (encrypted, then signed) under a key derived
from the server's cookie key, HttpOnly, scoped to /debugger, and they expire by the server's
clock. None of it is ever put in a URL or a log.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from dataclasses import asdict, dataclass, replace
from typing import Any, TypeVar

from cryptography.fernet import Fernet, InvalidToken
from starlette.requests import Request
from starlette.responses import Response

from idplus.protocol.context import AppContext

DEBUGGER_PATH = "/debugger"
FLOW_COOKIE = "idplus_debugger"
TOKENS_COOKIE = "idplus_debugger_tokens"
FLOW_SECONDS = 600
TOKENS_SECONDS = 3600
# Browsers drop a cookie above 4096 bytes (name and attributes included) without a word.
_MAX_COOKIE_BYTES = 3900


@dataclass(frozen=True, slots=True)
class Flow:
    """An authorization request shown in the preview, until its answer comes back."""

    client_id: str
    client_secret: str | None
    state: str
    nonce: str
    verifier: str
    locale: str


@dataclass(frozen=True, slots=True)
class Tokens:
    """The tokens of the last exchange or refresh, and what the buttons need to use them."""

    client_id: str
    client_secret: str | None
    access_token: str | None
    id_token: str | None
    refresh_token: str | None
    # The state sent with RP-initiated logout, checked when the browser comes back.
    logout_state: str
    locale: str

    def refreshed(self, answer: dict[str, Any]) -> Tokens:
        """After a refresh: the tokens it gave replace the old ones, the others stay."""
        return replace(
            self,
            access_token=_text(answer.get("access_token")) or self.access_token,
            id_token=_text(answer.get("id_token")) or self.id_token,
            refresh_token=_text(answer.get("refresh_token")) or self.refresh_token,
        )


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def save_flow(server: AppContext, response: Response, flow: Flow) -> None:
    _save(server, response, FLOW_COOKIE, FLOW_SECONDS, _seal(server, flow))


def read_flow(server: AppContext, request: Request) -> Flow | None:
    return _open(server, request.cookies.get(FLOW_COOKIE), FLOW_SECONDS, Flow)


def forget_flow(response: Response) -> None:
    response.delete_cookie(FLOW_COOKIE, path=DEBUGGER_PATH)


def save_tokens(server: AppContext, response: Response, tokens: Tokens) -> None:
    sealed = _seal(server, tokens)
    if len(sealed) > _MAX_COOKIE_BYTES:
        # The ID token is only the logout hint; without it the other buttons still work.
        sealed = _seal(server, replace(tokens, id_token=None))
    _save(server, response, TOKENS_COOKIE, TOKENS_SECONDS, sealed)


def read_tokens(server: AppContext, request: Request) -> Tokens | None:
    return _open(server, request.cookies.get(TOKENS_COOKIE), TOKENS_SECONDS, Tokens)


def _fernet(server: AppContext) -> Fernet:
    key = hashlib.sha256(server.secrets.cookie_key + b"|debugger").digest()
    return Fernet(base64.urlsafe_b64encode(key))


def _now(server: AppContext) -> int:
    return int(server.clock.now().timestamp())


def _seal(server: AppContext, value: Flow | Tokens) -> str:
    # Compressed: JWTs in JSON shrink by a fifth, which keeps three tokens under the limit.
    packed = zlib.compress(json.dumps(asdict(value)).encode())
    return _fernet(server).encrypt_at_time(packed, _now(server)).decode()


_Value = TypeVar("_Value", Flow, Tokens)


def _open(
    server: AppContext, sealed: str | None, seconds: int, kind: type[_Value]
) -> _Value | None:
    if not sealed:
        return None
    try:
        packed = _fernet(server).decrypt_at_time(sealed.encode(), seconds, _now(server))
        return kind(**json.loads(zlib.decompress(packed)))
    except (InvalidToken, zlib.error, ValueError, TypeError):
        # Expired, forged, or written by an older version of these dataclasses.
        return None


def _save(server: AppContext, response: Response, name: str, seconds: int, sealed: str) -> None:
    response.set_cookie(
        name,
        sealed,
        max_age=seconds,
        httponly=True,
        samesite="lax",
        secure=server.settings.issuer_is_https,
        path=DEBUGGER_PATH,
    )
