"""Delivering an authorization response in its response mode (OAuth 2.0 Multiple Response
Type Encoding Practices §2.1, Form Post Response Mode §2)."""

from __future__ import annotations

import secrets
from urllib.parse import urlencode, urlsplit, urlunsplit

from jinja2 import Environment
from starlette.responses import HTMLResponse, RedirectResponse, Response

from idplus.protocol.authorization_response import AuthorizationResponse
from idplus.ui.pages import page_headers


def authorization_response(response: AuthorizationResponse, environment: Environment) -> Response:
    if response.response_mode == "form_post":
        return _form_post(response, environment)
    return RedirectResponse(redirect_location(response), status_code=302, headers=_no_store())


def redirect_location(response: AuthorizationResponse) -> str:
    parts = urlsplit(response.redirect_uri)
    encoded = urlencode(response.params)
    if response.response_mode == "fragment":
        return urlunsplit(parts._replace(fragment=encoded))
    query = "&".join(part for part in (parts.query, encoded) if part)
    return urlunsplit(parts._replace(query=query))


def _form_post(response: AuthorizationResponse, environment: Environment) -> Response:
    nonce = secrets.token_urlsafe(16)
    body = environment.get_template("form_post.html").render(
        redirect_uri=response.redirect_uri,
        params=sorted(response.params.items()),
        csp_nonce=nonce,
    )
    return HTMLResponse(body, headers=page_headers(nonce))


def _no_store() -> dict[str, str]:
    return {"Cache-Control": "no-store", "Pragma": "no-cache"}
