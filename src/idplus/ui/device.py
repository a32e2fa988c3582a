"""The device verification page (RFC 8628 §3.3): enter the code, log in, approve or deny.

GET /device[?user_code=…] shows the code form, or — for a known code and a logged-in user —
the client and its scopes with Approve / Deny and a QR code of the complete URI. Without a
session the browser first goes through the login pages and comes back here.
"""

from __future__ import annotations

from urllib.parse import urlencode

import segno
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import client_address, context_of
from idplus.models import SsoSession
from idplus.protocol.authorize import choose_ui_locale
from idplus.protocol.context import AppContext
from idplus.protocol.device import (
    VERIFICATION_PATH,
    PendingDevice,
    UnknownUserCode,
    decide_device,
    display_user_code,
    find_pending_device,
    verification_uri_complete,
)
from idplus.protocol.sso import live_session_of_cookie, sso_group
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id, sso_session_handle
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.login import redirect_to_internal_login

UNKNOWN = "The code is unknown or has expired."
LOCKED = "Too many wrong codes. Try again in %(minutes)s minutes."


def _locale(request: Request) -> str:
    return choose_ui_locale(request.query_params.get("ui_locales"))


async def show_device(request: Request) -> Response:
    server, locale = context_of(request), _locale(request)
    raw = request.query_params.get("user_code", "")
    if not raw:
        return _code_form(request, server, locale, "", None)
    try:
        pending = await run_in_threadpool(find_pending_device, server, raw, client_address(request))
    except UnknownUserCode as unknown:
        return _unknown(request, server, locale, raw, unknown)
    session = await run_in_threadpool(_session_for, server, request, pending)
    if session is None:
        return await _login_first(request, server, pending, locale)
    return await _approval_page(request, server, pending, session, locale)


def _session_for(server: AppContext, request: Request, pending: PendingDevice) -> SsoSession | None:
    handle = sso_session_handle(server, request, sso_group(pending.client))
    with server.store.reading() as uow:
        return live_session_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())


async def _login_first(
    request: Request, server: AppContext, pending: PendingDevice, locale: str
) -> Response:
    code = display_user_code(pending.request.user_code)
    return_to = f"{VERIFICATION_PATH}?{urlencode({'user_code': code, 'ui_locales': locale})}"
    return await redirect_to_internal_login(request, server, pending.client, return_to, locale)


async def _approval_page(
    request: Request,
    server: AppContext,
    pending: PendingDevice,
    session: SsoSession,
    locale: str,
) -> Response:
    with server.store.reading() as uow:
        user = uow.users.find(session.user_id)
    complete = verification_uri_complete(server.settings.issuer, pending.request.user_code)
    return pages_of(request).render(
        request,
        server,
        "device_approve.html",
        locale=locale,
        action=f"{VERIFICATION_PATH}?{urlencode({'ui_locales': locale})}",
        client_name=pending.client.name,
        user_code=display_user_code(pending.request.user_code),
        scopes=list(pending.request.scopes),
        user_name=user.username if user else "",
        qr_svg=segno.make(complete, error="m").svg_inline(scale=3, title=complete),
    )


async def decide(request: Request) -> Response:
    server, locale = context_of(request), _locale(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), fields.get("csrf_token")
    ):
        return pages_of(request).form_check_failed(request, server, locale)
    raw = fields.get("user_code", "")
    try:
        pending = await run_in_threadpool(find_pending_device, server, raw, client_address(request))
    except UnknownUserCode as unknown:
        return _unknown(request, server, locale, raw, unknown)
    session = await run_in_threadpool(_session_for, server, request, pending)
    if session is None:
        return await _login_first(request, server, pending, locale)
    approve = fields.get("action") == "approve"
    done = await run_in_threadpool(
        lambda: decide_device(server, pending.request.user_code, session, approve=approve)
    )
    if not done:
        return _code_form(request, server, locale, raw, UNKNOWN)
    message = "The device is connected." if approve else "The request was denied."
    return pages_of(request).render(
        request,
        server,
        "device_done.html",
        locale=locale,
        message=gettext_for(locale).gettext(message),
    )


def _unknown(
    request: Request, server: AppContext, locale: str, raw: str, unknown: UnknownUserCode
) -> Response:
    if unknown.retry_after_minutes:
        text = gettext_for(locale).gettext(LOCKED) % {"minutes": unknown.retry_after_minutes}
        return _code_form(request, server, locale, raw, text, status_code=429, translate=False)
    return _code_form(request, server, locale, raw, UNKNOWN)


def _code_form(
    request: Request,
    server: AppContext,
    locale: str,
    user_code: str,
    problem: str | None,
    *,
    status_code: int | None = None,
    translate: bool = True,
) -> Response:
    if problem is not None and translate:
        problem = gettext_for(locale).gettext(problem)
    return pages_of(request).render(
        request,
        server,
        "device_code.html",
        locale=locale,
        status_code=status_code or (400 if problem else 200),
        action=VERIFICATION_PATH,
        user_code=user_code,
        problem=problem,
    )
