"""The account page (self-service): personal data and second factor, sessions (browser, last
activity in the operator's time zone, apps, how each logged in), apps with refresh tokens,
password change, and logging out here or everywhere else.

It uses the one_telenor SSO session through the built-in account client; without one, the
browser logs in first and comes back.
"""

from __future__ import annotations

import gettext
from datetime import datetime
from functools import cache, partial
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_datetime
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from idplus.auth.local import mask_phone_number
from idplus.auth.providers import LOCAL_PROVIDER_ID
from idplus.crypto.hashing import HashingBusy
from idplus.entry import client_address, context_of, run_blocking
from idplus.models import Client, SsoSession, User
from idplus.policies import ACCOUNT_CLIENT_ID
from idplus.protocol.assurance import AMR_PASSKEY, AMR_SMS_OTP
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import EndedSession
from idplus.protocol.passkeys.removal import remove_passkey
from idplus.protocol.self_service import (
    ACCOUNT_PATH,
    AccountView,
    Browser,
    PasswordChangeRefused,
    account_view,
    change_password,
    end_other_sessions,
    end_own_session,
    revoke_app,
    unlink_upstream_account,
)
from idplus.protocol.sso import SHARED_GROUP, live_login_of_cookie
from idplus.ui.context import pages_of
from idplus.ui.cookies import (
    browser_id,
    browser_session_ids,
    clear_ended_session_cookies,
    sso_session_handle,
)
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale
from idplus.ui.login import redirect_to_internal_login
from idplus.ui.logout import LOGOUT_PATH
from idplus.ui.webauthn import passkey_rows, passkeys_offered

NOTICES = {
    "end_session": "The session has ended.",
    "logout_others": "Your other sessions have ended.",
    "revoke_app": "The app no longer has access.",
    "change_password": "Your password is changed and your other sessions have ended.",
    "wrong_password": "The current password is wrong.",
    "locked": "Too many wrong passwords. Try again later.",
    "busy": "Many people are logging in right now. Try again in a moment.",
    "too_short": "The new password must have at least 8 characters.",
    "unlink_account": "The login is no longer connected to your account.",
    "last_way_in": "This is the only way you can log in, so it stays connected.",
    "passkey_added": "The passkey is added. You can log in with it now.",
    "remove_passkey": "The passkey is removed.",
    "passkey_not_found": "This passkey is not on your account: it may be removed already.",
}
# Notices that say something was done (role="status"); the others say why not (role="alert").
DONE = frozenset(
    {
        "end_session",
        "logout_others",
        "revoke_app",
        "change_password",
        "unlink_account",
        "passkey_added",
        "remove_passkey",
    }
)
# Notices a GET may ask for (`?notice=`): the page's script reloads it after adding a passkey.
GET_NOTICES = frozenset({"passkey_added"})
# Texts this module puts on the page (the template's own are in the template).
UNKNOWN_BROWSER = "Unknown browser"
BROWSER_ON_SYSTEM = "%(browser)s on %(system)s"
PASSWORD = "Password"
PASSWORD_AND_SMS = "Password and SMS code"
PASSKEY = "Passkey"
# The page's language → the Babel locale its dates are written in.
DATE_LOCALES = {"nb": "nb_NO", "en": "en_GB"}


def _current_session(server: AppContext, request: Request) -> SsoSession | None:
    handle = sso_session_handle(server, request, SHARED_GROUP)
    with server.store.reading() as uow:
        # With its user: a locked user's session (one that outlived the lock in a race) is no
        # login here either.
        found = live_login_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())
    return found[0] if found is not None else None


async def show_account(request: Request) -> Response:
    server, locale = context_of(request), page_locale(request)
    session = await run_blocking(_current_session, server, request)
    if session is None:
        return await _login_first(request, server, locale)
    asked = request.query_params.get("notice", "")
    notice = asked if asked in GET_NOTICES else None
    return await _render(request, server, session, locale, notice)


async def _login_first(request: Request, server: AppContext, locale: str) -> Response:
    def account_client() -> Client:
        with server.store.reading() as uow:
            client = uow.clients.find(ACCOUNT_CLIENT_ID)
        assert client is not None, "the account client is created at start-up"
        return client

    client = await run_blocking(account_client)
    return_to = f"{ACCOUNT_PATH}?{urlencode({'locale': locale})}"
    return await redirect_to_internal_login(request, server, client, return_to, locale)


async def _render(
    request: Request,
    server: AppContext,
    session: SsoSession,
    locale: str,
    notice: str | None,
    status_code: int = 200,
    *,
    confirm_passkey: str | None = None,
) -> Response:
    view = await run_blocking(account_view, server, session.user_id)
    if view is None:
        return await _login_first(request, server, locale)
    translator = gettext_for(locale)
    zone = server.settings.zone
    passkeys = await run_blocking(
        passkey_rows, server, view.user, lambda moment: _local_time(moment, zone, locale)
    )
    return pages_of(request).render(
        request,
        server,
        "account.html",
        locale=locale,
        status_code=status_code,
        action=f"{ACCOUNT_PATH}?{urlencode({'locale': locale})}",
        logout_action=LOGOUT_PATH,
        user_name=view.user.username,
        personal=_personal_data(view.user),
        sessions=_session_rows(server, view, session.id, locale),
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
        notice=translator.gettext(NOTICES[notice]) if notice else None,
        notice_is_error=notice not in DONE,
        # The passkey whose Remove button was pressed: the page asks to confirm.
        confirm_passkey=confirm_passkey,
        passkey_script=passkeys_offered(server, True),
        **passkeys,
    )


