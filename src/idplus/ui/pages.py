"""Rendering pages: Jinja2 with autoescape, the page's locale, CSRF token and a strict CSP."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from idplus.protocol.context import AppContext
from idplus.ui.cookies import ensure_browser_id, set_browser_cookie
from idplus.ui.csrf import csrf_token
from idplus.ui.i18n import gettext_for

TEMPLATES = Path(__file__).parent / "templates"


def page_headers(nonce: str) -> dict[str, str]:
    # No form-action: browsers apply it to the redirect after a login POST, which goes to the
    # client's redirect URI.
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"
    )
    return {
        "Content-Security-Policy": policy,
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "X-Frame-Options": "DENY",
    }


class Pages:
    """The template environment of one app."""

    def __init__(self) -> None:
        self.environment = Environment(
            loader=FileSystemLoader(TEMPLATES),
            autoescape=select_autoescape(["html"]),
            auto_reload=False,
        )

    def render(
        self,
        request: Request,
        server: AppContext,
        template: str,
        *,
        locale: str,
        status_code: int = 200,
        **context: Any,
    ) -> Response:
        browser, is_new = ensure_browser_id(request)
        nonce = secrets.token_urlsafe(16)
        translator = gettext_for(locale)
        body = self.environment.get_template(template).render(
            _=translator.gettext,
            locale=locale,
            csp_nonce=nonce,
            csrf_token=csrf_token(server.secrets.cookie_key, browser),
            **context,
        )
        response = HTMLResponse(body, status_code=status_code, headers=page_headers(nonce))
        if is_new:
            set_browser_cookie(server, response, browser)
        return response

    def error(
        self,
        request: Request,
        server: AppContext,
        *,
        locale: str,
        message: str,
        detail: str | None = None,
        status_code: int = 400,
    ) -> Response:
        translator = gettext_for(locale)
        return self.render(
            request,
            server,
            "error.html",
            locale=locale,
            status_code=status_code,
            message=translator.gettext(message),
            detail=detail,
        )

    def form_check_failed(self, request: Request, server: AppContext, locale: str) -> Response:
        """The answer to a POST whose CSRF token is missing or wrong."""
        return self.error(
            request,
            server,
            locale=locale,
            message="The form could not be checked. Reload the page and try again.",
            status_code=403,
        )
