"""GET|POST /connect/userinfo (OIDC Core §5.3) with a Bearer access token (RFC 6750)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, read_parameters
from idplus.errors import OAuthError
from idplus.protocol.bearer import read_bearer_token
from idplus.protocol.oidc.userinfo import userinfo as userinfo_claims
from idplus.protocol.params import parse_params
from idplus.web.adapters import json_response, oauth_error_response
from idplus.web.signing import current_key_ring


async def userinfo(request: Request) -> Response:
    server = context_of(request)
    try:
        params = parse_params(await read_parameters(request)) if request.method == "POST" else None
        token = read_bearer_token(request.headers.get("authorization"), params)
        ring = await current_key_ring(request)
        claims = await run_in_threadpool(userinfo_claims, server, ring, token)
    except OAuthError as error:
        return oauth_error_response(error)
    return json_response(claims)
