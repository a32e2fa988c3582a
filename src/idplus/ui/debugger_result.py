"""The debugger's result page: the endpoints' answers, the checks, every token raw and decoded,
the buttons that use the tokens, and the RP-initiated logout form (RP-Initiated Logout 1.0 §2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import run_blocking
from idplus.models import Client
from idplus.protocol.context import AppContext
from idplus.ui.context import pages_of
from idplus.ui.debugger_session import DEBUGGER_PATH, Tokens
from idplus.ui.debugger_view import AnswerView, Check, TokenView, token_view
from idplus.ui.i18n import gettext_for

# The result page's buttons: value → the heading of the answer it shows.
BUTTONS = {
    "refresh": "Token endpoint: refresh_token grant",
    "userinfo": "Userinfo",
    "introspect_access": "Introspection: access token",
    "introspect_refresh": "Introspection: refresh token",
    "revoke_access": "Revocation: access token",
    "revoke_refresh": "Revocation: refresh token",
}
BUTTON_LABELS = {
    "refresh": "Refresh the tokens",
    "userinfo": "Call userinfo",
    "introspect_access": "Introspect the access token",
    "introspect_refresh": "Introspect the refresh token",
    "revoke_access": "Revoke the access token",
    "revoke_refresh": "Revoke the refresh token",
}
TOKEN_TITLES = {"access": "Access token", "id": "ID token", "refresh": "Refresh token"}


def start_url(locale: str) -> str:
    # The page's language rides along in its own URL (the form's ui_locales is the request's).
    return DEBUGGER_PATH if locale == "en" else f"{DEBUGGER_PATH}?ui_locales=no"


# The result of the last flow, found again by a GET (the language switch comes back here: the
# callback and the buttons answer requests that must not be repeated).
RESULT_PATH = DEBUGGER_PATH + "/result"


async def render_result(
    request: Request,
    server: AppContext,
    locale: str,
    answers: Sequence[AnswerView] = (),
    tokens: Tokens | None = None,
    checks: Sequence[Check] = (),
    *,
    problem: str | None = None,
    notice: str | None = None,
) -> Response:
    _ = gettext_for(locale).gettext
    client = None
    if tokens is not None:
        client = await run_blocking(server.clients.find, tokens.client_id)
    return pages_of(request).render(
        request,
        server,
        "debugger_result.html",
        locale=locale,
        status_code=400 if problem else 200,
        answers=answers,
        checks=checks,
        tokens=await _token_views(server, tokens, locale),
        buttons=_buttons(tokens),
        button_labels=BUTTON_LABELS,
        logout=_logout_form(server, tokens, client, locale),
        problem=_(problem) if problem else None,
        notice=_(notice) if notice else None,
        start_url=start_url(locale),
        switch_back_to=RESULT_PATH,
    )


async def _token_views(server: AppContext, tokens: Tokens | None, locale: str) -> list[TokenView]:
    if tokens is None:
        return []
    _ = gettext_for(locale).gettext
    ring = await run_blocking(server.keys.current)
    now = server.clock.now()
    held = {"access": tokens.access_token, "id": tokens.id_token, "refresh": tokens.refresh_token}
    return [
        token_view(key, _(TOKEN_TITLES[key]), raw, ring, now, _) for key, raw in held.items() if raw
    ]


def _buttons(tokens: Tokens | None) -> list[str]:
    """The buttons whose token this debugger holds."""
    if tokens is None:
        return []
    held = {"access": tokens.access_token, "refresh": tokens.refresh_token}
    return [b for b in BUTTONS if held["refresh" if "refresh" in b else "access"] is not None]


def _logout_form(
    server: AppContext, tokens: Tokens | None, client: Client | None, locale: str
) -> dict[str, Any] | None:
    """Posted by the browser to the end-session endpoint; it comes back to the debugger when
    the client registered the debugger as a post-logout redirect URI."""
    if tokens is None or tokens.id_token is None:
        return None
    fields = {"id_token_hint": tokens.id_token, "state": tokens.logout_state}
    back = server.settings.issuer + DEBUGGER_PATH
    if client is not None and back in client.post_logout_redirect_uris:
        fields["post_logout_redirect_uri"] = back
    if locale == "nb":
        fields["ui_locales"] = "no"
    return {"action": str(server.discovery["end_session_endpoint"]), "fields": fields}
