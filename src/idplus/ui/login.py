"""The login pages: GET /login shows the interaction's current stage, POST /login runs one action.

The page reads the form, calls `protocol.login.machine.advance`, and renders what the step
result says: a 303 back to GET /login for the next page, the same page with a problem (400, or
429 for a limit), the client's redirect URI with new cookies, or an error page (503 when every
hashing slot is taken). Every POST carries the interaction handle and the CSRF token.
"""

from __future__ import annotations

from typing import assert_never
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.entry import client_address, context_of, run_blocking
from idplus.models import Client
from idplus.protocol.context import AppContext
from idplus.protocol.device import display_user_code, verification_uri_complete
from idplus.protocol.federation.errors import LinkRefusal
from idplus.protocol.interaction import Stage, start_internal_login
from idplus.protocol.login.machine import advance, show
from idplus.protocol.login.passkey import PASSKEY_STAGES
from idplus.protocol.login.results import (
    BrowserRedirect,
    Busy,
    Cancelled,
    Gone,
    LoginFinished,
    Page,
    Problem,
    ProblemReason,
    ShowPage,
    StepResult,
    UpstreamFailed,
)
from idplus.protocol.login.state import Inputs
from idplus.protocol.password_reset.state import reset_start_url
from idplus.ui.authorization_response import authorization_response
from idplus.ui.context import pages_of
from idplus.ui.cookies import (
    browser_id,
    ensure_browser_id,
    new_browser_id,
    set_browser_cookie,
    set_sso_cookie,
    sso_session_handle,
)
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale
from idplus.ui.qr import qr_data_uri
from idplus.ui.webauthn import ACCOUNT_LOCKED_MESSAGE, PASSKEY_REQUIRED_MESSAGE, passkeys_offered

LOGIN_PATH = "/login"
PROBLEM_MESSAGES = {
    ProblemReason.INVALID_CREDENTIALS: "Wrong username or password.",
    ProblemReason.LOCKED: "Too many failed attempts. Try again in %(minutes)s minutes.",
    ProblemReason.ACCOUNT_LOCKED: ACCOUNT_LOCKED_MESSAGE,
    ProblemReason.OTP_INVALID: "The code is wrong. Try again.",
    ProblemReason.OTP_EXPIRED: "The code has expired. Ask for a new code.",
    ProblemReason.OTP_TOO_MANY: "Too many wrong codes. Go back to the app and start again.",
    ProblemReason.OTP_RESEND_WAIT: "A code was just sent. Wait half a minute before you ask for "
    "a new one.",
    ProblemReason.OTP_RESEND_LIMIT: "No more codes can be sent for this login. Go back to the "
    "app and start again.",
    ProblemReason.SMS_LIMIT: "Too many codes were sent to this number. Try again in an hour.",
    ProblemReason.NO_PHONE: "The account has no mobile number for a one-time code.",
    ProblemReason.PASSKEY_REQUIRED: PASSKEY_REQUIRED_MESSAGE,
    ProblemReason.UNKNOWN_PROVIDER: "Choose one of the listed ways to log in.",
    ProblemReason.UNKNOWN_ACTION: "The form could not be checked. Reload the page and try again.",
}
RATE_LIMITED = frozenset(
    {
        ProblemReason.LOCKED,
        ProblemReason.OTP_TOO_MANY,
        ProblemReason.OTP_RESEND_WAIT,
        ProblemReason.OTP_RESEND_LIMIT,
        ProblemReason.SMS_LIMIT,
    }
)
BUSY_MESSAGE = "Many people are logging in right now. Try again in a moment."
# Success notices (`?notice=` after a redirect): shown in the status style, never as errors.
NOTICES = {"code_sent": "We sent a new code."}
TEMPLATES = {
    Stage.SELECT_PROVIDER: "select_provider.html",
    Stage.LOGIN: "login.html",
    Stage.OTP: "otp.html",
    Stage.STEP_UP: "step_up.html",
    Stage.CONTINUE: "continue.html",
    Stage.UPSTREAM: "upstream.html",
    # Only for a problem shown at it: a GET finishes a login a passkey proved.
    Stage.PASSKEY_VERIFIED: "continue.html",
}
UPSTREAM_FAILED_MESSAGE = "The login service you chose cannot be used right now."
START_AGAIN = "Go back to the app and start again."
# Why an upstream account could not be joined to a local one: message, then what to do.
LINK_REFUSED_MESSAGES = {
    LinkRefusal.MISSING: (
        "The login service you chose did not give us the contact details we need to find "
        "your account.",
        "Log in another way, or contact customer service.",
    ),
    LinkRefusal.UNVERIFIED: (
        "The login service you chose has not confirmed your e-mail address or phone number, "
        "so we cannot connect it to your account.",
        "Confirm it with that service, or log in another way.",
    ),
    LinkRefusal.AMBIGUOUS: (
        "More than one account has the e-mail address or phone number the login service gave "
        "us, so we cannot tell which one is yours.",
        "Log in with your password instead, or contact customer service.",
    ),
    LinkRefusal.SECOND_FACTOR: (
        "Your account is protected with a code by SMS, which this login service cannot give.",
        "Log in with your password instead, or contact customer service.",
    ),
    LinkRefusal.ALREADY_LINKED: (
        "Your account is already connected to another account at this login service.",
        "Log in with that account, or with your password.",
    ),
    LinkRefusal.DISCONNECTED: (
        "This login was disconnected from your account.",
        "Log in with your password instead, or contact customer service.",
    ),
    LinkRefusal.LOCKED: (ACCOUNT_LOCKED_MESSAGE, "Contact customer service."),
}
# Form fields that steer the request rather than answer the page.
_CONTROL_FIELDS = frozenset({"interaction", "csrf_token", "action"})


