"""GET /federation/{id}/callback: where an upstream OpenID provider sends the browser back;
GET /federation/{id}/logged-out: where its logout does.

The protocol side (`protocol/authenticators/upstream.callback`) checks the state against the
login this browser has in progress, exchanges the code and logs the user in; this page renders
the outcome like the login pages do: the client's redirect URI with new cookies, the client's
`access_denied`, or an error page (never a 5xx).
"""

from __future__ import annotations

from typing import assert_never

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, run_blocking
from idplus.protocol.authenticators.upstream import callback
from idplus.protocol.federation.logout import LOGGED_OUT_PAGE, back_from_upstream_logout
from idplus.protocol.login.results import Cancelled, LoginFinished, UpstreamFailed
from idplus.ui.authorization_response import authorization_response
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id
from idplus.ui.language import page_locale
from idplus.ui.login import finished_login, upstream_failed
from idplus.ui.logout import logged_out_page, redirect_no_store

CALLBACK_PATH = "/federation/{provider_id}/callback"


async def upstream_callback(request: Request) -> Response:
    server = context_of(request)
    provider_id = str(request.path_params["provider_id"])
    query = dict(request.query_params.items())
    result = await run_blocking(
        callback,
        server,
        provider_id,
        browser_id(request) or "",
        query,
        request.headers.get("user-agent"),
    )
    if isinstance(result, LoginFinished):
        return finished_login(request, server, result)
    if isinstance(result, Cancelled):
        return authorization_response(result.response, pages_of(request).environment)
    if isinstance(result, UpstreamFailed):
        return upstream_failed(request, server, result)
    assert_never(result)


LOGGED_OUT_PATH = "/federation/{provider_id}/logged-out"


async def upstream_logged_out(request: Request) -> Response:
    """An upstream's logout sent the browser back: on to the next upstream, then to the
    client's post_logout_redirect_uri or the logged-out page. An unknown or used state only
    shows the logged-out page: the idplus session ended before the browser left."""
    server = context_of(request)
    provider_id = str(request.path_params["provider_id"])
    state = request.query_params.get("state", "")
    next_url = await run_blocking(back_from_upstream_logout, server, provider_id, state)
    if next_url is None or next_url.startswith(LOGGED_OUT_PAGE):
        locale = next_url[len(LOGGED_OUT_PAGE) :] if next_url else None
        return logged_out_page(request, server, locale or page_locale(request))
    return redirect_no_store(next_url)
