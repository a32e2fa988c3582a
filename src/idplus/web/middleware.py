"""Request context: request id, access log, metrics, and the last-resort error answer.

Pure ASGI (not BaseHTTPMiddleware) because it wraps every hot-path request.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idplus.errors import GATEWAY_ERRORS
from idplus.logs import get_logger
from idplus.store.base import StoreUnavailable

log = get_logger("idplus.http")

REQUEST_ID_HEADER = b"x-request-id"
_ACCEPTABLE_REQUEST_ID = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")
_SERVER_ERROR_BODY = b'{"error":"server_error","error_description":"internal error"}'
_UNAVAILABLE_BODY = (
    b'{"error":"temporarily_unavailable",'
    b'"error_description":"the service is briefly unavailable; try again in a moment"}'
)
_BUSY_STATUS, _BUSY_CODE, _BUSY_TEXT = GATEWAY_ERRORS["busy"]
_GATEWAY_UNAVAILABLE_BODY = json.dumps(
    {"error_code": _BUSY_CODE, "error": _BUSY_TEXT, "error_description": _BUSY_TEXT},
    separators=(",", ":"),
).encode()
_UNAVAILABLE_PAGE = (
    b"<!doctype html><html lang=en><meta charset=utf-8><title>Briefly unavailable</title>"
    b"<h1>Briefly unavailable</h1><p>Try again in a moment.</p>"
    b'<p lang="nb">Tjenesten er utilgjengelig akkurat n\xc3\xa5. Pr\xc3\xb8v igjen om litt.</p>'
)
_DEFAULT_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class HttpMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "idplus_http_requests",
            "HTTP requests answered, by route and status.",
            ["method", "route", "status"],
            registry=registry,
        )
        self.duration = Histogram(
            "idplus_http_request_duration_seconds",
            "Time to answer an HTTP request, by route.",
            ["route"],
            registry=registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        # Label lookups are costly next to a hot request; keep the children we have seen.
        self._counters: dict[tuple[str, str, int], Any] = {}
        self._histograms: dict[str, Any] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(method, route, str(status))
        histogram = self._histograms.get(route)
        if histogram is None:
            histogram = self._histograms[route] = self.duration.labels(route)
        counter.inc()
        histogram.observe(seconds)


SLOW_REQUEST_SECONDS = 1.0
# Any other method a request makes up is counted as "other": labels come from a closed set.
COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# nginx's code for "the client closed the connection before the answer": not a server error.
CLIENT_CLOSED_REQUEST = 499


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics: HttpMetrics,
        labels: Mapping[Any, str],
        log_every_request: bool,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.labels = labels
        self.log_every_request = log_every_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_context(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER, request_id.encode()))
                headers.extend(_DEFAULT_HEADERS)
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_context)
        except ClientDisconnect:
            status = CLIENT_CLOSED_REQUEST
        except StoreUnavailable as exc:
            # The database is down, restarting or out of connections: a quick 503 that a
            # client (or a load balancer) retries, never a hang or a 500.
            log.warning("store_unavailable", path=scope.get("path"), detail=str(exc))
            if not response_started:
                await _send_unavailable(scope, send_with_context)
        except Exception:
            log.exception("unhandled_error", path=scope.get("path"))
            if not response_started:
                await _send_server_error(send_with_context)
        finally:
            self._observe(scope, status, time.perf_counter() - started)
            structlog.contextvars.unbind_contextvars("request_id")

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        route = self.labels.get(scope.get("endpoint"), "unmatched")
        method = scope.get("method", "")
        self.metrics.observe(
            method if method in COUNTED_METHODS else "other", route, status, seconds
        )
        if not self.log_every_request and status < 400 and seconds < SLOW_REQUEST_SECONDS:
            return
        client = scope.get("client")
        log.info(
            "request",
            method=method,
            path=scope.get("path"),
            status=status,
            client=client[0] if client else None,
            duration_ms=round(seconds * 1000, 2),
        )


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == REQUEST_ID_HEADER and _ACCEPTABLE_REQUEST_ID.match(value):
            return str(value.decode())
    # As random as uuid4().hex, without building a UUID object on every request.
    return secrets.token_hex(16)


async def _send_unavailable(scope: Scope, send: Send) -> None:
    path = str(scope.get("path", ""))
    accept = dict(scope.get("headers", [])).get(b"accept", b"")
    if path.startswith("/oauth/v2/"):
        body, content_type = _GATEWAY_UNAVAILABLE_BODY, b"application/json"
    elif b"text/html" in accept:
        body, content_type = _UNAVAILABLE_PAGE, b"text/html; charset=utf-8"
    else:
        body, content_type = _UNAVAILABLE_BODY, b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", content_type),
                (b"cache-control", b"no-store"),
                (b"retry-after", b"1"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _send_server_error(send: Send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 500,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                (b"content-length", str(len(_SERVER_ERROR_BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": _SERVER_ERROR_BODY})
