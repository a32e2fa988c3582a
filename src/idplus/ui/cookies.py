"""The browser cookie (binds forms and logins to one browser) and the SSO session cookies.

Every cookie is HttpOnly, SameSite=Lax, signed with the server's cookie key, and on an https
issuer Secure with a `__Host-` name, so no sibling host and no plain-http page can plant one.
One-telenor clients share one SSO cookie; every other client has its own, named after it.

The SSO cookie carries a session *handle*: the database keeps only its HMAC, and the public
session id (`sid` in tokens) is a different value, so neither a token nor a copy of the
database gives anyone a cookie. So does the cookie of a password reset started from a login:
it keeps the login's handle, of which the database keeps only an HMAC.

One cookie is scoped to a path: the invitation cookie keeps an e-mailed invitation link's
token for the login it needs first (so the token is in no address the login stores), and is
sent to /portal/invitations alone. `__Host-` demands the path /, so on https it is Secure with
a `__Secure-` name instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from idplus.entry import context_of
from idplus.protocol.context import AppContext
from idplus.protocol.oidc.end_session import EndedSession
from idplus.protocol.sso import SHARED_GROUP, session_ids_of_cookies

BROWSER_COOKIE = "idplus_browser"
SSO_COOKIE = "idplus_sso"
RESET_LOGIN_COOKIE = "idplus_reset_login"
INVITATION_COOKIE = "idplus_invitation"
SECURE_PREFIX = "__Host-"
# For a Secure cookie with a narrower path than / (which `__Host-` does not allow).
SECURE_PATH_PREFIX = "__Secure-"
_SSO_SALT = "idplus.sso-session"
_BROWSER_SALT = "idplus.browser"
_RESET_LOGIN_SALT = "idplus.reset-login"
_INVITATION_SALT = "idplus.invitation"
# Far above a signed 32-byte handle; anything longer is not ours and is not even unsigned.
_MAX_COOKIE_LENGTH = 200


def _name(server: AppContext, base: str) -> str:
    return SECURE_PREFIX + base if server.settings.issuer_is_https else base


def sso_cookie_name(server: AppContext, group: str) -> str:
    if group == SHARED_GROUP:
        return _name(server, SSO_COOKIE)
    return _name(server, f"{SSO_COOKIE}_{hashlib.sha256(group.encode()).hexdigest()[:16]}")


def _unsign(server: AppContext, salt: str, value: str | None) -> str | None:
    if not value or len(value) > _MAX_COOKIE_LENGTH:
        return None
    try:
        return Signer(server.secrets.cookie_key, salt=salt).unsign(value).decode()
    except (BadSignature, UnicodeDecodeError):
        return None


def _sign(server: AppContext, salt: str, value: str) -> str:
    return Signer(server.secrets.cookie_key, salt=salt).sign(value).decode()


def sso_session_handle(server: AppContext, request: Request, group: str) -> str | None:
    """The SSO cookie's session handle for this group, if the cookie is ours."""
    return _unsign(server, _SSO_SALT, request.cookies.get(sso_cookie_name(server, group)))


def set_sso_cookie(
    server: AppContext, response: Response, group: str, handle: str, max_age: int | None
) -> None:
    signed = _sign(server, _SSO_SALT, handle)
    _set(server, response, sso_cookie_name(server, group), signed, max_age=max_age)


def browser_id(request: Request) -> str | None:
    """The id this server issued to the browser, or None (absent, foreign or forged)."""
    server = context_of(request)
    return _unsign(server, _BROWSER_SALT, request.cookies.get(_name(server, BROWSER_COOKIE)))


def ensure_browser_id(request: Request) -> tuple[str, bool]:
    """The browser's id, and whether it is new (and so must be set on the response)."""
    existing = browser_id(request)
    return (existing, False) if existing else (new_browser_id(context_of(request)), True)


def new_browser_id(server: AppContext) -> str:
    return server.random.handle(24)


def set_browser_cookie(server: AppContext, response: Response, value: str) -> None:
    _set(server, response, _name(server, BROWSER_COOKIE), _sign(server, _BROWSER_SALT, value))


def browser_sso_handles(server: AppContext, request: Request) -> dict[str, str]:
    """Every SSO cookie this browser holds: cookie name → session handle."""
    prefix = _name(server, SSO_COOKIE)
    found = {}
    for name, value in request.cookies.items():
        if name == prefix or name.startswith(prefix + "_"):
            handle = _unsign(server, _SSO_SALT, value)
            if handle is not None:
                found[name] = handle
    return found


def browser_session_ids(server: AppContext, request: Request) -> dict[str, str]:
    """Cookie name → id of the session it opens, for this browser's SSO cookies (blocking)."""
    handles = browser_sso_handles(server, request)
    if not handles:
        return {}
    with server.store.reading() as uow:
        ids = session_ids_of_cookies(uow, server.secrets.handle_key, list(handles.values()))
    return {name: ids[handle] for name, handle in handles.items() if handle in ids}


def clear_ended_session_cookies(
    server: AppContext,
    response: Response,
    cookies: Mapping[str, str],
    ended: Iterable[EndedSession],
) -> None:
    """Clear the cookies (`browser_session_ids`, read before the sessions ended: an ended
    session's handle no longer names it) of the sessions that ended."""
    ended_ids = {e.session.id for e in ended}
    for name, session_id in cookies.items():
        if session_id in ended_ids:
            clear_cookie(server, response, name)


def reset_login_handle(request: Request) -> str:
    """The handle of the login in progress a password reset started from, or ""."""
    server = context_of(request)
    value = request.cookies.get(_name(server, RESET_LOGIN_COOKIE))
    return _unsign(server, _RESET_LOGIN_SALT, value) or ""


def set_reset_login_cookie(
    server: AppContext, response: Response, handle: str, max_age: int
) -> None:
    signed = _sign(server, _RESET_LOGIN_SALT, handle)
    _set(server, response, _name(server, RESET_LOGIN_COOKIE), signed, max_age=max_age)


def clear_reset_login_cookie(server: AppContext, response: Response) -> None:
    clear_cookie(server, response, _name(server, RESET_LOGIN_COOKIE))


def _invitation_cookie_name(server: AppContext) -> str:
    https = server.settings.issuer_is_https
    return SECURE_PATH_PREFIX + INVITATION_COOKIE if https else INVITATION_COOKIE


def invitation_token(request: Request) -> str:
    """The invitation link's token this browser keeps for its login detour, or ""."""
    server = context_of(request)
    value = request.cookies.get(_invitation_cookie_name(server))
    return _unsign(server, _INVITATION_SALT, value) or ""


def set_invitation_cookie(
    server: AppContext, response: Response, token: str, *, path: str, max_age: int
) -> None:
    """Keep the token for the pages under `path` only, for `max_age` seconds."""
    signed = _sign(server, _INVITATION_SALT, token)
    _set(server, response, _invitation_cookie_name(server), signed, max_age=max_age, path=path)


def clear_invitation_cookie(server: AppContext, response: Response, *, path: str) -> None:
    clear_cookie(server, response, _invitation_cookie_name(server), path=path)


def clear_cookie(server: AppContext, response: Response, name: str, path: str = "/") -> None:
    response.delete_cookie(
        name, path=path, httponly=True, samesite="lax", secure=server.settings.issuer_is_https
    )


def _set(
    server: AppContext,
    response: Response,
    name: str,
    value: str,
    max_age: int | None = None,
    path: str = "/",
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=server.settings.issuer_is_https,
        path=path,
    )
