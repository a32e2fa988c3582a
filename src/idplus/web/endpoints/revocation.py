"""POST /connect/revocation (RFC 7009)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idplus.crypto.keys import KeyRing
from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import OAuthError
from idplus.protocol.client_auth import authenticate_request
from idplus.protocol.context import AppContext
from idplus.protocol.params import Params, parse_params
from idplus.protocol.revocation import revoke
from idplus.web.adapters import empty_response, oauth_error_response
from idplus.web.signing import current_key_ring


async def revocation(request: Request) -> Response:
    server = context_of(request)
    try:
        params = parse_params(await read_parameters(request))
        ring = await current_key_ring(request)
        authorization = request.headers.get("authorization")
        await run_blocking(_revoke, server, ring, authorization, params)
    except OAuthError as error:
        return oauth_error_response(error)
    return empty_response()


def _revoke(server: AppContext, ring: KeyRing, authorization: str | None, params: Params) -> None:
    client = authenticate_request(server, authorization, params, endpoint="revocation_endpoint")
    revoke(server, ring, client, params)
