"""The CIBA approval page (CIBA Core 1.0 §8): the link from the SMS, a fresh login as the user
the request names, then Approve / Deny.

GET /ciba/approve?token=… binds the request to this browser, sends it through the login pages
when it has no login made for this request, and shows the client's registered name, the
binding message and the two buttons. POST decides (CSRF-checked).
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of, run_blocking
from idplus.models import SsoSession
from idplus.protocol.ciba.approval import (
    ApprovalGone,
    HeldElsewhere,
    PendingApproval,
    decide,
    deny_cancelled,
    hold,
    open_approval,
)
from idplus.protocol.ciba.request import APPROVAL_PATH
from idplus.protocol.context import AppContext
from idplus.protocol.scope_descriptions import describe_scopes
from idplus.protocol.sso import live_session_of_cookie, sso_group
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id, sso_session_handle
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale
from idplus.ui.login import redirect_to_internal_login
from idplus.ui.user_names import display_name

GONE = "This request has expired or has already been answered."
HELD = "This request is being answered on another device."
WRONG_USER = "This request is for another account. Log in as the person it was sent to."
APPROVED = "You approved the login."
DENIED = "You denied the login."


async def show_approval(request: Request) -> Response:
    server, locale = context_of(request), page_locale(request)
    token = request.query_params.get("token", "")
    try:
        pending = await run_blocking(open_approval, server, token)
    except ApprovalGone:
        return _message(request, server, locale, GONE, 400)
    if request.query_params.get("error") == "access_denied":
        # The user cancelled the login this link led to.
        denied = await run_blocking(deny_cancelled, server, pending)
        return _message(request, server, locale, DENIED if denied else GONE, 200 if denied else 400)
    session = await run_blocking(_session_for, server, request, pending)
    if session is None or not pending.accepts(session):
        return await _login_first(request, server, pending, token, locale)
    if session.user_id != pending.user.id:
        return _wrong_user(request, server, locale, token)
    try:
        await run_blocking(hold, server, pending, session)
    except HeldElsewhere:
        return _message(request, server, locale, HELD, 409)
    except ApprovalGone:
        return _message(request, server, locale, GONE, 400)
    return pages_of(request).render(
        request,
        server,
        "ciba_approve.html",
        locale=locale,
        action=f"{APPROVAL_PATH}?{urlencode({'ui_locales': locale})}",
        token=token,
        client_name=pending.client.name,
        binding_message=pending.request.binding_message,
        scope_lines=describe_scopes(pending.request.scopes, gettext_for(locale).gettext),
        user_name=display_name(pending.user),
    )


async def decide_approval(request: Request) -> Response:
    server, locale = context_of(request), page_locale(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), form.get("csrf_token")
    ):
        return pages_of(request).form_check_failed(request, server, locale)
    token, action = form.get("token", ""), form.get("action", "")
    try:
        pending = await run_blocking(open_approval, server, token)
    except ApprovalGone:
        return _message(request, server, locale, GONE, 400)
    session = await run_blocking(_session_for, server, request, pending)
    if action == "switch" or session is None or not pending.accepts(session):
        return await _login_first(request, server, pending, token, locale)
    if session.user_id != pending.user.id:
        return _wrong_user(request, server, locale, token)
    if action not in ("approve", "deny"):
        return _message(request, server, locale, GONE, 400)
    approve = action == "approve"
    try:
        decided = await run_blocking(lambda: decide(server, pending, session, approve=approve))
    except ApprovalGone:
        decided = False
    if not decided:
        return _message(request, server, locale, GONE, 400)
    return _message(request, server, locale, APPROVED if approve else DENIED, 200)


def _session_for(
    server: AppContext, request: Request, pending: PendingApproval
) -> SsoSession | None:
    handle = sso_session_handle(server, request, sso_group(pending.client))
    with server.store.reading() as uow:
        return live_session_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())


async def _login_first(
    request: Request, server: AppContext, pending: PendingApproval, token: str, locale: str
) -> Response:
    return_to = f"{APPROVAL_PATH}?{urlencode({'token': token, 'ui_locales': locale})}"
    return await redirect_to_internal_login(
        request,
        server,
        pending.client,
        return_to,
        locale,
        login_hint=pending.user.username,
        requested_aal=pending.required_level,
        fresh=True,
    )


def _wrong_user(request: Request, server: AppContext, locale: str, token: str) -> Response:
    return pages_of(request).render(
        request,
        server,
        "ciba_wrong_user.html",
        locale=locale,
        status_code=403,
        action=f"{APPROVAL_PATH}?{urlencode({'ui_locales': locale})}",
        token=token,
        message=gettext_for(locale).gettext(WRONG_USER),
    )


def _message(
    request: Request, server: AppContext, locale: str, message: str, status_code: int
) -> Response:
    return pages_of(request).render(
        request,
        server,
        "ciba_done.html",
        locale=locale,
        status_code=status_code,
        message=gettext_for(locale).gettext(message),
    )
