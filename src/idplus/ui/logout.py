"""Logout pages: the confirmation asked for without a valid id_token_hint, and "logged out".

The logged-out page answers the logout itself (a POST, or an end-session request whose hint
must not be replayed), and is found again by a GET of its own path: where its language switch
comes back to.

`finish_logout` is shared with the end-session endpoint: it ends the sessions (their logout
tokens go to the outbox in the same unit of work), clears their cookies, and sends the browser
through the upstream providers' logouts first when a session's login came from one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import context_of, run_blocking
from idplus.protocol.authorization_response import AuthorizationResponse
from idplus.protocol.context import AppContext
from idplus.protocol.federation.logout import (
    LOGGED_OUT_PAGE,
    revoke_upstream_sessions,
    upstream_logout_url,
)
from idplus.protocol.oidc.end_session import LogoutVia, end_sessions, logged_out
from idplus.ui.authorization_response import redirect_location
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id, browser_session_ids, clear_cookie
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.language import page_locale

LOGOUT_PATH = "/logout"
LOGGED_OUT_PATH = "/logged-out"


def confirmation_page(request: Request, server: AppContext, locale: str) -> Response:
    return pages_of(request).render(
        request, server, "logout.html", locale=locale, action=LOGOUT_PATH
    )


def logged_out_page(request: Request, server: AppContext, locale: str) -> Response:
    return pages_of(request).render(
        request, server, "logged_out.html", locale=locale, switch_back_to=LOGGED_OUT_PATH
    )


async def show_logged_out(request: Request) -> Response:
    """GET /logged-out: the page again, in the page's language (it ends nothing)."""
    return logged_out_page(request, context_of(request), page_locale(request))


@dataclass(frozen=True, slots=True)
class AfterLogout:
    """Where the browser ends up: the client's post_logout_redirect_uri (with its state
    already added), or the logged-out page in `locale`."""

    locale: str
    redirect_uri: str | None = None


def after_logout_uri(uri: str, state: str | None) -> str:
    params = {"state": state} if state is not None else {}
    return redirect_location(AuthorizationResponse(uri, "query", params))


def redirect_no_store(location: str) -> Response:
    return RedirectResponse(location, status_code=302, headers={"Cache-Control": "no-store"})


async def finish_logout(
    request: Request,
    server: AppContext,
    after: AfterLogout,
    session_ids: Iterable[str],
    initiator: str | None,
) -> Response:
    """End the sessions and clear this browser's cookies for them (the outbox tells RPs);
    sessions that came from an upstream end there too: this browser's own on the way to
    `after`, others (an id_token_hint needs no cookie) by revoking the upstream refresh token,
    so an upstream ID token only ever goes to the browser that logged in with it."""
    targets = list(session_ids)
    cookies = await run_blocking(browser_session_ids, server, request)
    held = set(cookies.values())
    # Without an initiating client, the user confirmed on /logout: this browser's sessions.
    via = LogoutVia.END_SESSION if initiator is not None else LogoutVia.CONFIRMED
    audit = logged_out(via, initiator, browser_sessions=held)
    ended = await run_blocking(
        lambda: end_sessions(server, targets, initiator=initiator, audit=audit)
    )
    upstreams = [e.upstream for e in ended if e.upstream is not None and e.session.id in held]
    elsewhere = [e.upstream for e in ended if e.upstream is not None and e.session.id not in held]
    if elsewhere:
        await run_blocking(revoke_upstream_sessions, server, elsewhere)
    final = after.redirect_uri or LOGGED_OUT_PAGE + after.locale
    first = await run_blocking(upstream_logout_url, server, upstreams, final) if upstreams else None
    if first is not None:
        response = redirect_no_store(first)
    elif after.redirect_uri is not None:
        response = redirect_no_store(after.redirect_uri)
    else:
        response = logged_out_page(request, server, after.locale)
    for name, session_id in cookies.items():
        if session_id in targets:
            clear_cookie(server, response, name)
    return response


async def confirm_logout(request: Request) -> Response:
    """POST /logout from the confirmation page: end every session of this browser."""
    server = context_of(request)
    form = await request.form()
    token, asked = form.get("csrf_token"), form.get("ui_locales")
    locale = page_locale(request, asked if isinstance(asked, str) else None)
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), token if isinstance(token, str) else None
    ):
        return pages_of(request).form_check_failed(request, server, locale)
    sessions = (await run_blocking(browser_session_ids, server, request)).values()
    return await finish_logout(request, server, AfterLogout(locale), sessions, None)
