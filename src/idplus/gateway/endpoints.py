"""/oauth/v2/token, /oauth/v2/logout and /oauth/v2/authorize (SPEC §9).

Every failure, including an unexpected one, answers the gateway's JSON error model:
`{"error_code": N, "error": "<short text>", "error_description": "…"}`. The grant engine
raises the same OAuthErrors on both fronts; `NUMBERED` below is where they get their numbers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from idplus.entry import context_of, run_blocking
from idplus.errors import (
    GATEWAY_ERRORS,
    GatewayError,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    OAuthError,
    UnauthorizedClient,
    UnsupportedGrantType,
    gateway_error,
)
from idplus.logs import get_logger
from idplus.policies import GRANT_AUTHORIZATION_CODE, GRANT_PASSWORD, GRANT_REFRESH_TOKEN
from idplus.protocol.client_auth import (
    ClientAuthenticationFailed,
    UnknownClient,
    UnreadableCredentials,
)
from idplus.protocol.gateway import (
    NoApiAccess,
    NotAGatewayClient,
    check_gateway_authorize,
    issue_gateway_tokens,
    logout_gateway_token,
)
from idplus.protocol.grants import MissingParameter, RedirectUriMismatch, TemporarilyUnavailable
from idplus.protocol.grants.password import TooManyAttempts
from idplus.protocol.issuance import TokenResponse
from idplus.protocol.params import parse_params
from idplus.store.base import StoreUnavailable

log = get_logger("idplus.gateway")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Shed load (503) briefly: a client that retries at once only deepens the queue.
RETRY_AFTER = {"Retry-After": "1"}
MALFORMED_PARAMETER = "a parameter is malformed or too long"

# The engine's errors as the gateway numbers them: (grant_type, error class) → (kind of
# errors.GATEWAY_ERRORS, public description or None for its short text). A grant of None
# matches any grant; the most specific class of an error is looked up first.
NUMBERED: dict[tuple[str | None, type], tuple[str, str | None]] = {
    (None, UnreadableCredentials): ("bad_authorization_header", None),
    (None, UnknownClient): ("invalid_client_id", None),
    (None, NotAGatewayClient): ("invalid_client_data", None),
    (None, NoApiAccess): ("invalid_app_attributes", "the app is not enabled for API access"),
    (None, ClientAuthenticationFailed): ("basic_auth_failed", None),
    # Without a grant, a missing parameter is the grant_type.
    (None, MissingParameter): ("invalid_grant_type", None),
    (None, InvalidRequest): ("invalid_grant_type", MALFORMED_PARAMETER),
    (None, UnsupportedGrantType): ("invalid_grant_type", None),
    (None, UnauthorizedClient): ("grant_not_permitted", None),
    (None, InvalidScope): ("invalid_scope", None),
    (None, TemporarilyUnavailable): ("busy", None),
    (GRANT_AUTHORIZATION_CODE, MissingParameter): ("invalid_code", None),
    (GRANT_AUTHORIZATION_CODE, RedirectUriMismatch): ("invalid_redirect_uri", None),
    (GRANT_AUTHORIZATION_CODE, InvalidGrant): ("invalid_code", None),
    (GRANT_REFRESH_TOKEN, MissingParameter): ("invalid_refresh_token", None),
    (GRANT_REFRESH_TOKEN, InvalidGrant): ("invalid_refresh_token", None),
    (GRANT_PASSWORD, MissingParameter): ("not_authorized", None),
    (GRANT_PASSWORD, TooManyAttempts): (
        "not_authorized",
        "too many failed attempts; try again later",
    ),
    (GRANT_PASSWORD, InvalidGrant): ("not_authorized", None),
}


def numbered(problem: OAuthError, grant_type: str | None = None) -> GatewayError:
    """The gateway's numbered error for an engine error; its reason stays the log's."""
    for cls in type(problem).__mro__:
        found = NUMBERED.get((grant_type, cls)) or NUMBERED.get((None, cls))
        if found is not None:
            kind, description = found
            status, code, short = GATEWAY_ERRORS[kind]
            return GatewayError(status, code, short, description or short, detail=problem.detail)
    # An engine error this table has no row for: a gap to fix here, not the client's fault.
    log.error("gateway_unnumbered_error", error=problem.error, detail=problem.detail)
    return gateway_error("internal_error")


def _error_response(error: GatewayError) -> JSONResponse:
    body = {"error_code": error.code, "error": error.error, "error_description": error.description}
    headers = {**NO_STORE, **RETRY_AFTER} if error.status_code == 503 else NO_STORE
    return JSONResponse(body, status_code=error.status_code, headers=headers)


def numbered_errors(
    handler: Callable[[Request], Awaitable[Response]],
) -> Callable[[Request], Awaitable[Response]]:
    async def guarded(request: Request) -> Response:
        try:
            return await handler(request)
        except GatewayError as error:
            log.info("gateway_error", code=error.code, detail=error.detail)
            return _error_response(error)
        except OAuthError as problem:
            # SPEC §9: a malformed or oversized parameter is 400/2; which one is for the log.
            answer = numbered(problem)
            log.info("gateway_error", code=answer.code, detail=answer.detail)
            return _error_response(answer)
        except (ClientDisconnect, StoreUnavailable):
            raise  # nobody to answer / a 503 the request middleware gives every front
        except Exception:
            log.exception("gateway_internal_error", path=request.url.path)
            return _error_response(gateway_error("internal_error"))

    guarded.__name__ = handler.__name__
    return guarded


def _token_body(answer: TokenResponse) -> dict[str, Any]:
    """SPEC §9: {access_token, expires_in, token_type, scope?, refresh_token?}."""
    body: dict[str, Any] = {
        "access_token": answer.access_token,
        "expires_in": answer.expires_in,
        "token_type": "Bearer",
    }
    if answer.scope:
        body["scope"] = " ".join(answer.scope)
    if answer.refresh_token is not None:
        body["refresh_token"] = answer.refresh_token
    return body


@numbered_errors
async def token(request: Request) -> Response:
    server = context_of(request)
    body = await request.body()
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in ("", "application/x-www-form-urlencoded"):
        raise gateway_error("invalid_grant_type", "send a url-encoded form")
    try:
        items = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except (UnicodeDecodeError, ValueError):
        raise gateway_error("invalid_grant_type", "send a url-encoded form") from None
    params = parse_params(items)
    try:
        answer = await run_blocking(
            issue_gateway_tokens, server, request.headers.get("authorization"), params
        )
    except OAuthError as problem:
        raise numbered(problem, params.get("grant_type")) from None
    return JSONResponse(_token_body(answer), headers=NO_STORE)


@numbered_errors
async def logout(request: Request) -> Response:
    server = context_of(request)
    await run_blocking(logout_gateway_token, server, request.headers.get("authorization"))
    return PlainTextResponse("OK!", headers=NO_STORE)


@numbered_errors
async def authorize(request: Request) -> Response:
    """Gateway checks first; then the identity front runs the login and issues the code."""
    server = context_of(request)
    params = parse_params(request.query_params.multi_items())
    await run_blocking(check_gateway_authorize, server, params)
    query = urlencode(list(request.query_params.multi_items()))
    return RedirectResponse(f"/connect/authorize?{query}", status_code=302)
