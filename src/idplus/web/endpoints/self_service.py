"""GET /api/meta/v1/self-service: with an access token (Bearer or DPoP), the account page's URL."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, run_blocking
from idplus.errors import OAuthError
from idplus.protocol.bearer import (
    InsufficientScope,
    InvalidToken,
    PresentedToken,
    read_access_token,
)
from idplus.protocol.dpop.presentation import in_the_scheme_used
from idplus.protocol.dpop.request import DpopEvidence, fresh_nonce
from idplus.protocol.self_service import self_service_url
from idplus.web.adapters import json_response, oauth_error_response
from idplus.web.signing import current_key_ring


async def self_service(request: Request) -> Response:
    server = context_of(request)
    dpop = DpopEvidence.of(request.headers.getlist("dpop"), request.method, request.url.path)
    presented: PresentedToken | None = None
    try:
        presented = read_access_token(request.headers.get("authorization"), None)
        ring = await current_key_ring(request)
        locale = request.query_params.get("locale")
        url = await run_blocking(self_service_url, server, ring, presented, dpop, locale)
    except (InvalidToken, InsufficientScope) as invalid:
        error = in_the_scheme_used(presented, invalid) if presented is not None else invalid
        return oauth_error_response(error)
    except OAuthError as error:
        return oauth_error_response(error)
    # RFC 9449 §8.2: the nonce for the client's next proof, as at userinfo.
    return json_response({"url": url}, nonce=fresh_nonce(server, dpop))
