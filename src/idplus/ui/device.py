"""The device verification page (RFC 8628 §3.3): enter the code, log in, approve or deny.

GET /device shows the code form. With a known code (`verification_uri_complete`) and no login
yet it goes to the login, whose page shows a QR code of that address, so a user who opened it
on a TV or a computer can go on on their phone instead (§3.3.1). POST /device continues with a
typed code to the login, or approves / denies for the logged-in user, whose name the page shows
with a "Not you?" that logs this browser out and starts the login again with the same code.

GET /device/qr?user_code=… answers the QR code as SVG, for a device to draw; only for a pending
code, and counted against the code-guessing budget like the page.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import client_address, context_of, run_blocking
from idplus.models import SsoSession, User
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
from idplus.protocol.interaction import start_internal_login
from idplus.protocol.scope_descriptions import describe_scopes
from idplus.protocol.sso import live_session_of_cookie, sso_group
from idplus.ui.context import pages_of
from idplus.ui.cookies import browser_id, sso_session_handle
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale
from idplus.ui.login import login_page_url, redirect_to_internal_login
from idplus.ui.logout import AfterLogout, finish_logout
from idplus.ui.qr import qr_document
from idplus.ui.user_names import display_name

QR_PATH = f"{VERIFICATION_PATH}/qr"
UNKNOWN = "The code is unknown or has expired."
LOCKED = "Too many wrong codes. Try again in %(minutes)s minutes."
CONNECTED = "The device is connected."
DENIED = "The request was denied."
# A user code is 9 digits with separators; far longer input is no code, and is not echoed.
MAX_CODE_INPUT = 32


async def show_device(request: Request) -> Response:
    server, locale = context_of(request), page_locale(request)
    raw = request.query_params.get("user_code", "")
    if not raw:
        return _code_form(request, server, locale, "", None)
    try:
        pending = await run_blocking(find_pending_device, server, raw, client_address(request))
    except UnknownUserCode as unknown:
        return _unknown(request, server, locale, raw, unknown)
    session = await run_blocking(_session_for, server, request, pending)
    if session is None:
        # A script or a TV's browser following verification_uri_complete meets the login at
        # once (INTERFACE); the login page offers the QR to go on on a phone.
        return await _login_first(request, server, pending, locale)
    return await _approval_page(request, server, pending, session, locale)


async def decide(request: Request) -> Response:
    """POST /device: `action` continue (or none), approve, deny, or switch ("Not you?")."""
    server, locale = context_of(request), page_locale(request)
    form = await request.form()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), fields.get("csrf_token")
    ):
        return pages_of(request).form_check_failed(request, server, locale)
    raw, action = fields.get("user_code", ""), fields.get("action", "continue")
    try:
        pending = await run_blocking(find_pending_device, server, raw, client_address(request))
    except UnknownUserCode as unknown:
        return _unknown(request, server, locale, raw, unknown)
    session = await run_blocking(_session_for, server, request, pending)
    if action == "switch" and session is not None:
        return await _not_you(request, server, pending, session, locale)
    if session is None:
        return await _login_first(request, server, pending, locale)
    if action not in ("approve", "deny"):
        return RedirectResponse(_page_url(pending, locale), status_code=303)
    return await _decided(request, server, pending, session, locale, approve=action == "approve")


async def show_qr(request: Request) -> Response:
    """GET /device/qr: the QR code of a pending code's complete verification URI, as SVG."""
    server = context_of(request)
    raw = request.query_params.get("user_code", "")
    if not raw or len(raw) > MAX_CODE_INPUT:
        return _no_qr()
    try:
        pending = await run_blocking(find_pending_device, server, raw, client_address(request))
    except UnknownUserCode as unknown:
        if unknown.retry_after_minutes:
            retry = {"Retry-After": str(unknown.retry_after_minutes * 60)}
            return Response(status_code=429, headers={"Cache-Control": "no-store", **retry})
        return _no_qr()
    svg = await run_blocking(qr_document, _complete_uri(server, pending))
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'"}
    return Response(svg, media_type="image/svg+xml", headers=headers)


def _complete_uri(server: AppContext, pending: PendingDevice) -> str:
    return verification_uri_complete(server.settings.issuer, pending.request.user_code)


def _no_qr() -> Response:
    return Response(status_code=404, headers={"Cache-Control": "no-store"})


def _session_for(server: AppContext, request: Request, pending: PendingDevice) -> SsoSession | None:
    handle = sso_session_handle(server, request, sso_group(pending.client))
    with server.store.reading() as uow:
        return live_session_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())


def _page_url(pending: PendingDevice, locale: str) -> str:
    code = display_user_code(pending.request.user_code)
    return f"{VERIFICATION_PATH}?{urlencode({'user_code': code, 'ui_locales': locale})}"


async def _login_first(
    request: Request, server: AppContext, pending: PendingDevice, locale: str
) -> Response:
    return_to = _page_url(pending, locale)
    return await redirect_to_internal_login(request, server, pending.client, return_to, locale)


async def _not_you(
    request: Request,
    server: AppContext,
    pending: PendingDevice,
    session: SsoSession,
    locale: str,
) -> Response:
    """End this browser's session for the device's app the way /logout does (its apps are told,
    an upstream login ends upstream too), then log in afresh, even at an upstream provider."""
    browser = browser_id(request) or ""  # present: the CSRF check above needed it
    handle = await run_blocking(
        lambda: start_internal_login(
            server,
            pending.client,
            return_to=_page_url(pending, locale),
            browser_id=browser,
            locale=locale,
            session=None,
            fresh=True,
        )
    )
    after = AfterLogout(locale, redirect_uri=server.settings.issuer + login_page_url(handle))
    return await finish_logout(request, server, after, [session.id], None)


async def _approval_page(
    request: Request,
    server: AppContext,
    pending: PendingDevice,
    session: SsoSession,
    locale: str,
) -> Response:
    user = await run_blocking(_user_of, server, session)
    gettext = gettext_for(locale).gettext
    return pages_of(request).render(
        request,
        server,
        "device_approve.html",
        locale=locale,
        action=f"{VERIFICATION_PATH}?{urlencode({'ui_locales': locale})}",
        client_name=pending.client.name,
        user_code=display_user_code(pending.request.user_code),
        scope_lines=describe_scopes(pending.request.scopes, gettext),
        user_name=display_name(user) if user else "",
    )


def _user_of(server: AppContext, session: SsoSession) -> User | None:
    with server.store.reading() as uow:
        return uow.users.find(session.user_id)


async def _decided(
    request: Request,
    server: AppContext,
    pending: PendingDevice,
    session: SsoSession,
    locale: str,
    *,
    approve: bool,
) -> Response:
    done = await run_blocking(
        lambda: decide_device(server, pending.request.user_code, session, approve=approve)
    )
    if not done:
        return _code_form(request, server, locale, "", UNKNOWN)
    return pages_of(request).render(
        request,
        server,
        "device_done.html",
        locale=locale,
        message=gettext_for(locale).gettext(CONNECTED if approve else DENIED),
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
        action=f"{VERIFICATION_PATH}?{urlencode({'ui_locales': locale})}",
        user_code=user_code[:MAX_CODE_INPUT],
        problem=problem,
        max_code_input=MAX_CODE_INPUT,
    )
