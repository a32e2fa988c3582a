"""The passkey JSON endpoints the pages' script calls (INTERFACE "Passkeys (WebAuthn)").

    POST /webauthn/login/options     {"interaction"}                → request options
    POST /webauthn/login/verify      {"interaction", "credential"}  → {"redirect"}
    POST /webauthn/register/options  {}                             → creation options
    POST /webauthn/register/verify   {"credential", "name"}         → {"id", "name"}

Each is a POST of `application/json` with the browser cookie and the page's CSRF token in the
X-CSRF-Token header (the token the page's forms carry): a page of another site can neither
read the token nor send JSON without a CORS preflight we never allow. A refusal is a 4xx
`{"error", "error_description"}`, the description a sentence in the page's language, and one
`passkey_refused` log line (never a credential, challenge or key); never a session. A login
verify from an address that spent its login budget is 429; a registration whose owner could
not be told of it (the SMS gateway down) is 503 `temporarily_unavailable`, nothing added.

The login endpoints work on the login in progress (`interaction`); options asked for without
one start a login to the account page and name it in the answer. Registration needs the
account page's session, with a two-factor login in the last 5 minutes; else 403
`fresh_login_required` with the URL of a login that gives one and comes back to the account
page's passkeys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idplus.entry import client_address, context_of, run_blocking
from idplus.logs import get_logger
from idplus.models import Client, SsoSession, User
from idplus.policies import ACCOUNT_CLIENT_ID
from idplus.protocol.account_lock import ACCOUNT_LOCKED
from idplus.protocol.context import AppContext
from idplus.protocol.interaction import start_internal_login
from idplus.protocol.login.passkey import (
    LEVEL_TOO_LOW,
    LOGIN_GONE,
    THROTTLED,
    WRONG_STAGE,
    PasskeyLoginRefused,
    passkey_login_options,
    verify_passkey,
)
from idplus.protocol.passkeys.errors import PasskeyProblem, PasskeyProblemReason
from idplus.protocol.passkeys.notices import NoticeNotSent, can_be_told
from idplus.protocol.passkeys.registration import (
    FRESH_LOGIN_MAX_AGE,
    register_passkey,
    registration_options,
)
from idplus.protocol.passkeys.relying_party import unavailable_reason
from idplus.protocol.passkeys.removal import passkeys_of
from idplus.protocol.self_service import ACCOUNT_PATH
from idplus.protocol.sso import SHARED_GROUP, live_login_of_cookie
from idplus.ui.cookies import browser_id, sso_session_handle
from idplus.ui.csrf import csrf_token_is_valid
from idplus.ui.i18n import gettext_for
from idplus.ui.language import page_locale

log = get_logger(__name__)

LOGIN_OPTIONS_PATH = "/webauthn/login/options"
LOGIN_VERIFY_PATH = "/webauthn/login/verify"
REGISTER_OPTIONS_PATH = "/webauthn/register/options"
REGISTER_VERIFY_PATH = "/webauthn/register/verify"
CSRF_HEADER = "X-CSRF-Token"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# Where the account page lists the passkeys (the login for a new one comes back there).
PASSKEYS_ANCHOR = "passkeys"

# Refusals of the request itself, before any passkey is looked at.
CSRF = "csrf"
NOT_JSON = "not_json"
MISSING_FIELD = "missing_field"
NO_PHONE = "no_phone"
# The notice of a new passkey could not be sent (registration).
NOTICE_NOT_SENT = "notice_not_sent"
# A login handle is a short base64url string: anything else names no login.
_HANDLE_MAX_LENGTH = 128

# An operator locked the account (protocol/account_lock.py): on the login page and here, once
# the password or the passkey proved who it is, and nothing more.
ACCOUNT_LOCKED_MESSAGE = "This account is locked."
# Level 3 (a request for a hardware-attested, device-bound passkey), on the page and here.
PASSKEY_REQUIRED_MESSAGE = (
    "This app asks for a passkey kept in a security key or in this device's secure hardware. "
    "Sign in with such a passkey."
)
# What the user reads (English msgids): why, and what to do.
MESSAGES = {
    CSRF: "The form could not be checked. Reload the page and try again.",
    NOT_JSON: "The passkey answer could not be read. Reload the page and try again.",
    MISSING_FIELD: "The passkey answer could not be read. Reload the page and try again.",
    LOGIN_GONE: "This login has expired or is already finished.",
    WRONG_STAGE: "A passkey cannot be used on this page. Reload the page and try again.",
    LEVEL_TOO_LOW: PASSKEY_REQUIRED_MESSAGE,
    ACCOUNT_LOCKED: ACCOUNT_LOCKED_MESSAGE,
    NO_PHONE: "A passkey can only be added to an account with a mobile number for SMS codes.",
    THROTTLED: "Too many failed attempts. Try again in %(minutes)s minutes.",
    NOTICE_NOT_SENT: "The passkey was not added: the message that tells you of it could not "
    "be sent. Try again in a few minutes.",
    PasskeyProblemReason.NO_CONTACT: "A passkey can only be added to an account with a mobile "
    "number or an e-mail address, where you are told of it.",
    PasskeyProblemReason.UNAVAILABLE: "Passkeys cannot be used with this service.",
    PasskeyProblemReason.CHALLENGE_UNKNOWN: "The passkey request has expired or was already "
    "used. Try again.",
    PasskeyProblemReason.CREDENTIAL_UNKNOWN: "This passkey is not registered with us. Use "
    "another passkey, or log in another way.",
    PasskeyProblemReason.USER_MISMATCH: "This passkey belongs to another account.",
    PasskeyProblemReason.ORIGIN_OR_RP_MISMATCH: "This passkey answer was made for another website.",
    PasskeyProblemReason.MALFORMED: "The passkey answer could not be read. Reload the page "
    "and try again.",
    PasskeyProblemReason.VERIFICATION_FAILED: "The passkey could not be verified. Try again, "
    "or log in another way.",
    PasskeyProblemReason.SIGN_COUNT: "The passkey could not be verified. Try again, or log "
    "in another way.",
    PasskeyProblemReason.ALREADY_REGISTERED: "This passkey is already registered.",
    PasskeyProblemReason.FRESH_LOGIN_REQUIRED: "To add a passkey, confirm that it is you: "
    "log in again.",
}
# The `error` code of each refusal, and its status (400 unless listed).
ERRORS = {
    CSRF: ("invalid_csrf_token", 403),
    NOT_JSON: ("invalid_request", 400),
    MISSING_FIELD: ("invalid_request", 400),
    LOGIN_GONE: ("login_expired", 400),
    WRONG_STAGE: ("invalid_request", 400),
    NO_PHONE: ("fresh_login_required", 403),
    THROTTLED: ("too_many_attempts", 429),
    ACCOUNT_LOCKED: ("account_locked", 403),
    NOTICE_NOT_SENT: ("temporarily_unavailable", 503),
    PasskeyProblemReason.NO_CONTACT: ("no_contact", 403),
    PasskeyProblemReason.MALFORMED: ("invalid_request", 400),
    PasskeyProblemReason.ALREADY_REGISTERED: ("already_registered", 409),
    PasskeyProblemReason.FRESH_LOGIN_REQUIRED: ("fresh_login_required", 403),
}


class Refused(Exception):
    """A refused passkey request, for `_refusal` to answer and log."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        *,
        step: str,
        locale: str,
        stage: str | None = None,
        client_id: str | None = None,
        user_id: str | None = None,
        redirect: str | None = None,
        retry_after_minutes: int = 0,
    ) -> None:
        super().__init__(reason)
        self.reason, self.detail, self.step, self.stage = reason, detail, step, stage
        self.locale, self.client_id, self.user_id = locale, client_id, user_id
        self.redirect, self.retry_after_minutes = redirect, retry_after_minutes