def login_page_url(handle: str) -> str:
    return f"{LOGIN_PATH}?{urlencode({'interaction': handle})}"


async def show_login(request: Request) -> Response:
    server = context_of(request)
    handle = request.query_params.get("interaction", "")
    agent = request.headers.get("user-agent")
    result = await run_blocking(show, server, handle, browser_id(request) or "", agent)
    if isinstance(result, Gone):
        return _gone(request, server)
    if isinstance(result, LoginFinished):
        # A passkey proved the login (POST /webauthn/login/verify); this GET ends it.
        return finished_login(request, server, result)
    if isinstance(result, BrowserRedirect):
        return RedirectResponse(result.url, status_code=303)
    if isinstance(result, UpstreamFailed):
        return upstream_failed(request, server, result)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return _render(request, server, result.page, notice=notice)


async def submit_login(request: Request) -> Response:
    server = context_of(request)
    form = await request.form()
    browser = browser_id(request)
    if not csrf_token_is_valid(server.secrets.cookie_key, browser, _field(form, "csrf_token")):
        return pages_of(request).form_check_failed(request, server, page_locale(request))
    assert browser is not None
    fields = {k: v for k, v in form.items() if isinstance(v, str) and k not in _CONTROL_FIELDS}
    inputs = Inputs(fields, client_address(request), request.headers.get("user-agent"))
    result = await run_blocking(
        advance, server, _field(form, "interaction"), browser, _field(form, "action"), inputs
    )
    return _respond(request, server, result, form)


def _respond(request: Request, server: AppContext, result: StepResult, form: FormData) -> Response:
    if isinstance(result, ShowPage):
        # Post/redirect/get: reloading the next page does not repeat the action.
        url = login_page_url(result.page.handle)
        if _field(form, "action") == "resend":
            url += "&notice=code_sent"
        return RedirectResponse(url, status_code=303)
    if isinstance(result, Problem):
        status = 429 if result.reason in RATE_LIMITED else 400
        return _render(request, server, result.page, problem=result, status_code=status, form=form)
    if isinstance(result, LoginFinished):
        return finished_login(request, server, result)
    if isinstance(result, Cancelled):
        return authorization_response(result.response, pages_of(request).environment)
    if isinstance(result, Busy):
        return _busy(request, server, result)
    if isinstance(result, Gone):
        return _gone(request, server)
    if isinstance(result, BrowserRedirect):
        return RedirectResponse(result.url, status_code=303)
    if isinstance(result, UpstreamFailed):
        return upstream_failed(request, server, result)
    assert_never(result)


def finished_login(request: Request, server: AppContext, result: LoginFinished) -> Response:
    response = authorization_response(result.response, pages_of(request).environment)
    session = result.session
    max_age = session.lifetime_seconds if session.persistent else None
    handle = result.session_handle or sso_session_handle(server, request, result.group)
    if handle is not None:
        set_sso_cookie(server, response, result.group, handle, max_age)
    if result.session_handle is not None:
        # A login rotates the browser id too: an id (and so a CSRF token) planted or seen
        # before the login is worth nothing after it.
        set_browser_cookie(server, response, new_browser_id(server))
    return response


