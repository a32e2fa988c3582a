"""The front page (`/`), the page for an address nothing answers at, and the move of a
development page to the issuer's own loopback name.

A loopback issuer is reached under several names (localhost, 127.0.0.1, [::1]) that browsers
keep separate cookies for; a page whose flow comes back through the issuer (the debugger's
callback) must start under the issuer's name, or its cookie is missing when the flow returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import context_of
from idplus.protocol.self_service import ACCOUNT_PATH
from idplus.ui.console import CONSOLE
from idplus.ui.context import pages_of
from idplus.ui.debugger import DEBUGGER_PATH
from idplus.ui.language import page_locale
from idplus.ui.portal import PORTAL
from idplus.uris import is_loopback_host

HOME_PATH = "/"
DISCOVERY_PATH = "/.well-known/openid-configuration"
Page = Callable[[Request], Awaitable[Response]]


async def show_home(request: Request) -> Response:
    """Links to the account page, the developer portal, the operator console and, where it
    is served, the debugger."""
    server, locale = context_of(request), page_locale(request)
    return pages_of(request).render(
        request,
        server,
        "index.html",
        locale=locale,
        account_url=_in_locale(ACCOUNT_PATH, locale),
        portal_url=_in_locale(PORTAL.path, locale),
        console_url=_in_locale(CONSOLE.path, locale),
        debugger_url=DEBUGGER_PATH if server.settings.debugger_enabled else None,
        discovery_url=DISCOVERY_PATH,
    )


def _in_locale(path: str, locale: str) -> str:
    """A link to one of idplus's own pages in the front page's language (those pages take it
    from `locale`: ui_locales is an OAuth parameter)."""
    return path if locale == "en" else f"{path}?{urlencode({'locale': locale})}"


async def show_not_found(request: Request) -> Response:
    """404 for a browser: what happened and a way to the front page."""
    server, locale = context_of(request), page_locale(request)
    return pages_of(request).render(
        request,
        server,
        "not_found.html",
        locale=locale,
        status_code=404,
        home_url=HOME_PATH if locale == "en" else f"{HOME_PATH}?ui_locales=no",
    )


def on_issuer_host(page: Page) -> Page:
    """`page`, first moved to the issuer's name when a loopback issuer is asked for under
    another loopback name on the same port (127.0.0.1 for localhost …)."""

    async def moved(request: Request) -> Response:
        target = _issuer_location(request)
        if target is not None:
            return RedirectResponse(target, status_code=307)
        return await page(request)

    moved.__name__ = page.__name__
    moved.__doc__ = page.__doc__
    return moved


def _issuer_location(request: Request) -> str | None:
    settings, asked = context_of(request).settings, request.url
    if not settings.issuer_is_development or not is_loopback_host(asked.hostname):
        return None
    issuer = urlsplit(settings.issuer)
    if asked.hostname == issuer.hostname or (asked.port or 80) != (issuer.port or 80):
        return None
    if issuer.path:  # served under a path by a proxy: not a plain development server
        return None
    query = f"?{asked.query}" if asked.query else ""
    return f"{settings.issuer}{asked.path}{query}"
