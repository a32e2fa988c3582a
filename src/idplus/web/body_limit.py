"""Request bodies: refused when too large (413) or too slow (408) before any endpoint buffers them.

One pure-ASGI middleware for every route, so no endpoint has to remember a size check and no
worker ever holds more than `max_body_bytes` of a body, whatever Content-Length claims.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idplus.errors import GATEWAY_ERRORS

GATEWAY_PREFIX = "/oauth/v2/"
TOO_LARGE = 413
TOO_SLOW = 408
_DESCRIPTIONS = {
    TOO_LARGE: "the request body is too large",
    TOO_SLOW: "the request body did not arrive in time",
}


class BodyRefused(ClientDisconnect):
    """The body will not be delivered to the endpoint.

    A ClientDisconnect because to an endpoint both mean the same thing (the body is not coming),
    and every handler already lets that one through to the middleware.
    """

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int, timeout_seconds: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_seconds = timeout_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        declared = _declared_length(scope["headers"]) if scope["type"] == "http" else None
        if declared is None:
            await self.app(scope, receive, send)
            return
        if declared > self.max_bytes:
            # Nothing has called receive(), so the server has not sent 100-continue or read on.
            await _refuse(send, scope["path"], TOO_LARGE)
            return
        deadline = asyncio.get_running_loop().time() + self.timeout_seconds
        try:
            await self.app(scope, _LimitedReceive(receive, self.max_bytes, deadline), send)
        except BodyRefused as refused:
            await _refuse(send, scope["path"], refused.status)


def _declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    """Content-Length, 0 for a body of unknown length (chunked), None for no body at all."""
    declared = None
    for name, value in headers:
        if name == b"content-length":
            declared = int(value) if value.isdigit() else 0
        elif name == b"transfer-encoding" and declared is None:
            declared = 0
    return declared


class _LimitedReceive:
    """receive() that counts body bytes and bounds the time until the last one arrives."""

    __slots__ = ("_deadline", "_done", "_receive", "_remaining")

    def __init__(self, receive: Receive, max_bytes: int, deadline: float) -> None:
        self._receive = receive
        self._remaining = max_bytes
        self._deadline = deadline
        self._done = False

    async def __call__(self) -> Message:
        if self._done:
            # After the body, receive() waits for a disconnect; that wait has no deadline.
            return await self._receive()
        try:
            async with asyncio.timeout_at(self._deadline):
                message = await self._receive()
        except TimeoutError:
            raise BodyRefused(TOO_SLOW) from None
        if message["type"] != "http.request":
            self._done = True  # http.disconnect: the endpoint raises ClientDisconnect on it
            return message
        self._remaining -= len(message.get("body", b""))
        if self._remaining < 0:
            raise BodyRefused(TOO_LARGE)
        self._done = not message.get("more_body", False)
        return message


async def _refuse(send: Send, path: str, status: int) -> None:
    body = _refusal_body(path, _DESCRIPTIONS[status])
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        (b"pragma", b"no-cache"),
        # The rest of the body is never read: closing is the only way to be rid of it.
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _refusal_body(path: str, description: str) -> bytes:
    if path.startswith(GATEWAY_PREFIX):
        _status, code, error = GATEWAY_ERRORS["invalid_grant_type"]
        document: dict[str, object] = {"error_code": code, "error": error}
    else:
        document = {"error": "invalid_request"}
    document["error_description"] = description
    return json.dumps(document, separators=(",", ":")).encode()
