"""GET /api/meta/v1/self-service: with a Bearer access token, the account page's URL."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of
from idplus.errors import OAuthError
from idplus.protocol.bearer import read_bearer_token
from idplus.protocol.self_service import self_service_url
from idplus.web.adapters import json_response, oauth_error_response
from idplus.web.signing import current_key_ring


async def self_service(request: Request) -> Response:
    server = context_of(request)
    try:
        token = read_bearer_token(request.headers.get("authorization"), None)
        ring = await current_key_ring(request)
        locale = request.query_params.get("locale")
        url = await run_in_threadpool(self_service_url, server, ring, token, locale)
    except OAuthError as error:
        return oauth_error_response(error)
    return json_response({"url": url})
