"""GET|POST /connect/endsession (OpenID Connect RP-Initiated Logout 1.0 §2-3).

With a valid id_token_hint the session it names ends at once and the browser goes to the
registered post_logout_redirect_uri (with state) or sees the logged-out page. Without one the
user confirms first.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, read_parameters, run_blocking
from idplus.errors import InvalidRequest
from idplus.models import Client
from idplus.protocol.oidc.end_session import (
    IdTokenHint,
    InvalidIdTokenHint,
    read_id_token_hint,
    valid_post_logout_redirect,
)
from idplus.protocol.params import parse_params
from idplus.ui.context import pages_of
from idplus.ui.language import page_locale
from idplus.ui.logout import AfterLogout, after_logout_uri, confirmation_page, finish_logout
from idplus.ui.pages import MALFORMED_REQUEST

INVALID = "The logout request is not valid."
# A client_id that is not the one the id_token_hint was issued to.
OTHER_CLIENT = "The app that asked to log you out is not the one you logged in to."


async def end_session(request: Request) -> Response:
    server = context_of(request)
    try:
        params = parse_params(await read_parameters(request))
        params.require_single()
    except InvalidRequest:
        return _invalid(request, page_locale(request), MALFORMED_REQUEST)
    locale = page_locale(request, params.get("ui_locales"))
    hint = await _hint(request, params.get("id_token_hint"))
    client_id = params.get("client_id")
    if hint is None:
        return confirmation_page(request, server, locale)
    if client_id is not None and client_id != hint.client_id:
        # The hint was signed here: its client is the app the user logged in to.
        client = await run_blocking(server.clients.find, hint.client_id)
        return _invalid(request, locale, OTHER_CLIENT, client)
    redirect_uri = params.get("post_logout_redirect_uri")
    client = await run_blocking(valid_post_logout_redirect, server, hint, redirect_uri)
    after = AfterLogout(locale)
    if client is not None and redirect_uri is not None:
        after = AfterLogout(locale, after_logout_uri(redirect_uri, params.get("state")))
    sessions = [hint.session_id] if hint.session_id else []
    return await finish_logout(request, server, after, sessions, hint.client_id)


async def _hint(request: Request, token: str | None) -> IdTokenHint | None:
    if token is None:
        return None
    try:
        return await run_blocking(read_id_token_hint, context_of(request), token)
    except InvalidIdTokenHint:
        return None


def _invalid(request: Request, locale: str, detail: str, client: Client | None = None) -> Response:
    return pages_of(request).error(
        request, context_of(request), locale=locale, message=INVALID, detail=detail, client=client
    )
