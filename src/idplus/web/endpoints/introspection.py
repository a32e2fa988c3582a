"""POST /connect/introspect (RFC 7662), client authentication required."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idplus.crypto.keys import KeyRing
from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import OAuthError
from idplus.protocol.client_auth import authenticate_request
from idplus.protocol.context import AppContext
from idplus.protocol.introspection import introspect
from idplus.protocol.params import Params, parse_params
from idplus.web.adapters import json_response, oauth_error_response
from idplus.web.signing import current_key_ring


async def introspection(request: Request) -> Response:
    server = context_of(request)
    try:
        params = parse_params(await read_parameters(request))
        ring = await current_key_ring(request)
        authorization = request.headers.get("authorization")
        answer = await run_blocking(_introspect, server, ring, authorization, params)
    except OAuthError as error:
        return oauth_error_response(error)
    return json_response(answer)


def _introspect(
    server: AppContext, ring: KeyRing, authorization: str | None, params: Params
) -> dict[str, Any]:
    client = authenticate_request(server, authorization, params, endpoint="introspection_endpoint")
    return introspect(server, ring, client, params)
