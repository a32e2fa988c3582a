"""The forgotten-password pages (`protocol/password_reset/`).

GET /password-reset shows the start form ("the phone number or e-mail you log in with"), or
the step the reset `?reset=…` is at; POST /password-reset runs one action there and answers
with a redirect to the next page (post/redirect/get), the same page with a problem (400, or
429 for a limit), or the final page once the password is set. The e-mail link lands on
/password-reset/email, whose button goes on with the reset. Every form carries the CSRF token;
a reset belongs to the browser that started it. A reset started from a login keeps that
login's handle in a cookie of its own (the database keeps only an HMAC), to go back to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.auth.local import mask_email
from idplus.crypto.hashing import HashingBusy
from idplus.entry import client_address, context_of, run_blocking
from idplus.protocol.authorize import choose_ui_locale
from idplus.protocol.context import AppContext
from idplus.protocol.password_reset.code import resend_code, verify_code
from idplus.protocol.password_reset.email_link import LinkCheck, LinkState, check_link, use_link
from idplus.protocol.password_reset.finish import PasswordChanged, set_new_password
from idplus.protocol.password_reset.start import login_in_progress, start_reset
from idplus.protocol.password_reset.state import (
    EMAIL_LINK_LIFETIME,
    RATE_LIMITED,
    STEP_LIFETIME,
    ResetGone,
    ResetProblem,
    ResetProblemReason,
    ResetStage,
    ResetView,
    load_reset,
    reset_start_url,
)
from idplus.protocol.password_reset.state import EMAIL_LINK_PATH as EMAIL_LINK_PATH
from idplus.protocol.password_reset.state import RESET_PATH as RESET_PATH
from idplus.protocol.self_service import ACCOUNT_PATH
from idplus.ui.context import pages_of
from idplus.ui.cookies import (
    browser_id,
    browser_session_ids,
    clear_ended_session_cookies,
    clear_reset_login_cookie,
    reset_login_handle,
    set_reset_login_cookie,
)
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale
from idplus.ui.login import BUSY_MESSAGE, login_page_url

PROBLEM_MESSAGES = {
    ResetProblemReason.NO_USERNAME: "Enter the mobile number or e-mail address you log in with.",
    ResetProblemReason.LOCKED: "Too many attempts. Try again in %(minutes)s minutes.",
    ResetProblemReason.CODE_INVALID: "The code is wrong. Try again.",
    ResetProblemReason.CODE_EXPIRED: "The code has expired. Ask for a new code.",
    ResetProblemReason.CODE_TOO_MANY: "Too many wrong codes. Start again.",
    ResetProblemReason.CODES_SPENT: "Too many wrong codes. Try again tomorrow.",
    ResetProblemReason.RESEND_WAIT: "A code was just sent. Wait half a minute before you ask "
    "for a new one.",
    ResetProblemReason.RESEND_LIMIT: "No more codes can be sent for this reset. Start again.",
    ResetProblemReason.TOO_SHORT: "The new password must have at least 8 characters.",
    ResetProblemReason.UNKNOWN_ACTION: "The form could not be checked. Reload the page and try "
    "again.",
}
NOTICES = {"code_sent": "We sent a new code."}
GONE = "This password reset has expired or is already finished. Start again."
LINK_GONE = "This link has expired or has already been used."
LINK_OTHER_BROWSER = "Open the link in the browser where you asked to reset your password."
START_AGAIN = "Start again from the login page."
TEMPLATES = {
    ResetStage.CODE: "password_reset_code.html",
    ResetStage.EMAIL: "password_reset_email.html",
    ResetStage.NO_EMAIL: "password_reset_support.html",
    ResetStage.NEW_PASSWORD: "password_reset_new.html",
}
# The button Enter presses (and a script that posts only the fields) at each step.
DEFAULT_ACTIONS = {
    ResetStage.CODE: "verify",
    ResetStage.NEW_PASSWORD: "reset",
}
# The longest a reset lives: its code, its e-mail link, then its new password.
LOGIN_COOKIE_MAX_AGE = int((STEP_LIFETIME * 2 + EMAIL_LINK_LIFETIME).total_seconds())


def _step_url(handle: str, locale: str, **extra: str) -> str:
    # The language rides along as the page's own parameter: the switch drops it, so the
    # user's choice then holds.
    return f"{RESET_PATH}?{urlencode({'reset': handle, 'locale': locale, **extra})}"


async def show_reset(request: Request) -> Response:
    server = context_of(request)
    handle = request.query_params.get("reset", "")
    if not handle:
        return await _start_page(request, server, request.query_params, page_locale(request))
    try:
        view = await run_blocking(load_reset, server, handle, browser_id(request) or "")
    except ResetGone:
        return await _start_page(request, server, {}, page_locale(request), problem=GONE)
    notice = NOTICES.get(request.query_params.get("notice", ""))
    return _render_step(request, server, view, page_locale(request), notice=notice)


async def submit_reset(request: Request) -> Response:
    server = context_of(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    browser = browser_id(request)
    if not csrf_token_is_valid(server.secrets.cookie_key, browser, form.get("csrf_token")):
        locale = choose_ui_locale(form.get("locale"))
        return pages_of(request).form_check_failed(request, server, locale)
    assert browser is not None
    handle = form.get("reset", "")
    if not handle:
        return await _start(request, server, form, browser)
    try:
        view = await run_blocking(load_reset, server, handle, browser)
    except ResetGone:
        locale = choose_ui_locale(form.get("locale"), page_locale(request))
        return await _start_page(request, server, {}, locale, problem=GONE)
    return await _act(request, server, view, form)


async def _start(
    request: Request, server: AppContext, form: Mapping[str, str], browser: str
) -> Response:
    locale = choose_ui_locale(form.get("locale"), page_locale(request))
    if form.get("action", "start") not in ("start", ""):
        problem = ResetProblem(ResetProblemReason.UNKNOWN_ACTION)
        message = _problem_text(problem, locale)
        return await _start_page(request, server, form, locale, problem=message, status_code=400)
    try:
        started = await run_blocking(
            lambda: start_reset(
                server,
                username=form.get("username", ""),
                browser_id=browser,
                address=client_address(request),
                locale=locale,
                interaction=form.get("interaction", ""),
            )
        )
    except ResetProblem as problem:
        message = _problem_text(problem, locale)
        status = 429 if problem.reason in RATE_LIMITED else 400
        return await _start_page(request, server, form, locale, problem=message, status_code=status)
    response = RedirectResponse(_step_url(started.handle, started.locale), status_code=303)
    if started.login is not None:
        set_reset_login_cookie(server, response, started.login, LOGIN_COOKIE_MAX_AGE)
    elif reset_login_handle(request):  # an older reset's: not this one's way back
        clear_reset_login_cookie(server, response)
    return response


async def _start_page(
    request: Request,
    server: AppContext,
    values: Mapping[str, str],
    locale: str,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    """The start form; from a login in progress it keeps that login (and its language) to
    go back to."""
    interaction = values.get("interaction", "")
    login = await run_blocking(login_in_progress, server, interaction, browser_id(request) or "")
    if login is not None:
        locale = login.interaction.request.ui_locale
    return pages_of(request).render(
        request,
        server,
        "password_reset_start.html",
        locale=locale,
        status_code=status_code,
        action=RESET_PATH,
        interaction=interaction if login is not None else "",
        username=values.get("username", ""),
        problem=problem,
        back_url=login_page_url(interaction) if login is not None else None,
    )


async def _act(
    request: Request, server: AppContext, view: ResetView, form: Mapping[str, str]
) -> Response:
    action = form.get("action") or DEFAULT_ACTIONS.get(view.stage, "")
    locale = choose_ui_locale(form.get("locale"), view.reset.locale)
    try:
        if action == "verify":
            await run_blocking(verify_code, server, view, form.get("otp", ""))
        elif action == "resend":
            await run_blocking(resend_code, server, view)
            url = _step_url(view.handle, locale, notice="code_sent")
            return RedirectResponse(url, status_code=303)
        elif action == "reset":
            return await _reset(request, server, view, form.get("new_password", ""), locale)
        else:
            raise ResetProblem(ResetProblemReason.UNKNOWN_ACTION)
    except ResetProblem as problem:
        status = 429 if problem.reason in RATE_LIMITED else 400
        return _render_step(request, server, view, locale, problem=problem, status_code=status)
    except ResetGone:
        return await _start_page(request, server, {}, locale, problem=GONE)
    return RedirectResponse(_step_url(view.handle, locale), status_code=303)


async def _reset(
    request: Request, server: AppContext, view: ResetView, password: str, locale: str
) -> Response:
    # Read before anything ends: an ended session's handle no longer names it.
    cookies = await run_blocking(browser_session_ids, server, request)
    login = reset_login_handle(request)
    try:
        changed = await run_blocking(lambda: set_new_password(server, view, password, login=login))
    except HashingBusy:
        response = pages_of(request).error(
            request, server, locale=locale, message=BUSY_MESSAGE, status_code=503
        )
        response.headers["Retry-After"] = "1"
        return response
    response = _done(request, server, changed, locale)
    clear_ended_session_cookies(server, response, cookies, changed.ended)
    if login:
        clear_reset_login_cookie(server, response)
    return response


def _done(request: Request, server: AppContext, changed: PasswordChanged, locale: str) -> Response:
    if changed.interaction is not None:
        login_url = login_page_url(changed.interaction)
    else:
        login_url = f"{ACCOUNT_PATH}?{urlencode({'locale': locale})}"
    return pages_of(request).render(
        request, server, "password_reset_done.html", locale=locale, login_url=login_url
    )


def _render_step(
    request: Request,
    server: AppContext,
    view: ResetView,
    locale: str,
    *,
    problem: ResetProblem | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Response:
    translator = gettext_for(locale)
    email = view.user.email if view.user is not None else None
    return pages_of(request).render(
        request,
        server,
        TEMPLATES[view.stage],
        locale=locale,
        status_code=status_code,
        action=RESET_PATH,
        reset=view.handle,
        problem=_problem_text(problem, locale) if problem is not None else None,
        notice=translator.gettext(notice) if notice else None,
        masked_email=mask_email(email) if email else "",
        link_minutes=int(EMAIL_LINK_LIFETIME.total_seconds()) // 60,
        restart_url=reset_start_url("", locale),
        # Only a development (loopback http) server says where its messages really go.
        outbox=str(server.settings.outbox) if server.settings.issuer_is_development else None,
        # Drawn after a POST too (a wrong code): the switch comes back to this step by a GET.
        switch_back_to=_step_url(view.handle, locale),
    )


def _problem_text(problem: ResetProblem, locale: str) -> str:
    text = gettext_for(locale).gettext(PROBLEM_MESSAGES[problem.reason])
    return text % {"minutes": problem.retry_after_minutes}


async def show_email_link(request: Request) -> Response:
    """The page the e-mail link opens: a button, so a mail scanner's fetch uses nothing."""
    server = context_of(request)
    token = request.query_params.get("token", "")
    check = await run_blocking(check_link, server, token, browser_id(request))
    if check.state is not LinkState.USABLE:
        return _link_refused(request, server, check)
    return pages_of(request).render(
        request,
        server,
        "password_reset_link.html",
        locale=check.locale,
        action=EMAIL_LINK_PATH,
        token=token,
    )


async def use_email_link(request: Request) -> Response:
    server = context_of(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    browser = browser_id(request)
    if not csrf_token_is_valid(server.secrets.cookie_key, browser, form.get("csrf_token")):
        return pages_of(request).form_check_failed(request, server, page_locale(request))
    used = await run_blocking(use_link, server, form.get("token", ""), browser)
    if isinstance(used, LinkCheck):
        return _link_refused(request, server, used)
    return RedirectResponse(_step_url(used.handle, used.locale), status_code=303)


def _link_refused(request: Request, server: AppContext, check: LinkCheck) -> Response:
    if check.state is LinkState.OTHER_BROWSER:
        return pages_of(request).error(
            request, server, locale=check.locale, message=LINK_OTHER_BROWSER, status_code=403
        )
    detail = gettext_for(check.locale).gettext(START_AGAIN)
    return pages_of(request).error(
        request, server, locale=check.locale, message=LINK_GONE, detail=detail
    )
