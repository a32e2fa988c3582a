"""POST /connect/par (RFC 9126 §2): a client pushes its authorization request and gets a
request_uri for the browser. Client authentication as at the token endpoint; form bodies only,
bounded like every body (web.body_limit)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import OAuthError
from idplus.logs import get_logger
from idplus.policies import MAX_CLIENT_ID_LENGTH
from idplus.protocol.client_auth import authenticate_request, read_client_credentials
from idplus.protocol.context import AppContext
from idplus.protocol.dpop.request import DpopEvidence, fresh_nonce
from idplus.protocol.params import Params, parse_params
from idplus.protocol.pushed_request import PushedAuthorization, push_authorization_request
from idplus.web.adapters import json_response, oauth_error_response

log = get_logger("idplus.par")
CREATED = 201


async def pushed_authorization_request(request: Request) -> Response:
    server = context_of(request)
    authorization = request.headers.get("authorization")
    dpop = DpopEvidence.of(request.headers.getlist("dpop"), "POST", request.url.path)
    params: Params | None = None
    try:
        params = parse_params(await read_parameters(request))
        pushed = await run_blocking(_push, server, authorization, params, dpop)
    except OAuthError as error:
        log.info("par_refused", error=error.error, client_id=_claimed_client(authorization, params))
        return oauth_error_response(error)
    return json_response(pushed.to_json(), CREATED, nonce=fresh_nonce(server, dpop))


def _claimed_client(authorization: str | None, params: Params | None) -> str | None:
    """The client id as claimed (it may be unknown or fail to authenticate); never a secret."""
    if params is None:
        return None
    try:
        return read_client_credentials(authorization, params).client_id[:MAX_CLIENT_ID_LENGTH]
    except OAuthError:
        return None


def _push(
    server: AppContext, authorization: str | None, params: Params, dpop: DpopEvidence | None
) -> PushedAuthorization:
    client = authenticate_request(
        server, authorization, params, endpoint="pushed_authorization_request_endpoint"
    )
    return push_authorization_request(server, client, params, dpop)
