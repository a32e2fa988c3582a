"""The browser cookie (binds forms and logins to one browser) and the SSO session cookies.

Every cookie is HttpOnly, SameSite=Lax, and Secure when the issuer is https. One-telenor
clients share one SSO cookie; every other client has its own, named after it.
"""

from __future__ import annotations

import hashlib
import secrets

from itsdangerous import BadSignature, Signer
from starlette.requests import Request
from starlette.responses import Response

from idplus.protocol.context import ServerContext
from idplus.protocol.sso import SHARED_GROUP

BROWSER_COOKIE = "idplus_browser"
SSO_COOKIE = "idplus_sso"
_SSO_SALT = "idplus.sso-session"


def sso_cookie_name(group: str) -> str:
    if group == SHARED_GROUP:
        return SSO_COOKIE
    return f"{SSO_COOKIE}_{hashlib.sha256(group.encode()).hexdigest()[:16]}"


def _signer(server: ServerContext) -> Signer:
    return Signer(server.secrets.cookie_key, salt=_SSO_SALT)


def sso_session_id(server: ServerContext, request: Request, group: str) -> str | None:
    value = request.cookies.get(sso_cookie_name(group))
    if not value:
        return None
    try:
        return _signer(server).unsign(value).decode()
    except BadSignature:
        return None


def set_sso_cookie(
    server: ServerContext, response: Response, group: str, session_id: str, max_age: int | None
) -> None:
    response.set_cookie(
        sso_cookie_name(group),
        _signer(server).sign(session_id).decode(),
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=server.settings.issuer_is_https,
        path="/",
    )


def browser_id(request: Request) -> str | None:
    value = request.cookies.get(BROWSER_COOKIE)
    return value if value and len(value) <= 64 else None


def ensure_browser_id(request: Request) -> tuple[str, bool]:
    """The browser's id, and whether it is new (and so must be set on the response)."""
    existing = browser_id(request)
    return (existing, False) if existing else (secrets.token_urlsafe(24), True)


def set_browser_cookie(server: ServerContext, response: Response, value: str) -> None:
    response.set_cookie(
        BROWSER_COOKIE,
        value,
        httponly=True,
        samesite="lax",
        secure=server.settings.issuer_is_https,
        path="/",
    )


def browser_sso_sessions(server: ServerContext, request: Request) -> dict[str, str]:
    """Every SSO session this browser holds: cookie name → session id."""
    found = {}
    for name, value in request.cookies.items():
        if name == SSO_COOKIE or name.startswith(SSO_COOKIE + "_"):
            try:
                found[name] = _signer(server).unsign(value).decode()
            except BadSignature:
                continue
    return found


def clear_cookie(server: ServerContext, response: Response, name: str) -> None:
    response.delete_cookie(
        name, path="/", httponly=True, samesite="lax", secure=server.settings.issuer_is_https
    )
