"""/oauth/v2/token, /oauth/v2/logout and /oauth/v2/authorize (SPEC §9).

Every failure, including an unexpected one, answers the gateway's JSON error model:
`{"error_code": N, "error": "<short text>", "error_description": "…"}`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from idplus.entry import context_of
from idplus.errors import GatewayError, InvalidRequest, gateway_error
from idplus.logs import get_logger
from idplus.protocol.gateway import (
    check_gateway_authorize,
    issue_gateway_tokens,
    logout_gateway_token,
)
from idplus.protocol.params import parse_params

log = get_logger("idplus.gateway")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Shed load (503) briefly: a client that retries at once only deepens the queue.
RETRY_AFTER = {"Retry-After": "1"}
MALFORMED_PARAMETER = "a parameter is malformed or too long"


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
        except InvalidRequest as problem:
            # SPEC §9: a malformed or oversized parameter is 400/2; which one is for the log.
            log.info("gateway_error", code=2, detail=problem.detail)
            return _error_response(gateway_error("invalid_grant_type", MALFORMED_PARAMETER))
        except ClientDisconnect:
            raise  # nobody to answer; the request middleware records it
        except Exception:
            log.exception("gateway_internal_error", path=request.url.path)
            return _error_response(gateway_error("internal_error"))

    guarded.__name__ = handler.__name__
    return guarded


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
    answer = await run_in_threadpool(
        issue_gateway_tokens, server, request.headers.get("authorization"), params
    )
    return JSONResponse(answer, headers=NO_STORE)


@numbered_errors
async def logout(request: Request) -> Response:
    server = context_of(request)
    await run_in_threadpool(logout_gateway_token, server, request.headers.get("authorization"))
    return PlainTextResponse("OK!", headers=NO_STORE)


@numbered_errors
async def authorize(request: Request) -> Response:
    """Gateway checks first; then the identity front runs the login and issues the code."""
    server = context_of(request)
    params = parse_params(request.query_params.multi_items())
    await run_in_threadpool(check_gateway_authorize, server, params)
    query = urlencode(list(request.query_params.multi_items()))
    return RedirectResponse(f"/connect/authorize?{query}", status_code=302)
