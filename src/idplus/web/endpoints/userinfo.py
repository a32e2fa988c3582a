"""GET|POST /connect/userinfo (OIDC Core §5.3) with a Bearer (RFC 6750) or DPoP-bound (RFC 9449
§7) access token."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import OAuthError
from idplus.protocol.bearer import (
    InsufficientScope,
    InvalidToken,
    PresentedToken,
    read_access_token,
)
from idplus.protocol.dpop.presentation import in_the_scheme_used
from idplus.protocol.dpop.request import DpopEvidence, fresh_nonce
from idplus.protocol.oidc.userinfo import userinfo as userinfo_claims
from idplus.protocol.params import parse_params
from idplus.web.adapters import json_response, oauth_error_response
from idplus.web.signing import current_key_ring


async def userinfo(request: Request) -> Response:
    server = context_of(request)
    dpop = DpopEvidence.of(request.headers.getlist("dpop"), request.method, request.url.path)
    presented: PresentedToken | None = None
    try:
        params = parse_params(await read_parameters(request)) if request.method == "POST" else None
        presented = read_access_token(request.headers.get("authorization"), params)
        ring = await current_key_ring(request)
        claims = await run_blocking(userinfo_claims, server, ring, presented, dpop)
    except (InvalidToken, InsufficientScope) as invalid:
        error = in_the_scheme_used(presented, invalid) if presented is not None else invalid
        return oauth_error_response(error)
    except OAuthError as error:
        return oauth_error_response(error)
    return json_response(claims, nonce=fresh_nonce(server, dpop))
