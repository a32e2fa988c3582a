"""A language picked in the middle of a login (SPEC §5): the login's pages, and the page of
idplus it returns to, speak it from then on.

The login's stored request carries its language (from `ui_locales`, or the browser's when
absent); only the browser that started the login may change it.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import unquote_plus

from idplus.models import AuthorizationRequest
from idplus.protocol.context import AppContext
from idplus.protocol.login.state import InteractionGone, load_interaction

# Query parameters that fix a page's language; a picked language must outlive them.
LOCALE_PARAMETERS = frozenset({"ui_locales", "locale"})


def without_locale_parameters(path: str) -> str:
    """`path` (a local path with a query) without `ui_locales` / `locale`; every other byte
    of the query is kept as it was."""
    base, separator, query = path.partition("?")
    if not separator:
        return path
    kept = [
        part
        for part in query.split("&")
        if part and unquote_plus(part.partition("=")[0]) not in LOCALE_PARAMETERS
    ]
    return f"{base}?{'&'.join(kept)}" if kept else base


def switch_login_language(ctx: AppContext, handle: str, browser_id: str, locale: str) -> bool:
    """Store `locale` for the login `handle` if this browser holds it; False when it does not
    (unknown, expired, finished, or another browser's)."""
    try:
        view = load_interaction(ctx, handle, browser_id)
    except InteractionGone:
        return False
    request = _in_language(view.interaction.request, locale, ctx.settings.issuer)
    with ctx.store.transaction() as uow:
        uow.interactions.save_request(view.interaction.id_hash, request)
    return True


def _in_language(request: AuthorizationRequest, locale: str, issuer: str) -> AuthorizationRequest:
    if request.return_to is None:
        return replace(request, ui_locale=locale)
    # A login for one of idplus's own pages returns to it: without the language it was
    # opened in, so that the page follows the language picked here.
    return_to = without_locale_parameters(request.return_to)
    return replace(request, ui_locale=locale, return_to=return_to, redirect_uri=issuer + return_to)