def _personal_data(user: User) -> dict[str, Any]:
    # The owner sees their number in full; the second factor names it as the SMS shows it.
    phone = user.phone_number
    return {
        "name": " ".join(n for n in (user.given_name, user.family_name) if n),
        "email": user.email or "",
        "phone": phone or "",
        "otp_required": user.otp_required,
        # No-break spaces: the masked number never wraps across lines.
        "otp_phone": mask_phone_number(phone).replace(" ", "\u00a0") if phone else "",
    }


def _session_rows(
    server: AppContext, view: AccountView, current_id: str, locale: str
) -> list[dict[str, Any]]:
    """This browser's session first, then the others by last activity."""
    translator, zone = gettext_for(locale), server.settings.zone
    rows = [
        {
            "id": s.session.id,
            "browser": _browser_text(s.browser, translator),
            "last_seen": _local_time(s.session.last_seen_at, zone, locale),
            "last_seen_iso": s.session.last_seen_at.astimezone(zone).isoformat("T", "minutes"),
            "login": _login_method(server, s.session, locale),
            "apps": ", ".join(s.apps),
            "current": s.session.id == current_id,
        }
        for s in view.sessions
    ]
    return sorted(rows, key=lambda row: not row["current"])


def _browser_text(browser: Browser, translator: gettext.NullTranslations) -> str:
    name = browser.name or translator.gettext(UNKNOWN_BROWSER)
    if browser.system is None:
        return name
    return translator.gettext(BROWSER_ON_SYSTEM) % {"browser": name, "system": browser.system}


def _local_time(moment: datetime, zone: ZoneInfo, locale: str) -> str:
    """Like "3. des. 2026, 21:11" / "3 Dec 2026, 21:11": seconds say nothing here."""
    babel_locale = _date_locale(locale)
    return format_datetime(
        moment, _date_time_pattern(babel_locale), tzinfo=zone, locale=babel_locale
    )


@cache
def _date_locale(locale: str) -> Locale:
    return Locale.parse(DATE_LOCALES.get(locale, DATE_LOCALES["en"]))


@cache
def _date_time_pattern(locale: Locale) -> str:
    """The locale's medium date with its short time, joined the locale's way."""
    joined: str = locale.datetime_formats["medium"]
    return joined.format(
        locale.time_formats["short"].pattern, locale.date_formats["medium"].pattern
    )


def _login_method(server: AppContext, session: SsoSession, locale: str) -> str:
    if session.idp == LOCAL_PROVIDER_ID:
        method = PASSWORD_AND_SMS if AMR_SMS_OTP in session.amr else PASSWORD
        if AMR_PASSKEY in session.amr:
            method = PASSKEY
        return gettext_for(locale).gettext(method)
    return _provider_name(server, session.idp, locale)


async def act(request: Request) -> Response:
    server, locale = context_of(request), page_locale(request)
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), form.get("csrf_token")
    ):
        return pages_of(request).form_check_failed(request, server, locale)
    session = await run_blocking(_current_session, server, request)
    if session is None:
        return await _login_first(request, server, locale)
    # Read before anything ends: an ended session's handle no longer names it.
    cookies = await run_blocking(browser_session_ids, server, request)
    action = form.get("action", "")
    ended: list[EndedSession] = []
    notice, status = action, 200
    if action == "end_session":
        ended = await run_blocking(
            end_own_session, server, session.user_id, form.get("session_id", "")
        )
    elif action == "logout_others":
        ended = await run_blocking(end_other_sessions, server, session.user_id, session.id)
    elif action == "revoke_app":
        await run_blocking(revoke_app, server, session.user_id, form.get("client_id", ""))
    elif action == "unlink_account":
        unlinked = await run_blocking(
            unlink_upstream_account, server, session.user_id,
            form.get("provider_id", ""), form.get("subject", ""),
        )  # fmt: skip
        if unlinked is None:
            notice, status = "last_way_in", 409
        else:
            ended = unlinked
    elif action == "remove_passkey":
        passkey_id = form.get("passkey_id", "")
        if form.get("confirmed") != "yes":
            return await _render(request, server, session, locale, None,
                                 confirm_passkey=passkey_id)  # fmt: skip
        removed = await run_blocking(
            partial(remove_passkey, locale=locale), server, session.user_id, passkey_id
        )
        if removed is None:  # an unknown id, another user's, or removed in another tab
            notice, status = "passkey_not_found", 404
        ended = removed.ended if removed is not None else []
    elif action == "change_password":
        address = client_address(request)
        try:
            ended = await run_blocking(_change_password, server, session, form, address)
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
    # The outbox tells the ended sessions' apps; this browser forgets their cookies.
    clear_ended_session_cookies(server, response, cookies, ended)
    return response


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
