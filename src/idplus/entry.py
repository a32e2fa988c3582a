"""What every entry point (web endpoints, pages, the gateway) reads off an HTTP request: the
application context, the peer's address, and the OAuth parameters the request carries."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request

from idplus.errors import InvalidRequest
from idplus.protocol.context import AppContext

FORM_TYPE = "application/x-www-form-urlencoded"


def context_of(request: Request) -> AppContext:
    """The one application context, set by the application's lifespan."""
    context: AppContext = request.app.state.context
    return context


def client_address(request: Request) -> str | None:
    """The peer's address; uvicorn has already replaced it with X-Forwarded-For's when the
    peer is one of IDPLUS_TRUSTED_PROXIES, and only then."""
    return request.client.host if request.client else None


async def read_parameters(request: Request) -> list[tuple[str, str]]:
    """Query parameters for GET; the url-encoded form body for POST (RFC 6749 §3.1).

    The body's size is bounded before it gets here (web.body_limit).
    """
    if request.method == "GET":
        return list(request.query_params.multi_items())
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        raise InvalidRequest(f"the body must be {FORM_TYPE}")
    body = await request.body()
    try:
        # parse_qsl is several times cheaper than a general form parser on the hot paths.
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise InvalidRequest("the body is not valid url-encoded UTF-8") from None