def passkeys_offered(server: AppContext, page_offers_them: bool) -> bool:
    """Whether a page shows its passkey buttons: never when the issuer cannot have passkeys."""
    return page_offers_them and unavailable_reason(server.settings) is None


# ---- login -------------------------------------------------------------------------------


async def login_options(request: Request) -> Response:
    """Options for the login `interaction`; without one (a passkey button outside a login,
    INTERFACE: optional), a login to the account page is started and its handle is returned
    beside the options for the verify."""
    try:
        body = await _checked_body(request, "login_options")
        started = "interaction" not in body
        if started:
            handle = await run_blocking(_account_page_login, request)
        else:
            handle = _handle(body, "login_options", request)
        options = await run_blocking(
            _login_step, passkey_login_options, request, "login_options", handle
        )
    except Refused as refused:
        return _refusal(refused)
    return JSONResponse(
        {**options, "interaction": handle} if started else options, headers=NO_STORE
    )


async def login_verify(request: Request) -> Response:
    try:
        body = await _checked_body(request, "login_verify")
        handle = _handle(body, "login_verify", request)
        credential = _credential(body, "login_verify", request)
        await run_blocking(
            _login_step,
            verify_passkey,
            request,
            "login_verify",
            handle,
            credential,
            client_address(request),
        )
    except Refused as refused:
        return _refusal(refused)
    # The login is proved; the GET of the login page finishes it (session, cookies, response).
    return JSONResponse({"redirect": _login_url(handle)}, headers=NO_STORE)


