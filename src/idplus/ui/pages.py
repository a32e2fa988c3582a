"""Rendering pages: Jinja2 with autoescape, the page's locale and language switch, CSRF token
and a strict CSP; error pages that lead back to the app and name the request for support."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from idplus.logs import get_logger
from idplus.models import Client
from idplus.protocol.context import AppContext
from idplus.ui.cookies import browser_id, ensure_browser_id, set_browser_cookie
from idplus.ui.csrf import csrf_token
from idplus.ui.i18n import gettext_for
from idplus.ui.language import language_switch
from idplus.uris import is_loopback_host

log = get_logger("idplus.pages")
TEMPLATES = Path(__file__).parent / "templates"
# The detail of an error page for a request that could not even be read (parse_params).
MALFORMED_REQUEST = (
    "The request from the app has a parameter that is repeated, too long or not valid."
)


def page_headers(nonce: str) -> dict[str, str]:
    # No form-action: browsers apply it to the redirect after a login POST, which goes to the
    # client's redirect URI. connect-src: the passkey script's fetch of /webauthn/….
    policy = (
        f"default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; "
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
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
        interaction = context.get("interaction")
        # A page that answers a POST and cannot be found again by a GET of its own URL names
        # the page the language switch comes back to.
        switch_back_to = context.pop("switch_back_to", None)
        body = self.environment.get_template(template).render(
            _=translator.gettext,
            locale=locale,
            languages=language_switch(
                request,
                locale,
                interaction if isinstance(interaction, str) else None,
                page=switch_back_to if isinstance(switch_back_to, str) else None,
            ),
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
        client: Client | None = None,
    ) -> Response:
        """An error page in `locale`: `message` and `detail` are English msgids (never an
        internal reason), translated here. With the `client` the user came from, a link back
        to its app; always the request id, for customer service."""
        translator = gettext_for(locale)
        return self.render(
            request,
            server,
            "error.html",
            locale=locale,
            status_code=status_code,
            message=translator.gettext(message),
            detail=translator.gettext(detail) if detail else None,
            client_name=(client.name or client.client_id) if client is not None else None,
            back_url=app_origin(client) if client is not None else None,
            request_id=structlog.contextvars.get_contextvars().get("request_id"),
        )

    def form_check_failed(self, request: Request, server: AppContext, locale: str) -> Response:
        """The answer to a POST whose CSRF token is missing or wrong."""
        # A stale tab, a cookie the browser dropped, or a cross-site post: the operator sees
        # which, by path and whether the browser still had its id.
        log.info(
            "form_check_failed",
            path=request.url.path,
            has_browser_id=browser_id(request) is not None,
        )
        return self.error(
            request,
            server,
            locale=locale,
            message="The form could not be checked. Reload the page and try again.",
            status_code=403,
        )


def app_origin(client: Client) -> str | None:
    """Where "Back to <app>" leads: the origin of the client's first registered redirect URI
    when that is a web address (https, or http on a loopback host in development). A
    custom-scheme app has none: its URI would only wake the app up mid-flow."""
    if not client.redirect_uris:
        return None
    try:
        parts = urlsplit(client.redirect_uris[0])
        _ = parts.port  # a malformed port raises here
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    on_the_web = scheme == "https" or (scheme == "http" and is_loopback_host(parts.hostname))
    if not on_the_web or not parts.hostname or "@" in parts.netloc:
        return None
    return f"{scheme}://{parts.netloc}/"