def upstream_failed(request: Request, server: AppContext, result: UpstreamFailed) -> Response:
    """An upstream login that cannot go on (the reason is in the log, not on the page), in
    the login's language and back to its app; a callback of no login has neither."""
    message, detail, status = UPSTREAM_FAILED_MESSAGE, START_AGAIN, 400
    if result.refusal is not None:
        (message, detail), status = LINK_REFUSED_MESSAGES[result.refusal], 403
    return pages_of(request).error(
        request,
        server,
        locale=result.locale or page_locale(request),
        message=message,
        detail=detail,
        status_code=status,
        client=result.client,
    )


def _busy(request: Request, server: AppContext, result: Busy) -> Response:
    """Every password-hashing slot is taken: ask the user to retry instead of queueing."""
    response = pages_of(request).error(
        request,
        server,
        locale=result.locale,
        message=BUSY_MESSAGE,
        status_code=503,
        client=result.client,
    )
    response.headers["Retry-After"] = "1"
    return response


def _render(
    request: Request,
    server: AppContext,
    page: Page,
    *,
    problem: Problem | None = None,
    status_code: int = 200,
    form: FormData | None = None,
    notice: str | None = None,
) -> Response:
    translator = gettext_for(page.locale)
    message = None
    if problem is not None:
        message = translator.gettext(PROBLEM_MESSAGES[problem.reason]) % {
            "minutes": problem.retry_after_minutes
        }
    # A session's user who must log in again ("Not you?" switches to anyone).
    relogin = page.stage is Stage.LOGIN and bool(page.user_name)
    # A refused password keeps the username the user typed.
    username = (_field(form, "username") if form else "") or page.login_hint
    if relogin:
        username = page.username
    return pages_of(request).render(
        request,
        server,
        TEMPLATES[page.stage],
        locale=page.locale,
        status_code=status_code,
        action=LOGIN_PATH,
        interaction=page.handle,
        client_name=page.client_name,
        problem=message,
        username=username,
        offer_remember_me=page.offer_remember_me,
        masked_phone=page.masked_phone,
        user_name=page.user_name,
        providers=[{"id": p.id, "name": p.name} for p in page.providers],
        provider_name=page.provider_name,
        # Only a development (loopback http) server says where its SMS codes really go.
        outbox=str(server.settings.outbox) if server.settings.issuer_is_development else None,
        relogin=relogin,
        notice=translator.gettext(notice) if notice else None,
        reset_url=reset_start_url(page.handle, page.locale),
        passkeys=passkeys_offered(server, _offers_passkeys(page)),
        **_device_qr(server, page),
    )


def _offers_passkeys(page: Page) -> bool:
    """Any user's passkey at the password form; instead of the SMS code only for a user who
    has one (the button would otherwise lead nowhere)."""
    if page.stage is Stage.LOGIN:
        return True
    return page.stage in PASSKEY_STAGES and page.user_has_passkeys


def _device_qr(server: AppContext, page: Page) -> dict[str, str]:
    """A login the device page started offers its code's QR: a TV's browser that opened
    verification_uri_complete lets the user go on on a phone."""
    if page.device_user_code is None or page.stage is not Stage.LOGIN:
        return {}
    complete = verification_uri_complete(server.settings.issuer, page.device_user_code)
    return {
        "device_qr": qr_data_uri(complete),
        "device_code": display_user_code(page.device_user_code),
    }


def _gone(request: Request, server: AppContext) -> Response:
    return pages_of(request).error(
        request,
        server,
        locale=page_locale(request),
        message="This login has expired or is already finished.",
        detail=START_AGAIN,
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def redirect_to_internal_login(
    request: Request,
    server: AppContext,
    client: Client,
    return_to: str,
    locale: str,
    *,
    login_hint: str | None = None,
    requested_aal: int = 0,
    fresh: bool = False,
) -> Response:
    """Send the browser through the login pages on behalf of one of idplus's own pages."""
    browser, is_new = ensure_browser_id(request)
    handle = await run_blocking(
        lambda: start_internal_login(
            server,
            client,
            return_to=return_to,
            browser_id=browser,
            locale=locale,
            session=None,
            login_hint=login_hint,
            requested_aal=requested_aal,
            fresh=fresh,
        )
    )
    response = RedirectResponse(login_page_url(handle), status_code=303)
    if is_new:
        set_browser_cookie(server, response, browser)
    return response
