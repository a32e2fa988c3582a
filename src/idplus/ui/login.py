"""The login pages: GET /login shows the interaction's current step, POST /login performs it.

Every POST carries the interaction handle and the CSRF token as hidden fields; a successful
step redirects (303) back to GET /login, and a finished login goes to the client.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.auth.local import mask_phone_number
from idplus.crypto.hashing import HashingBusy
from idplus.entry import client_address, context_of
from idplus.models import Client
from idplus.policies import ClientType
from idplus.protocol import login
from idplus.protocol.authorization_response import AuthorizationResponse
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import Step, start_internal_login
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

LOGIN_PATH = "/login"
PROBLEM_MESSAGES = {
    "invalid_credentials": "Wrong username or password.",
    "locked": "Too many failed attempts. Try again in %(minutes)s minutes.",
    "otp_invalid": "The code is wrong. Try again.",
    "otp_expired": "The code has expired. Ask for a new code.",
    "otp_too_many": "Too many wrong codes. Go back to the app and start again.",
    "otp_resend_wait": "A code was just sent. Wait half a minute before you ask for a new one.",
    "otp_resend_limit": "No more codes can be sent for this login. Go back to the app and "
    "start again.",
    "sms_limit": "Too many codes were sent to this number. Try again in an hour.",
    "no_phone": "The account has no mobile number for a one-time code.",
    "unknown_provider": "Choose one of the listed ways to log in.",
}
RATE_LIMITED = frozenset(
    {"locked", "otp_too_many", "otp_resend_wait", "otp_resend_limit", "sms_limit"}
)
BUSY_MESSAGE = "Many people are logging in right now. Try again in a moment."
TEMPLATES = {
    Step.LOGIN.value: "login.html",
    Step.SELECT_PROVIDER.value: "select_provider.html",
    Step.CONTINUE.value: "continue.html",
    Step.STEP_UP.value: "step_up.html",
    login.OTP_STAGE: "otp.html",
}


def login_page_url(handle: str) -> str:
    return f"{LOGIN_PATH}?{urlencode({'interaction': handle})}"


async def show_login(request: Request) -> Response:
    server = context_of(request)
    handle = request.query_params.get("interaction", "")
    try:
        view = await run_in_threadpool(
            login.load_interaction, server, handle, browser_id(request) or ""
        )
    except login.InteractionGone:
        return _gone(request, server)
    return _render(request, server, view)


async def submit_login(request: Request) -> Response:
    server = context_of(request)
    form = await request.form()
    handle = _field(form, "interaction")
    browser = browser_id(request)
    if not csrf_token_is_valid(server.secrets.cookie_key, browser, _field(form, "csrf_token")):
        return pages_of(request).form_check_failed(request, server, "en")
    assert browser is not None
    try:
        view = await run_in_threadpool(login.load_interaction, server, handle, browser)
        address = client_address(request)
        result = await run_in_threadpool(_perform, server, view, form, browser, address)
    except login.InteractionGone:
        return _gone(request, server)
    except login.LoginProblem as problem:
        return await _show_problem(request, server, handle, browser, problem, form)
    except HashingBusy:
        return _busy(request, server, view)
    return _deliver(request, server, result)


async def _show_problem(
    request: Request,
    server: AppContext,
    handle: str,
    browser: str,
    problem: login.LoginProblem,
    form: FormData,
) -> Response:
    """The same step again, with what went wrong (the login may have ended meanwhile)."""
    try:
        view = await run_in_threadpool(login.load_interaction, server, handle, browser)
    except login.InteractionGone:
        return _gone(request, server)
    status = 429 if problem.reason in RATE_LIMITED else 400
    return _render(request, server, view, problem=problem, status_code=status, form=form)


def _perform(
    server: AppContext,
    view: login.InteractionView,
    form: FormData,
    browser: str,
    address: str | None,
) -> login.StepResult:
    """Run the step the interaction is at (blocking: called in a worker thread)."""
    action, handle, stage = _field(form, "action"), view.handle, view.interaction.stage
    if action == "cancel":
        return login.cancel(server, handle, browser)
    if stage == Step.SELECT_PROVIDER.value:
        return login.choose_provider(server, handle, browser, _field(form, "provider"))
    if stage == Step.LOGIN.value:
        return login.submit_password(
            server,
            handle,
            browser,
            username=_field(form, "username"),
            password=_field(form, "password"),
            remember_me=_field(form, "remember_me") == "on",
            address=address,
        )
    if stage == login.OTP_STAGE:
        if action == "resend":
            return login.resend_otp(server, handle, browser)
        return login.submit_otp(server, handle, browser, _field(form, "otp"))
    if stage == Step.CONTINUE.value:
        if action == "switch":
            return login.switch_user(server, handle, browser)
        return login.confirm_continue(server, handle, browser)
    return login.start_step_up(server, handle, browser)


def _deliver(request: Request, server: AppContext, result: login.StepResult) -> Response:
    environment = pages_of(request).environment
    if isinstance(result, login.InteractionView):
        return RedirectResponse(login_page_url(result.handle), status_code=303)
    if isinstance(result, AuthorizationResponse):
        return authorization_response(result, environment)
    response = authorization_response(result.response, environment)
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


def _busy(request: Request, server: AppContext, view: login.InteractionView) -> Response:
    """Every password-hashing slot is taken: ask the user to retry instead of queueing."""
    response = pages_of(request).error(
        request,
        server,
        locale=view.interaction.request.ui_locale,
        message=BUSY_MESSAGE,
        status_code=503,
    )
    response.headers["Retry-After"] = "1"
    return response


def _render(
    request: Request,
    server: AppContext,
    view: login.InteractionView,
    *,
    problem: login.LoginProblem | None = None,
    status_code: int = 200,
    form: FormData | None = None,
) -> Response:
    interaction, client = view.interaction, view.client
    locale = interaction.request.ui_locale
    translator = gettext_for(locale)
    message = None
    if problem is not None:
        message = translator.gettext(PROBLEM_MESSAGES[problem.reason]) % {
            "minutes": problem.retry_after_minutes
        }
    username = (_field(form, "username") if form else "") or interaction.request.login_hint or ""
    providers = [
        {"id": p.id, "name": p.display_name(locale)} for p in server.providers.for_client(client)
    ]
    phone = view.user.phone_number if view.user and view.user.phone_number else ""
    return pages_of(request).render(
        request,
        server,
        TEMPLATES[interaction.stage],
        locale=locale,
        status_code=status_code,
        action=LOGIN_PATH,
        interaction=view.handle,
        client_name=client.name,
        problem=message,
        username=username,
        offer_remember_me=client.client_type is not ClientType.MOBILE_APP,
        masked_phone=mask_phone_number(phone) if phone else "",
        user_name=view.user.username if view.user else "",
        providers=providers,
    )


def _gone(request: Request, server: AppContext) -> Response:
    return pages_of(request).error(
        request,
        server,
        locale="en",
        message="This login has expired or is already finished.",
        detail=gettext_for("en").gettext("Go back to the app and start again."),
    )


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


async def redirect_to_internal_login(
    request: Request, server: AppContext, client: Client, return_to: str, locale: str
) -> Response:
    """Send the browser through the login pages on behalf of one of idplus's own pages."""
    browser, is_new = ensure_browser_id(request)
    handle = await run_in_threadpool(
        lambda: start_internal_login(
            server, client, return_to=return_to, browser_id=browser, locale=locale, session=None
        )
    )
    response = RedirectResponse(login_page_url(handle), status_code=303)
    if is_new:
        set_browser_cookie(server, response, browser)
    return response