def _login_step(step: Any, request: Request, step_name: str, handle: str, *args: Any) -> Any:
    server = context_of(request)
    try:
        return step(server, handle, browser_id(request) or "", *args)
    except PasskeyLoginRefused as refused:
        view = refused.view
        raise Refused(
            refused.reason,
            refused.detail,
            step=step_name,
            stage=view.stage.value if view is not None else None,
            locale=view.interaction.request.ui_locale if view is not None else page_locale(request),
            client_id=view.client.client_id if view is not None else None,
            user_id=view.user.id if view is not None and view.user is not None else None,
            retry_after_minutes=refused.retry_after_minutes,
        ) from None


def _login_url(handle: str) -> str:
    return f"/login?{urlencode({'interaction': handle})}"


# ---- registration (account page) ---------------------------------------------------------


async def register_options(request: Request) -> Response:
    try:
        await _checked_body(request, "register_options")
        options = await run_blocking(_registration_options, request)
    except Refused as refused:
        return _refusal(refused)
    return JSONResponse(options, headers=NO_STORE)


async def register_verify(request: Request) -> Response:
    try:
        body = await _checked_body(request, "register_verify")
        credential = _credential(body, "register_verify", request)
        name = body.get("name", "")
        added = await run_blocking(
            _register, request, credential, name if isinstance(name, str) else ""
        )
    except Refused as refused:
        return _refusal(refused)
    return JSONResponse({"id": added.id, "name": added.name}, headers=NO_STORE)


def _registration_options(request: Request) -> dict[str, Any]:
    session, user = _account_login(request, "register_options")
    try:
        return registration_options(context_of(request), user, session.id)
    except PasskeyProblem as problem:
        raise _registration_refused(request, problem, "register_options", user) from None


def _register(request: Request, credential: Any, name: str) -> Any:
    server, locale = context_of(request), page_locale(request)
    session, user = _account_login(request, "register_verify")
    try:
        return register_passkey(server, user, session.id, credential, name, locale=locale)
    except PasskeyProblem as problem:
        raise _registration_refused(request, problem, "register_verify", user) from None
    except NoticeNotSent as failed:
        detail = str(failed)
        raise Refused(
            NOTICE_NOT_SENT, detail, step="register_verify", locale=locale, user_id=user.id
        ) from None


def _account_login(request: Request, step: str) -> tuple[SsoSession, User]:
    """The account page's session and user; without one, a login first."""
    server = context_of(request)
    handle = sso_session_handle(server, request, SHARED_GROUP)
    with server.store.reading() as uow:
        login = live_login_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())
    if login is None:
        raise Refused(
            PasskeyProblemReason.FRESH_LOGIN_REQUIRED,
            "no account session",
            step=step,
            locale=page_locale(request),
            redirect=_fresh_login(request, None),
        )
    return login


def _registration_refused(
    request: Request, problem: PasskeyProblem, step: str, user: User
) -> Refused:
    reason: str = problem.reason
    redirect = None
    if problem.reason is PasskeyProblemReason.FRESH_LOGIN_REQUIRED:
        # A second factor is needed: the SMS code, or a passkey the user has already.
        if user.phone_number or passkeys_of(context_of(request), user.id):
            redirect = _fresh_login(request, user.id)
        else:
            reason = NO_PHONE
    return Refused(
        reason,
        problem.detail,
        step=step,
        locale=page_locale(request),
        user_id=user.id,
        redirect=redirect,
    )


def _account_page_login(request: Request) -> str:
    """A login for the account page, for a passkey offered where no login is in progress."""
    server, locale = context_of(request), page_locale(request)
    return start_internal_login(
        server,
        _account_client(server),
        return_to=f"{ACCOUNT_PATH}?{urlencode({'locale': locale})}",
        browser_id=browser_id(request) or "",
        locale=locale,
        session=None,
    )


def _fresh_login(request: Request, user_id: str | None) -> str:
    """Start a login for the account page that reaches level 2 within FRESH_LOGIN_MAX_AGE and
    comes back to its passkeys: the URL of its login page."""
    server, locale = context_of(request), page_locale(request)
    session = None
    if user_id is not None:
        handle = sso_session_handle(server, request, SHARED_GROUP)
        with server.store.reading() as uow:
            found = live_login_of_cookie(uow, server.secrets.handle_key, handle, server.clock.now())
        session = found[0] if found is not None else None
    return_to = f"{ACCOUNT_PATH}?{urlencode({'locale': locale})}#{PASSKEYS_ANCHOR}"
    handle = start_internal_login(
        server,
        _account_client(server),
        return_to=return_to,
        browser_id=browser_id(request) or "",
        locale=locale,
        session=session,
        requested_aal=2,
        # A recent password login steps up with the SMS code; an older one logs in again.
        max_age=int(FRESH_LOGIN_MAX_AGE.total_seconds()),
    )
    return _login_url(handle)


