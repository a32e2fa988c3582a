"""POST /connect/token (RFC 6749 §3.2). Thin: read, one protocol call, render."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import OAuthError
from idplus.logs import get_logger
from idplus.policies import MAX_CLIENT_ID_LENGTH
from idplus.protocol.client_auth import read_client_credentials
from idplus.protocol.dpop.request import DpopEvidence, fresh_nonce
from idplus.protocol.params import parse_params
from idplus.protocol.token_endpoint import (
    TokenRequest,
    answerable_without_io,
    handle_token_request,
)
from idplus.web.adapters import json_response, oauth_error_response
from idplus.web.signing import current_key_ring

log = get_logger("idplus.token")


async def token(request: Request) -> Response:
    server = context_of(request)
    token_request: TokenRequest | None = None
    try:
        token_request = TokenRequest(
            request.headers.get("authorization"),
            parse_params(await read_parameters(request)),
            DpopEvidence.of(request.headers.getlist("dpop"), "POST", request.url.path),
        )
        ring = await current_key_ring(request)
        if answerable_without_io(server.clients, token_request):
            answer = handle_token_request(server, ring, token_request)
        else:
            answer = await run_blocking(handle_token_request, server, ring, token_request)
    except OAuthError as error:
        _log_refusal(token_request, error)
        return oauth_error_response(error)
    return json_response(answer.to_json(), nonce=fresh_nonce(server, token_request.dpop))


def _log_refusal(token_request: TokenRequest | None, error: OAuthError) -> None:
    """Which grant, for which client (as claimed: it may be unknown or fail to authenticate);
    the internal reason follows in `oauth_error`."""
    grant_type = client_id = None
    if token_request is not None:
        grant_type = (token_request.params.get("grant_type") or "")[:100] or None
        try:
            credentials = read_client_credentials(token_request.authorization, token_request.params)
            client_id = credentials.client_id[:MAX_CLIENT_ID_LENGTH]
        except OAuthError:
            pass
    log.info("token_refused", error=error.error, grant_type=grant_type, client_id=client_id)
