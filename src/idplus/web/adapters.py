"""Request → typed input, and protocol results / OAuth errors → HTTP responses.

An OAuthError is rendered here and only here: its public description goes to the client,
its private detail to the log.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse, Response

from idplus.errors import OAuthError
from idplus.logs import get_logger
from idplus.protocol.bearer import InsufficientScope, InvalidToken, MissingToken
from idplus.protocol.client_auth import ClientAuthenticationFailed

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
REALM = 'realm="idplus"'

log = get_logger("idplus.oauth")


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
