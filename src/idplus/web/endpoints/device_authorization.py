"""POST /connect/deviceauthorization (RFC 8628 §3.1-3.2): form or JSON body; client
credentials in the body or HTTP Basic; public clients by client_id."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import InvalidRequest, OAuthError
from idplus.protocol.client_auth import authenticate_request
from idplus.protocol.context import AppContext
from idplus.protocol.device import DeviceAuthorization, start_device_authorization
from idplus.protocol.params import Params, parse_params
from idplus.web.adapters import json_response, oauth_error_response

MAX_JSON_BYTES = 16 * 1024


async def device_authorization(request: Request) -> Response:
    server = context_of(request)
    try:
        params = parse_params(await _read(request))
        authorization = request.headers.get("authorization")
        answer = await run_blocking(_start, server, authorization, params)
    except OAuthError as error:
        return oauth_error_response(error)
    return json_response(answer.to_json())


async def _read(request: Request) -> list[tuple[str, str]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        return await read_parameters(request)
    body = await request.body()
    try:
        document = json.loads(body) if len(body) <= MAX_JSON_BYTES else None
    except (ValueError, UnicodeDecodeError):
        document = None
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise InvalidRequest("the JSON body must be an object of strings")
    return [(str(k), v) for k, v in document.items()]


def _start(server: AppContext, authorization: str | None, params: Params) -> DeviceAuthorization:
    client = authenticate_request(
        server, authorization, params, endpoint="device_authorization_endpoint"
    )
    return start_device_authorization(server, client, params)
