"""Request → typed input, and protocol results / OAuth errors → HTTP responses.

An OAuthError is rendered here and only here: its public description goes to the client,
its private detail to the log.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idplus.errors import InvalidRequest, OAuthError
from idplus.logs import get_logger
from idplus.protocol.bearer import InsufficientScope, InvalidToken, MissingToken
from idplus.protocol.client_auth import ClientAuthenticationFailed

FORM_TYPE = "application/x-www-form-urlencoded"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REALM = 'realm="idplus"'

log = get_logger("idplus.oauth")


async def read_parameters(request: Request) -> list[tuple[str, str]]:
    """Query parameters for GET; the url-encoded form body for POST (RFC 6749 §3.1).

    BodyLimitMiddleware has bounded the body's size already.
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


def json_response(body: dict[str, Any], status_code: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=NO_STORE)


def oauth_error_response(error: OAuthError) -> JSONResponse:
    """RFC 6749 §5.2 JSON, with the challenges of RFC 6749 §5.2 and RFC 6750 §3."""
    log.info("oauth_error", error=error.error, detail=error.detail)
    headers = dict(NO_STORE)
    body: dict[str, Any] = {"error": error.error}
    if error.description:
        body["error_description"] = error.description
    if isinstance(error, ClientAuthenticationFailed) and error.basic:
        headers["WWW-Authenticate"] = f"Basic {REALM}"
    elif isinstance(error, MissingToken):
        headers["WWW-Authenticate"] = f"Bearer {REALM}"
    elif isinstance(error, InvalidToken | InsufficientScope):
        description = error.description.replace('"', "'")
        headers["WWW-Authenticate"] = (
            f'Bearer {REALM}, error="{error.error}", error_description="{description}"'
        )
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def empty_response() -> Response:
    return Response(status_code=200, headers=NO_STORE)
