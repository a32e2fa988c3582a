"""GET /federation/{id}/callback: where an upstream OpenID provider sends the browser back.

The protocol side (`protocol/authenticators/upstream.callback`) checks the state against the
login this browser has in progress, exchanges the code and logs the user in; this page renders
the outcome like the login pages do: the client's redirect URI with new cookies, the client's
`access_denied`, or an error page (never a 5xx).
"""

from __future__ import annotations

from typing import assert_never

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of
from idplus.protocol.authenticators.upstream import callback
from idplus.protocol.login.results import Cancelled, LoginFinished, UpstreamFailed
from idplus.ui.authorization_response import authorization_response
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id
from idplus.ui.login import finished_login, upstream_failed

CALLBACK_PATH = "/federation/{provider_id}/callback"


async def upstream_callback(request: Request) -> Response:
    server = context_of(request)
    provider_id = str(request.path_params["provider_id"])
    query = dict(request.query_params.items())
    result = await run_in_threadpool(
        callback, server, provider_id, browser_id(request) or "", query
    )
    if isinstance(result, LoginFinished):
        return finished_login(request, server, result)
    if isinstance(result, Cancelled):
        return authorization_response(result.response, pages_of(request).environment)
    if isinstance(result, UpstreamFailed):
        return upstream_failed(request, server, result)
    assert_never(result)