def _account_client(server: AppContext) -> Client:
    with server.store.reading() as uow:
        client = uow.clients.find(ACCOUNT_CLIENT_ID)
    assert client is not None, "the account client is created at start-up"
    return client


# ---- the account page's list -------------------------------------------------------------


def passkey_rows(
    server: AppContext, user: User, format_time: Callable[[datetime], str]
) -> dict[str, Any]:
    """The account page's passkey section (blocking): each passkey, whether one can be
    added here (passkeys work with this issuer) and whether the account can ever reach the
    two-factor login that adding one needs."""
    passkeys = passkeys_of(server, user.id)
    return {
        "passkeys_available": unavailable_reason(server.settings) is None,
        # …and someone to tell of a new one (registration.py refuses otherwise).
        "passkey_second_factor": bool(user.phone_number or passkeys) and can_be_told(user),
        "passkeys": [
            {
                "id": p.id,
                "name": p.name,
                "created": format_time(p.created_at),
                "created_iso": _iso(p.created_at),
                "last_used": format_time(p.last_used_at) if p.last_used_at else None,
                "last_used_iso": _iso(p.last_used_at) if p.last_used_at else None,
                # The BE flag: a passkey the user's platform syncs to their other devices.
                "synced": p.backup_eligible,
            }
            for p in passkeys
        ],
    }


def _iso(moment: datetime) -> str:
    return moment.isoformat("T", "minutes")


# ---- the request and the answer ----------------------------------------------------------


async def _checked_body(request: Request, step: str) -> dict[str, Any]:
    """The JSON object of a POST that carries this browser's CSRF token (body size: bounded by
    the app's body limit before this reads it)."""
    server = context_of(request)
    if not csrf_token_is_valid(
        server.secrets.cookie_key, browser_id(request), request.headers.get(CSRF_HEADER)
    ):
        raise Refused(CSRF, "missing or wrong token", step=step, locale=page_locale(request))
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    try:
        document = json.loads(body) if media_type == "application/json" else None
    except (ValueError, RecursionError):  # also JSONDecodeError, UnicodeDecodeError; `[[[…`
        document = None
    if not isinstance(document, dict):
        detail = f"not a JSON object ({media_type or 'no content type'})"
        raise Refused(NOT_JSON, detail, step=step, locale=page_locale(request))
    return document


def _text(body: dict[str, Any], name: str, step: str, request: Request) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise Refused(MISSING_FIELD, f"no {name}", step=step, locale=page_locale(request))
    return value


def _handle(body: dict[str, Any], step: str, request: Request) -> str:
    """The login's handle: short printable ASCII (a lone surrogate or a megabyte of text
    names no login, and must not reach the hashing of handles)."""
    handle = _text(body, "interaction", step, request)
    if len(handle) > _HANDLE_MAX_LENGTH or not (handle.isascii() and handle.isprintable()):
        raise Refused(
            MISSING_FIELD, "interaction not a handle", step=step, locale=page_locale(request)
        )
    return handle


def _credential(body: dict[str, Any], step: str, request: Request) -> dict[str, Any]:
    value = body.get("credential")
    if not isinstance(value, dict):
        detail = "no credential object"
        raise Refused(MISSING_FIELD, detail, step=step, locale=page_locale(request))
    return value


def _refusal(refused: Refused) -> Response:
    log.info(
        "passkey_refused",
        reason=str(refused.reason),
        detail=refused.detail,
        step=refused.step,
        stage=refused.stage,
        client_id=refused.client_id,
        user_id=refused.user_id,
    )
    error, status = ERRORS.get(refused.reason, (str(refused.reason), 400))
    message = gettext_for(refused.locale).gettext(MESSAGES[refused.reason])
    if refused.reason == THROTTLED:
        message %= {"minutes": refused.retry_after_minutes}
    body = {"error": error, "error_description": message}
    if refused.redirect is not None:
        body["redirect"] = refused.redirect
    headers = dict(NO_STORE)
    if status == 429:
        headers["Retry-After"] = str(refused.retry_after_minutes * 60)
    return JSONResponse(body, status_code=status, headers=headers)
