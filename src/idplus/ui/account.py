"""The account page (self-service): sessions, apps with refresh tokens, password change.

It uses the one_telenor SSO session through the built-in account client; without one, the
browser logs in first and comes back.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.crypto.hashing import HashingBusy
from idplus.entry import client_address, context_of
from idplus.models import Client, SsoSession
from idplus.policies import ACCOUNT_CLIENT_ID
from idplus.protocol.authorize import choose_ui_locale
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import EndedSession
from idplus.protocol.self_service import (
    ACCOUNT_PATH,
    PasswordChangeRefused,
    account_view,
    change_password,
    end_own_session,
    revoke_app,
    unlink_upstream_account,
)
from idplus.protocol.sso import SHARED_GROUP, live_session_of_cookie
from idplus.ui.context import pages_of
from idplus.ui.cookies import (
    browser_id,
    browser_session_ids,
    clear_cookie,
    sso_session_handle,
)
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.login import redirect_to_internal_login

NOTICES = {
    "end_session": "The session has ended.",
    "revoke_app": "The app no longer has access.",
    "change_password": "Your password is changed and your other sessions have ended.",
    "wrong_password": "The current password is wrong.",
    "locked": "Too many wrong passwords. Try again later.",
    "busy": "Many people are logging in right now. Try again in a moment.",
    "too_short": "The new password must have at least 8 characters.",
    "unlink_account": "The login is no longer connected to your account.",
    "last_way_in": "This is the only way you can log in, so it stays connected.",
}


def _locale(request: Request) -> str:
    return choose_ui_locale(request.query_params.get("locale"))


def _current_session(server: AppContext, request: Request) -> SsoSession | None:
    handle = sso_session_handle(server, request, SHARED_GROUP)
    with server.store.reading() as uow:
        return live_session_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())


async def show_account(request: Request) -> Response:
    server, locale = context_of(request), _locale(request)
    session = await run_in_threadpool(_current_session, server, request)
    if session is None:
        return await _login_first(request, server, locale)
    return await _render(request, server, session, locale, None)


async def _login_first(request: Request, server: AppContext, locale: str) -> Response:
    def account_client() -> Client:
        with server.store.reading() as uow:
            client = uow.clients.find(ACCOUNT_CLIENT_ID)
        assert client is not None, "the account client is created at start-up"
        return client

    client = await run_in_threadpool(account_client)
    return_to = f"{ACCOUNT_PATH}?{urlencode({'locale': locale})}"
    return await redirect_to_internal_login(request, server, client, return_to, locale)


async def _render(
    request: Request,
    server: AppContext,
    session: SsoSession,
    locale: str,
    notice: str | None,
    status_code: int = 200,
) -> Response:
    view = await run_in_threadpool(account_view, server, session.user_id)
    if view is None:
        return await _login_first(request, server, locale)
    sessions = [
        {
            "id": s.id,
            "started": s.auth_time.strftime("%Y-%m-%d %H:%M UTC"),
            "apps": ", ".join(clients) or "–",
            "current": s.id == session.id,
        }
        for s, clients in view.sessions
    ]
    return pages_of(request).render(
        request,
        server,
        "account.html",
        locale=locale,
        status_code=status_code,
        action=f"{ACCOUNT_PATH}?{urlencode({'locale': locale})}",
        user_name=view.user.username,
        sessions=sessions,
        apps=[{"client_id": c.client_id, "name": c.name} for c in view.apps],
        upstream_accounts=[
            {
                "provider_id": a.provider_id,
                "subject": a.subject,
                "name": _provider_name(server, a.provider_id, locale),
                "since": a.created_at.strftime("%Y-%m-%d"),
            }
            for a in view.upstream_accounts
        ],
        has_password=view.user.has_password,
        notice=gettext_for(locale).gettext(NOTICES[notice]) if notice else None,
    )


async def act(request: Request) -> Response:
    server, locale = context_of(request), _locale(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), form.get("csrf_token")
    ):
        return pages_of(request).form_check_failed(request, server, locale)
    session = await run_in_threadpool(_current_session, server, request)
    if session is None:
        return await _login_first(request, server, locale)
    # Read before anything ends: an ended session's handle no longer names it.
    cookies = await run_in_threadpool(browser_session_ids, server, request)
    action = form.get("action", "")
    ended: list[EndedSession] = []
    notice, status = action, 200
    if action == "end_session":
        ended = await run_in_threadpool(
            end_own_session, server, session.user_id, form.get("session_id", "")
        )
    elif action == "revoke_app":
        await run_in_threadpool(revoke_app, server, session.user_id, form.get("client_id", ""))
    elif action == "unlink_account":
        unlinked = await run_in_threadpool(
            unlink_upstream_account, server, session.user_id,
            form.get("provider_id", ""), form.get("subject", ""),
        )  # fmt: skip
        if unlinked is None:
            notice, status = "last_way_in", 409
        else:
            ended = unlinked
    elif action == "change_password":
        address = client_address(request)
        try:
            ended = await run_in_threadpool(_change_password, server, session, form, address)
        except PasswordChangeRefused as refused:
            notice, status = refused.reason, 429 if refused.reason == "locked" else 400
        except HashingBusy:
            notice, status = "busy", 503
    else:
        return await _render(request, server, session, locale, None, 400)
    if any(e.session.id == session.id for e in ended):
        response: Response = RedirectResponse(ACCOUNT_PATH, status_code=303)
    else:
        response = await _render(request, server, session, locale, notice, status)
    if status == 503:
        response.headers["Retry-After"] = "1"
    return _after_ending(server, response, ended, cookies)


def _provider_name(server: AppContext, provider_id: str, locale: str) -> str:
    provider = server.providers.get(provider_id)
    return provider.display_name(locale) if provider is not None else provider_id


def _change_password(
    server: AppContext, session: SsoSession, form: dict[str, str], address: str | None
) -> list[EndedSession]:
    with server.store.reading() as uow:
        user = uow.users.find(session.user_id)
    if user is None:
        raise PasswordChangeRefused("wrong_password")
    return change_password(
        server,
        user,
        form.get("current_password", ""),
        form.get("new_password", ""),
        session.id,
        address,
    )


def _after_ending(
    server: AppContext, response: Response, ended: list[EndedSession], cookies: dict[str, str]
) -> Response:
    """Clear this browser's cookies of the ended sessions (the outbox tells their RPs)."""
    ended_ids = {e.session.id for e in ended}
    for name, session_id in cookies.items():
        if session_id in ended_ids:
            clear_cookie(server, response, name)
    return response
