"""POST /connect/ciba (CIBA Core 1.0 §7) and POST /connect/ciba/prepare (the BankID-style
flow's login_hint_token). Form bodies only; client authentication as at the token endpoint."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import OAuthError, UnauthorizedClient
from idplus.models import Client
from idplus.policies import GRANT_CIBA
from idplus.protocol.ciba.hints import PreparedHint, prepare_hint
from idplus.protocol.ciba.request import CibaStarted, start_backchannel_authentication
from idplus.protocol.client_auth import authenticate_request
from idplus.protocol.context import AppContext
from idplus.protocol.params import Params, parse_params
from idplus.web.adapters import json_response, oauth_error_response


async def backchannel_authentication(request: Request) -> Response:
    server = context_of(request)
    try:
        params = parse_params(await read_parameters(request))
        authorization = request.headers.get("authorization")
        started = await run_blocking(_start, server, authorization, params)
    except OAuthError as error:
        return oauth_error_response(error)
    return json_response(started.to_json())


async def prepare(request: Request) -> Response:
    server = context_of(request)
    try:
        params = parse_params(await read_parameters(request))
        authorization = request.headers.get("authorization")
        prepared = await run_blocking(_prepare, server, authorization, params)
    except OAuthError as error:
        return oauth_error_response(error)
    return json_response(prepared.to_json())


def _start(server: AppContext, authorization: str | None, params: Params) -> CibaStarted:
    client = authenticate_request(
        server, authorization, params, endpoint="backchannel_authentication_endpoint"
    )
    return start_backchannel_authentication(server, client, params)


def _prepare(server: AppContext, authorization: str | None, params: Params) -> PreparedHint:
    # The prepare endpoint is not in discovery: an assertion names the issuer or token endpoint.
    client = _ciba_client(authenticate_request(server, authorization, params, endpoint=None))
    params.require_single()
    return prepare_hint(server, client, params.get("kurtid"))


def _ciba_client(client: Client) -> Client:
    if not client.ciba_enabled or GRANT_CIBA not in client.grant_types:
        raise UnauthorizedClient("this client may not use CIBA")
    return client
