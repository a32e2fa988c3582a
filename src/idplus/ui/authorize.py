"""GET|POST /connect/authorize (RFC 6749 §4.1.1, OIDC Core §3.1.2).

Reads the parameters, lets the protocol core validate and decide, then either sends the
browser to the login pages, answers the client in its response mode, or — for a bad
client_id / redirect_uri — shows an error page without redirecting.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import FatalAuthorizeError, InvalidRequest
from idplus.logs import get_logger
from idplus.policies import MAX_CLIENT_ID_LENGTH
from idplus.protocol.authorize import KnownClientRefused
from idplus.protocol.interaction import InteractionStarted, start_authorization
from idplus.protocol.params import parse_params
from idplus.ui.authorization_response import authorization_response
from idplus.ui.context import pages_of
from idplus.ui.cookies import ensure_browser_id, set_browser_cookie, sso_session_handle
from idplus.ui.language import browser_locale, page_locale
from idplus.ui.login import login_page_url
from idplus.ui.pages import MALFORMED_REQUEST

log = get_logger("idplus.authorize")
NOT_SET_UP = "The app that sent you here is not set up correctly."


async def authorize(request: Request) -> Response:
    server, pages = context_of(request), pages_of(request)
    try:
        params = parse_params(await read_parameters(request))
    except InvalidRequest as problem:
        log.info("authorize_refused", reason=problem.detail)
        locale = page_locale(request)
        return pages.error(
            request, server, locale=locale, message=NOT_SET_UP, detail=MALFORMED_REQUEST
        )
    browser, is_new = ensure_browser_id(request)
    try:
        outcome = await run_blocking(
            start_authorization,
            server,
            params,
            browser,
            lambda group: sso_session_handle(server, request, group),
            browser_locale(request),
        )
    except FatalAuthorizeError as problem:
        # The client id as sent (bounded like every parameter): it may name no client.
        client_id = (params.get("client_id") or "")[:MAX_CLIENT_ID_LENGTH]
        log.info("authorize_refused", reason=problem.detail, client_id=client_id)
        return pages.error(
            request,
            server,
            locale=page_locale(request, params.get("ui_locales")),
            message=NOT_SET_UP,
            detail=problem.description,
            client=problem.client if isinstance(problem, KnownClientRefused) else None,
        )
    if isinstance(outcome, InteractionStarted):
        response: Response = RedirectResponse(login_page_url(outcome.handle), status_code=302)
    else:
        response = authorization_response(outcome, pages.environment)
    if is_new:
        set_browser_cookie(server, response, browser)
    return response
